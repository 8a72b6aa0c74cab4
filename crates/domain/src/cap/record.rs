//! What the store keeps under a CAP alert's identity (`keys::alert`: caller, sender and
//! identifier), and when the sweeper may erase it.
//!
//! The identity answers a repeat of the alert with the first answer, and lets an Update or
//! Cancel find the broadcasts it replaces. Both stop mattering once those broadcasts are
//! gone: the sweeper erases a broadcast `retention` after its validity ends, and the
//! identity at the same time (`until_ms` is the latest end of validity of its broadcasts).

use crate::BroadcastId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum AlertRecord {
    /// Being accepted by a request in flight since `at` (Unix ms).
    Pending { at: u64 },
    /// Sent: its broadcasts, valid until `until_ms` at the latest.
    Sent {
        broadcasts: Vec<BroadcastId>,
        emergency: bool,
        until_ms: u64,
    },
    /// A Cancel, recorded at `until_ms`: the broadcasts it stopped.
    Cancel {
        cancelled: Vec<BroadcastId>,
        until_ms: u64,
    },
}

impl AlertRecord {
    /// Whether a stored identity is past use at the retention cut-off `cutoff` (Unix ms,
    /// now minus retention). A value that does not read is kept.
    pub fn past_use(value: &[u8], _now: u64, cutoff: u64) -> bool {
        match serde_json::from_slice::<AlertRecord>(value) {
            // A request that crashed while accepting the alert.
            Ok(AlertRecord::Pending { at }) => at < cutoff,
            Ok(AlertRecord::Sent { until_ms, .. } | AlertRecord::Cancel { until_ms, .. }) => {
                until_ms < cutoff
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(record: &AlertRecord) -> Vec<u8> {
        serde_json::to_vec(record).unwrap()
    }

    #[test]
    fn an_alert_is_past_use_retention_after_its_broadcasts_end() {
        let sent = stored(&AlertRecord::Sent {
            broadcasts: vec![],
            emergency: true,
            until_ms: 5_000,
        });
        assert!(!AlertRecord::past_use(&sent, 9_000, 5_000));
        assert!(AlertRecord::past_use(&sent, 9_000, 5_001));
        let cancel = stored(&AlertRecord::Cancel {
            cancelled: vec![],
            until_ms: 7,
        });
        assert!(AlertRecord::past_use(&cancel, 9_000, 8));
        let pending = stored(&AlertRecord::Pending { at: 100 });
        assert!(AlertRecord::past_use(&pending, 9_000, 101));
        assert!(!AlertRecord::past_use(&pending, 9_000, 100));
    }

    #[test]
    fn an_unreadable_value_is_kept() {
        assert!(!AlertRecord::past_use(
            b"{\"state\":\"sent\"}",
            9_999,
            9_999
        ));
        assert!(!AlertRecord::past_use(b"garbage", 9_999, 9_999));
    }
}
