//! What the gateway stores about a message.
//!
//! Minimal data by design: the [`MessageRecord`] holds no address and no content, only a
//! keyed hash of the recipient (for look-ups and de-duplication). The address and content
//! live in a separate [`Payload`] that exists only until a provider has taken the message,
//! then is deleted.

use crate::callback_events::CallbackEvents;
use crate::{Channel, MessageId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: MessageId,
    /// The caller id that owns the message; only it may read the message.
    pub owner: String,
    pub channel: Channel,
    pub reference: Option<String>,
    pub callback_url: Option<String>,
    /// Which statuses reach `callback_url` (absent: the final one only).
    #[serde(default, skip_serializing_if = "CallbackEvents::is_final")]
    pub callback_events: CallbackEvents,
    /// The policy that planned the delivery.
    pub policy: String,
    /// The delivery cell (Spin component id) that carries the message first.
    pub cell: String,
    /// Cells tried after it, in order, when it refuses or keeps deferring the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_cells: Vec<String>,
    /// Deferrals by one cell before the next is tried.
    #[serde(default = "default_failover_after")]
    pub failover_after: u32,
    /// The channel tried when every cell of `channel` refused, and its cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackRoute>,
    /// HMAC of the recipient address under the deployment's hashing key.
    pub recipient_hash: String,
    pub created_ms: u64,
    /// After this instant an unsent message becomes `expired`.
    pub expires_ms: u64,
    /// For SMS: encoding and number of SMS (for costs; no content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<crate::providers::gsm7::Segments>,
    /// Not to be sent before this instant (`send_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at_ms: Option<u64>,
    /// The policy's retry schedule; none: the cell's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<crate::retry::Schedule>,
    /// The policy's quiet hours, and the recipient's UTC offset in minutes if the request
    /// gave one (else the deployment's `default_timezone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<crate::quiet_hours::QuietHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_min: Option<i16>,
}

#[cfg(test)]
impl MessageRecord {
    /// A record for other modules' tests.
    pub(crate) fn example() -> MessageRecord {
        MessageRecord {
            id: MessageId::from_random([1; 16]),
            owner: "dev".into(),
            channel: Channel::Sms,
            reference: None,
            callback_url: Some("https://registry.example.org/status".into()),
            callback_events: CallbackEvents::Final,
            policy: "default".into(),
            cell: "deliver-sms".into(),
            fallback_cells: Vec::new(),
            failover_after: 3,
            fallback: None,
            recipient_hash: crate::hashing::keyed_hash(b"k", b"+254712345678"),
            created_ms: 1,
            expires_ms: 2,
            segments: None,
            send_at_ms: None,
            retry: None,
            quiet_hours: None,
            utc_offset_min: None,
        }
    }
}

/// One delivery attempt, for the history in `GET /v1/messages/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The delivery cell (provider) tried.
    pub cell: String,
    /// `sent`, `delivered`, `deferred`, `refused` or `failover`.
    pub outcome: String,
    /// The provider's reason, scrubbed of addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at_ms: u64,
}

fn default_failover_after() -> u32 {
    crate::policy::DEFAULT_FAILOVER_AFTER
}

/// A fallback channel and its cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackRoute {
    pub channel: Channel,
    pub cells: Vec<String>,
    /// Also fall back when the message, once sent, is not reported delivered within this
    /// many milliseconds (or is reported undelivered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unless_delivered_within_ms: Option<u64>,
}

/// A sent message waiting for its delivery receipt, with its fallback at the ready
/// (`msg/<id>/watch`). Kept while the fallback address and the content are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryWatch {
    /// The route position of the first fallback cell.
    pub hop: usize,
    /// When the fallback is due if no receipt said `delivered`.
    pub due_ms: u64,
    /// Why the fallback happens, for the attempt history.
    pub reason: String,
    /// Whether the fallback has begun (the message is on the fallback channel now).
    #[serde(default)]
    pub fired: bool,
}

impl MessageRecord {
    /// The cell at position `hop` of the message's route: the channel's cells (0: the
    /// first), then the fallback channel's.
    pub fn cell_at(&self, hop: usize) -> Option<&str> {
        let primary = 1 + self.fallback_cells.len();
        match hop {
            0 => Some(&self.cell),
            n if n < primary => self.fallback_cells.get(n - 1).map(String::as_str),
            n => self
                .fallback
                .as_ref()
                .and_then(|f| f.cells.get(n - primary))
                .map(String::as_str),
        }
    }

    /// The route position of the first fallback cell.
    pub fn first_fallback_hop(&self) -> usize {
        1 + self.fallback_cells.len()
    }

    /// Whether position `hop` is on the fallback channel.
    pub fn is_fallback_hop(&self, hop: usize) -> bool {
        hop > self.fallback_cells.len()
    }
}

/// The readable part, kept only while the message is undelivered.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailDetails>,
    /// The address (and email subject) on the fallback channel, if the caller gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackPayload>,
}

/// The readable part of a fallback: erased with the rest of the payload.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackPayload {
    pub to: String,
    pub subject: Option<String>,
}

/// Email-only parts of a payload (mirrors `govstack-messaging:types/types.email-details`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailDetails {
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub sender_address: Option<String>,
    pub sender_name: Option<String>,
    pub recipient_name: Option<String>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Payload(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_never_carries_address_or_content() {
        let record = MessageRecord {
            id: MessageId::from_random([1; 16]),
            owner: "dev".into(),
            channel: Channel::Sms,
            reference: None,
            callback_url: None,
            callback_events: CallbackEvents::Final,
            policy: "default".into(),
            cell: "deliver-sms".into(),
            fallback_cells: vec!["deliver-sms-backup".into()],
            failover_after: 3,
            fallback: Some(FallbackRoute {
                channel: Channel::Email,
                cells: vec!["deliver-email".into()],
                unless_delivered_within_ms: None,
            }),
            recipient_hash: crate::hashing::keyed_hash(b"k", b"+254712345678"),
            created_ms: 1,
            expires_ms: 2,
            segments: None,
            send_at_ms: None,
            retry: None,
            quiet_hours: None,
            utc_offset_min: None,
        };
        assert_eq!(record.cell_at(1), Some("deliver-sms-backup"));
        assert_eq!(record.cell_at(2), Some("deliver-email"));
        assert!(record.is_fallback_hop(2) && !record.is_fallback_hop(1));
        assert_eq!(record.first_fallback_hop(), 2);
        assert_eq!(record.cell_at(3), None);
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("254712345678"));
        let payload = Payload {
            to: "+254712345678".into(),
            subject: None,
            body: "secret".into(),
            email: None,
            fallback: None,
        };
        assert!(!format!("{payload:?}").contains("secret"));
    }
}
