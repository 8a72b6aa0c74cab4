//! Notifications: what the gateway tells a caller's system by HTTP callback (a reply to
//! its request, and later status changes and inbound messages), delivered at least once,
//! retried with backoff until accepted or expired, and signed.
//!
//! # The signature
//!
//! Every callback carries `X-Messaging-Signature: t=<unix seconds>,v1=<hex>` where `<hex>`
//! is HMAC-SHA256 under the owning caller's callback secret of `"<t>.<exact body bytes>"`.
//! A receiver recomputes it, compares in constant time and refuses a `t` far from its
//! clock, so a captured callback cannot be replayed later. `X-Messaging-Notification-Id`
//! stays the same across retries, so a receiver can drop a repeat.
//!
//! Each caller has its own secret ([`caller_secrets`]), derived from the deployment's
//! `callback_secret` and the caller's id: a caller who knows its own secret cannot sign a
//! callback that another caller's receiver accepts. `callback_secret` may list several
//! secrets, newest first; while it does, every callback carries one `v1=` per secret, so
//! receivers can move to the new secret at their own pace.

use crate::api::rfc3339_millis;
use crate::hashing::{keyed_hash, verify_keyed_hash};
use crate::{MessageRecord, NotificationId, Status};

pub const SIGNATURE_HEADER: &str = "x-messaging-signature";
pub const ID_HEADER: &str = "x-messaging-notification-id";
pub const EVENT_HEADER: &str = "x-messaging-event";

/// One pending callback. Its body may hold personal data (a citizen's reply), so the whole
/// notification is erased once delivered or expired.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    /// What happened, e.g. `govstack.reply`; sent as `X-Messaging-Event`.
    pub event: String,
    /// Where to POST.
    pub url: String,
    /// The JSON body, as the exact text that is signed and sent.
    pub body: String,
    /// Extra headers the receiving API expects (GovStack's `requestUid`).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The caller whose receiver this is, whose secret signs it; none for the
    /// deployment's own receivers (the Information Mediator's room) and for
    /// notifications queued before callers had secrets of their own.
    #[serde(default)]
    pub owner: Option<String>,
    pub created_ms: u64,
    /// No attempt after this time.
    pub expires_ms: u64,
}

/// The event name of a status change.
pub const MESSAGE_STATUS: &str = "message.status";

/// The body of a status-change callback for a `/v1` message: ids and the status, never the
/// address or the content. `reference` is the caller's own, echoed so it can match.
pub fn status_body(record: &MessageRecord, status: Status, at_ms: u64) -> String {
    serde_json::json!({
        "event": MESSAGE_STATUS,
        "id": record.id,
        "reference": record.reference,
        "channel": record.channel,
        "status": status.as_str(),
        "at": rfc3339_millis(at_ms),
    })
    .to_string()
}

/// The Information Mediator's Pub/Sub `PublishEvent` body (`{"eventType", "event"}`) for
/// a status change: ids and status only, as in [`status_body`].
pub fn im_status_event(record: &MessageRecord, status: Status, at_ms: u64) -> String {
    let event: serde_json::Value =
        serde_json::from_str(&status_body(record, status, at_ms)).expect("our own JSON");
    serde_json::json!({ "eventType": IM_MESSAGE_STATUS, "event": event }).to_string()
}

/// The Pub/Sub event for an inbound message: who owns it and how to fetch it, never the
/// sender or the text (a room has many subscribers; the owner reads the message itself
/// from `GET /v1/inbound` or its callback).
pub fn im_inbound_event(
    id: &crate::InboundId,
    owner: &str,
    channel: crate::Channel,
    keyword: &str,
    at_ms: u64,
) -> String {
    serde_json::json!({
        "eventType": IM_INBOUND_MESSAGE,
        "event": {
            "id": id,
            "owner": owner,
            "channel": channel,
            "keyword": keyword,
            "received_at": rfc3339_millis(at_ms),
        }
    })
    .to_string()
}

/// Event types the gateway publishes to the Information Mediator's Pub/Sub room.
pub const IM_MESSAGE_STATUS: &str = "messageStatus";
pub const IM_INBOUND_MESSAGE: &str = "inboundMessage";

/// The callback secrets of `owner`, newest first, from the deployment's `callback_secret`
/// (comma-separated, newest first): one per deployment secret, each the keyed hash of the
/// owner's id under it. Without an owner, the deployment's secrets themselves.
pub fn caller_secrets(callback_secret: &str, owner: Option<&str>) -> Vec<String> {
    callback_secret
        .split(',')
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .map(|secret| match owner {
            Some(caller) => keyed_hash(
                secret.as_bytes(),
                format!("callback-secret:{caller}").as_bytes(),
            ),
            None => secret.to_string(),
        })
        .collect()
}

