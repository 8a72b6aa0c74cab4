//! The audit trail (GovStack spec 5.1.10 and 6.2.3): one entry per transaction, kept in
//! time order, with its time, source, destination, status and supplementary data, readable
//! by the operator only (`GET /v1/audit`) and erased after `audit_retention`.
//!
//! An entry is the same event a component writes to its log, so the two never disagree.
//! Like the log line, it never holds an address, a content or a credential: sources are
//! callers' ids and providers' names, destinations are delivery cells and channels, and
//! the supplementary data are ids, counts and scrubbed reasons.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where the transaction stands (the spec's success, failed, in progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    Success,
    Failed,
    InProgress,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// What happened, as in the log: `message.accepted`, `receipt.refused`, ...
    pub event: String,
    pub status: AuditStatus,
    /// Who caused it: `caller:<id>`, `provider:<name>`, or the component acting on its own.
    pub source: String,
    /// Where it went: a delivery cell, a channel, `callback`; absent when nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The rest of the event: ids, counts, reasons.
    #[serde(default)]
    pub data: Map<String, Value>,
}

impl AuditEntry {
    /// The entry for a log event (`{"event": ..., ...}`) at `at_ms`: its `event` field
    /// names it, the other fields are the supplementary data.
    pub fn from_event(
        at_ms: u64,
        status: AuditStatus,
        source: &str,
        destination: Option<&str>,
        event: &Value,
    ) -> AuditEntry {
        let mut data = event.as_object().cloned().unwrap_or_default();
        let name = match data.remove("event") {
            Some(Value::String(name)) => name,
            _ => "unnamed".to_string(),
        };
        AuditEntry {
            at: crate::api::rfc3339_millis(at_ms),
            event: name,
            status,
            source: source.to_string(),
            destination: destination.map(str::to_string),
            data,
        }
    }
}

pub const PREFIX: &str = "audit/";

/// Entries are kept by the minute they were recorded (`message_store::time_index`).
pub const MINUTE_MS: u64 = 60_000;

/// The minute an entry made at `at_ms` is kept under.
pub fn minute_of(at_ms: u64) -> u64 {
    at_ms / MINUTE_MS
}

/// Where a read stopped: the minute and the slot of the last entry it returned. Written
/// `<minute>/<slot>` in `next_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub minute: u64,
    pub slot: u64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (minute, slot) = text.split_once('/')?;
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(minute) || !digits(slot) {
            return None;
        }
        Some(Cursor {
            minute: minute.parse().ok()?,
            slot: slot.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.minute, self.slot)
    }
}

/// The time of an entry, in Unix milliseconds (from its RFC 3339 `at`).
pub fn time_of(entry: &AuditEntry) -> Option<u64> {
    crate::schedule::parse_rfc3339(&entry.at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entry_is_the_event_with_its_time_and_parties() {
        let event = json!({"event": "message.accepted", "id": "msg_1", "caller": "registry"});
        let entry = AuditEntry::from_event(
            1_764_150_000_123,
            AuditStatus::Success,
            "caller:registry",
            Some("deliver-sms"),
            &event,
        );
        assert_eq!(entry.event, "message.accepted");
        assert_eq!(entry.at, "2025-11-26T09:40:00.123Z");
        assert_eq!(entry.destination.as_deref(), Some("deliver-sms"));
        assert_eq!(entry.data["id"], "msg_1");
        assert!(!entry.data.contains_key("event"));
        let stored = serde_json::to_value(&entry).unwrap();
        assert_eq!(stored["status"], "success");
        assert_eq!(serde_json::from_value::<AuditEntry>(stored).unwrap(), entry);
    }

    #[test]
    fn entries_are_kept_by_minute_and_a_cursor_reads_back() {
        assert_eq!(minute_of(59_999), 0);
        assert_eq!(minute_of(60_000), 1);
        let cursor = Cursor {
            minute: 29_400_000,
            slot: 12,
        };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        for bad in ["", "12", "a/1", "1/", "/1", "../../msg", "1/2/3", "1/-2"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_entry_s_time_is_read_from_its_at() {
        let entry = AuditEntry::from_event(
            1_764_150_000_123,
            AuditStatus::Success,
            "sweeper",
            None,
            &json!({"event": "sweep.erased"}),
        );
        assert_eq!(time_of(&entry), Some(1_764_150_000_123));
    }
}
