//! A count of the store calls the components make, by operation and by the shape of the
//! key, for finding out what a message costs: `MESSAGING_LOG=warn,messaging_host::kv=debug`
//! turns it on, and the host logs one line per kind of call at shutdown (bench/README.md,
//! "Store calls per message"). Off, it costs nothing.
//!
//! A key's shape keeps only its plain words (`msg/*/status/sent`, `q/notifier/#/n`): ids,
//! hashes, caller names with capitals or digits, and anything long become `*`, numbers `#`,
//! so no recipient, content or credential reaches the log.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Calls and keys counted so far, by operation and key shape.
#[derive(Default)]
pub struct Census {
    counts: Mutex<BTreeMap<(&'static str, String), Tally>>,
}

/// How often one kind of call was made, and the keys those calls carried in all.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub calls: u64,
    pub keys: u64,
}

impl Census {
    /// Counts one call of `op` with `keys` keys, the first of them `first_key`.
    pub fn count(&self, op: &'static str, first_key: &str, keys: usize) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let tally = counts.entry((op, shape(first_key))).or_default();
        tally.calls += 1;
        tally.keys += keys as u64;
    }

    /// Every kind of call counted, most frequent first.
    pub fn tallies(&self) -> Vec<(&'static str, String, Tally)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = counts
            .iter()
            .map(|((op, shape), tally)| (*op, shape.clone(), *tally))
            .collect();
        all.sort_by(|a, b| {
            b.2.calls
                .cmp(&a.2.calls)
                .then_with(|| (a.0, &a.1).cmp(&(b.0, &b.1)))
        });
        all
    }
}

/// The key with every segment that is not a short lowercase word masked.
fn shape(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                "#"
            } else if segment.len() <= 16
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
            {
                segment
            } else {
                "*"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_keep_words_and_mask_ids_hashes_and_numbers() {
        assert_eq!(
            shape("msg/01HZX3K9Q2W8E7R6T5Y4U3I2O1/status/sent"),
            "msg/*/status/sent"
        );
        assert_eq!(shape("q/notifier/177321/12"), "q/notifier/#/#");
        assert_eq!(
            shape("optout/sms/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            "optout/sms/*"
        );
        assert_eq!(shape("mhash/Ministry1/abc"), "mhash/*/abc");
        assert_eq!(shape("drain/deliver-sms"), "drain/deliver-sms");
    }

    #[test]
    fn calls_and_keys_are_counted_by_operation_and_shape() {
        let census = Census::default();
        census.count("get", "msg/01HZX3K9Q2W8E7R6T5Y4U3I2O1", 1);
        census.count("get", "msg/01HZX3K9Q2W8E7R6T5Y4U3I2O2", 1);
        census.count("get_many", "msg/01HZX3K9Q2W8E7R6T5Y4U3I2O2", 20);
        let tallies = census.tallies();
        assert_eq!(
            tallies,
            vec![
                ("get", "msg/*".to_string(), Tally { calls: 2, keys: 2 }),
                (
                    "get_many",
                    "msg/*".to_string(),
                    Tally { calls: 1, keys: 20 }
                ),
            ]
        );
    }
}