/// The `X-Messaging-Signature` value for `body` sent at `unix_seconds`: one `v1=` per
/// secret, in the order given.
pub fn sign(secrets: &[String], unix_seconds: u64, body: &[u8]) -> String {
    let text = signed_text(unix_seconds, body);
    let mut header = format!("t={unix_seconds}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&keyed_hash(secret.as_bytes(), &text));
    }
    header
}

fn signed_text(unix_seconds: u64, body: &[u8]) -> Vec<u8> {
    let mut text = format!("{unix_seconds}.").into_bytes();
    text.extend_from_slice(body);
    text
}

/// A receiver's check of a signature header: one `v1=` made with its secret over the exact
/// body, sent within `tolerance_s` of `now_s`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_s: u64, tolerance_s: u64) -> bool {
    let mut timestamp = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", v)) => macs.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    let text = signed_text(t, body);
    now_s.abs_diff(t) <= tolerance_s && macs.iter().any(|mac| verify_keyed_hash(secret, &text, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_body_names_the_message_and_status_but_no_address() {
        let mut record = MessageRecord::example();
        record.reference = Some("case-42".into());
        let body: serde_json::Value =
            serde_json::from_str(&status_body(&record, Status::Delivered, 0)).unwrap();
        assert_eq!(body["event"], "message.status");
        assert_eq!(body["id"], record.id.as_str());
        assert_eq!(body["reference"], "case-42");
        assert_eq!(body["status"], "delivered");
        assert_eq!(body["at"], "1970-01-01T00:00:00.000Z");
        assert!(!body.to_string().contains(&record.recipient_hash));
    }

    #[test]
    fn im_events_follow_the_publish_event_schema_without_personal_data() {
        let record = MessageRecord::example();
        let status: serde_json::Value =
            serde_json::from_str(&im_status_event(&record, Status::Sent, 0)).unwrap();
        assert_eq!(status["eventType"], "messageStatus");
        assert_eq!(status["event"]["status"], "sent");
        let id = crate::InboundId::from_random([5; 16]);
        let inbound: serde_json::Value = serde_json::from_str(&im_inbound_event(
            &id,
            "registry",
            crate::Channel::Sms,
            "REGISTER",
            0,
        ))
        .unwrap();
        assert_eq!(inbound["eventType"], "inboundMessage");
        assert_eq!(inbound["event"]["owner"], "registry");
        assert!(inbound["event"].get("text").is_none() && inbound["event"].get("from").is_none());
    }

    #[test]
    fn each_caller_has_its_own_secret_and_none_is_the_deployment_secret() {
        let registry = caller_secrets("deployment", Some("registry"));
        let clinic = caller_secrets("deployment", Some("clinic"));
        assert_eq!(registry.len(), 1);
        assert_ne!(registry, clinic);
        assert_ne!(registry[0], "deployment");
        assert_eq!(
            caller_secrets("deployment", None),
            vec!["deployment".to_string()]
        );
        // A caller's id cannot be spelled to reach another's secret.
        assert_ne!(caller_secrets("deployment", Some("registry ")), registry);
        let body = b"{\"event\":\"message.status\"}";
        let header = sign(&registry, 1_700_000_000, body);
        assert!(verify(
            registry[0].as_bytes(),
            &header,
            body,
            1_700_000_000,
            300
        ));
        assert!(!verify(
            clinic[0].as_bytes(),
            &header,
            body,
            1_700_000_000,
            300
        ));
        assert!(!verify(b"deployment", &header, body, 1_700_000_000, 300));
    }

    #[test]
    fn during_a_rotation_both_secrets_verify() {
        let both = caller_secrets("new, old", Some("registry"));
        assert_eq!(both.len(), 2);
        assert_eq!(both[0], caller_secrets("new", Some("registry"))[0]);
        assert_eq!(both[1], caller_secrets("old", Some("registry"))[0]);
        let header = sign(&both, 1_700_000_000, b"x");
        assert_eq!(header.matches(",v1=").count(), 2);
        for secret in &both {
            assert!(verify(secret.as_bytes(), &header, b"x", 1_700_000_000, 300));
        }
    }

    #[test]
    fn a_signature_verifies_only_for_its_key_body_and_time() {
        let header = sign(&["k".to_string()], 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(b"k", &header, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(b"other", &header, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(b"k", &header, b"{\"a\":2}", 1_700_000_010, 300));
        assert!(
            !verify(b"k", &header, b"{\"a\":1}", 1_700_001_000, 300),
            "replayed too late"
        );
        assert!(!verify(
            b"k",
            "t=1700000000",
            b"{\"a\":1}",
            1_700_000_000,
            300
        ));
        assert!(!verify(b"k", "garbage", b"", 0, 300));
    }
}
