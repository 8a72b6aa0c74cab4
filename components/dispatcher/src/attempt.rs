//! What one attempt of a message did ([`Outcome`]), and how attempts are logged: the
//! events that are transactions of the audit trail go there, the rest to operators' logs.

use message_store::writes::Writes;
use message_store::{self as store};
use messaging_domain::MessageId;
use messaging_domain::audit::AuditStatus;

/// What one attempt did, for the caller of `/dispatch` and for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Delivered,
    Deferred,
    Failed,
    Expired,
    /// Handed to the next cell of the message's route.
    FailedOver,
    /// A cancel holds the message, or it is already settled or unknown.
    Skipped,
    /// The store could not be read or written; the tick will retry.
    StoreError,
    /// The provider's send rate is spent; the pending entry brings it back.
    Throttled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Failed => "failed",
            Outcome::Expired => "expired",
            Outcome::FailedOver => "failed_over",
            Outcome::Skipped => "skipped",
            Outcome::StoreError => "store_error",
            Outcome::Throttled => "throttled",
        }
    }
}

pub fn log(event: &str, id: &MessageId, detail: &str) {
    let line = event_line(event, id, detail);
    match audit_status(event, detail) {
        Some(status) => store::audit::emit(status, "dispatcher", None, line),
        None => println!("{line}"),
    }
}

/// [`log`] for an event of a hand-over's outcomes: kept in the trail with the rest of
/// `writes`, and logged once they are written.
pub fn log_in(writes: &mut Writes, event: &str, id: &MessageId, detail: &str) {
    let line = event_line(event, id, detail);
    match audit_status(event, detail) {
        Some(status) => writes.trail(status, "dispatcher", None, line),
        None => println!("{line}"),
    }
}

fn event_line(event: &str, id: &MessageId, detail: &str) -> serde_json::Value {
    // Never the address or the content: ids, outcomes and provider reasons only.
    serde_json::json!({ "event": event, "id": id.as_str(), "detail": detail })
}

/// Which events are transactions of the audit trail: what happened to a message. The
/// rest (store errors, a message found in another cell's queue) are for operators' logs.
fn audit_status(event: &str, detail: &str) -> Option<AuditStatus> {
    match (event, detail) {
        ("dispatch.attempt", "sent" | "delivered") => Some(AuditStatus::Success),
        (
            "dispatch.expired"
            | "dispatch.failed"
            | "dispatch.gave_up"
            | "dispatch.fallback_undelivered",
            _,
        ) => Some(AuditStatus::Failed),
        ("dispatch.deferred" | "dispatch.failover" | "dispatch.quiet_hours", _) => {
            Some(AuditStatus::InProgress)
        }
        _ => None,
    }
}

pub fn store_error(id: &MessageId, e: store::StoreError) -> Outcome {
    log("dispatch.store_error", id, &e.to_string());
    Outcome::StoreError
}
