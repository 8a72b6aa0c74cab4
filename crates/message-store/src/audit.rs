//! The audit trail in the store (`messaging_domain::audit`): each event a component logs
//! as a transaction is also kept under `audit/<time>/<nonce>` in the default store, so the
//! operator can read a time range (`GET /v1/audit`) and the sweeper can erase what is
//! older than `audit_retention` from the front of the listing.

use crate::many::delete_many;
use crate::many::get_many;
use crate::{StoreResult, now_ms, page, random_16};
use messaging_domain::audit::{self, AuditEntry, AuditStatus};
use spin_sdk::experimental::wasi::keyvalue::store as wkv;

/// Logs `event` (one JSON line on stdout, as every component's events) and keeps it in the
/// trail. A trail that cannot be written is reported on stderr and does not fail the
/// transaction: the message it describes matters more than its record.
pub fn emit(
    status: AuditStatus,
    source: &str,
    destination: Option<&str>,
    event: serde_json::Value,
) {
    let event = Event::new(status, source, destination, event);
    let (key, stored) = event.row();
    let written = wkv::open("default").and_then(|b| b.set(&key, &stored));
    event.log();
    if let Err(e) = written {
        eprintln!(
            "{}",
            serde_json::json!({"event": "audit.store_error", "detail": format!("{e:?}")})
        );
    }
}

/// An event made ready for the trail without writing it, for a transaction that folds its
/// row into its own `set-many` (one store call instead of two) and logs it once that
/// write succeeded: the trail and the log then never tell of a write that failed.
pub struct Event {
    line: serde_json::Value,
    key: String,
    stored: Vec<u8>,
}

impl Event {
    pub fn new(
        status: AuditStatus,
        source: &str,
        destination: Option<&str>,
        event: serde_json::Value,
    ) -> Event {
        let at = now_ms();
        let entry = AuditEntry::from_event(at, status, source, destination, &event);
        let nonce = hex::encode(&random_16()[..8]);
        Event {
            key: audit::key(at, &nonce),
            stored: serde_json::to_vec(&entry).expect("entries serialise"),
            line: event,
        }
    }

    /// The trail's row: key and stored entry.
    pub fn row(&self) -> (String, Vec<u8>) {
        (self.key.clone(), self.stored.clone())
    }

    /// Prints the event's log line.
    pub fn log(self) {
        println!("{}", self.line);
    }
}

/// `caller:<id>`, the source of what a caller asked for.
pub fn caller(id: &str) -> String {
    format!("caller:{id}")
}

/// `provider:<name>`, the source of what a provider told us.
pub fn provider(name: &str) -> String {
    format!("provider:{name}")
}

/// Up to `limit` entries from `from_ms` on (or after `after`, a cursor returned
/// earlier), in time order, none later than `until_ms`. Also returns the cursor to continue
/// from when there may be more.
pub fn read(
    from_ms: u64,
    after: Option<&str>,
    until_ms: u64,
    limit: usize,
) -> StoreResult<(Vec<AuditEntry>, Option<String>)> {
    let bucket = wkv::open("default")?;
    let mut cursor = Some(format!(
        "{}{}",
        audit::PREFIX,
        after
            .map(str::to_string)
            .unwrap_or_else(|| audit::cursor_before(from_ms))
    ));
    let mut keys = Vec::new();
    let mut more = false;
    'listing: while let Some(from) = cursor.take() {
        let listed = bucket.list_keys(Some(&from))?;
        for key in listed.keys {
            // Keys list in time order: past the prefix or past `until_ms`, the range is done.
            let Some(at) = key.strip_prefix(audit::PREFIX).and_then(audit::time_of) else {
                break 'listing;
            };
            if at > until_ms {
                break 'listing;
            }
            if keys.len() == limit {
                more = true;
                break 'listing;
            }
            keys.push(key);
        }
        cursor = listed.cursor;
    }
    let next = more
        .then(|| keys.last().map(|k| k[audit::PREFIX.len()..].to_string()))
        .flatten();
    let entries = get_many("default", keys)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v?).ok())
        .collect();
    Ok((entries, next))
}

/// Erases up to `limit` entries older than `cutoff_ms`, oldest first. Returns how many.
pub fn sweep(cutoff_ms: u64, limit: usize) -> StoreResult<usize> {
    let old = page("default", audit::PREFIX, None, limit, |rest| {
        Some(rest.to_string())
    })?
    .into_iter()
    .take_while(|rest| audit::time_of(rest).is_some_and(|at| at < cutoff_ms))
    .map(|rest| format!("{}{rest}", audit::PREFIX))
    .collect::<Vec<_>>();
    delete_many("default", &old)?;
    Ok(old.len())
}
