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

/// The key of an entry made at `at_ms`: time first, so keys list in time order; `nonce`
/// keeps two entries of one millisecond apart.
pub fn key(at_ms: u64, nonce: &str) -> String {
    format!("{PREFIX}{at_ms:013}/{nonce}")
}

pub const PREFIX: &str = "audit/";

/// The time an entry's key (without the prefix) carries.
pub fn time_of(rest: &str) -> Option<u64> {
    rest.split('/').next()?.parse().ok()
}

/// The listing cursor that starts just before `at_ms` (keys of that millisecond included).
pub fn cursor_before(at_ms: u64) -> String {
    format!("{:013}", at_ms.saturating_sub(1)) + "/\u{10FFFF}"
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
    fn keys_list_in_time_order_and_a_cursor_starts_at_its_millisecond() {
        let early = key(999, "ff");
        let late = key(1_000, "00");
        assert!(early < late, "{early} {late}");
        assert_eq!(time_of(late.strip_prefix(PREFIX).unwrap()), Some(1_000));
        let cursor = format!("{PREFIX}{}", cursor_before(1_000));
        assert!(early <= cursor && cursor < late, "{cursor}");
        assert!(cursor > key(999, "ffffffffffffffff"));
    }
}
