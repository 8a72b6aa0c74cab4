//! Two-way exchanges: a reminder that waits for an answer, the answer recorded on it, and
//! inbound messages kept for the government system that owns them.
//!
//! The link between a reminder and its answer is the recipient: SMS has no thread, so the
//! reminders waiting for an answer from an address (per channel, one per caller:
//! [`crate::reminders`]) are kept under a key named by the keyed hash of the address
//! ([`crate::keys::conversation`]), never the address itself, and a reply goes to the
//! reminder it answers.

use crate::api::rfc3339_millis;
use crate::error::{ApiError, ErrorCode};
use crate::policy::parse_duration;
use crate::{Channel, MessageId, NotificationId};
use serde::{Deserialize, Serialize};

pub const MAX_OPTIONS: usize = 10;
pub const MAX_OPTION_CHARS: usize = 32;

/// `expects_reply` of `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectsReply {
    pub options: Vec<String>,
    pub expires_in_seconds: u64,
    /// Whether a reply that matches no option is still this reminder's (and goes to its
    /// owner as an inbound message) rather than following the keyword routes.
    pub free_text: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectsReplyBody {
    options: Vec<String>,
    expires_in: String,
    #[serde(default)]
    free_text: bool,
}

impl ExpectsReply {
    pub(crate) fn parse(raw: ExpectsReplyBody) -> Result<ExpectsReply, ApiError> {
        let invalid = |m: &str| ApiError::new(ErrorCode::InvalidRequest, m);
        if raw.options.is_empty() || raw.options.len() > MAX_OPTIONS {
            return Err(invalid("expects_reply.options must list 1 to 10 answers"));
        }
        for option in &raw.options {
            let word = crate::inbound::normalize_word(option);
            if word.is_empty()
                || option.chars().count() > MAX_OPTION_CHARS
                || option.split_whitespace().count() != 1
                || word.parse::<u64>().is_ok()
            {
                return Err(invalid(
                    "each expects_reply option must be one word of at most 32 characters, not a number",
                ));
            }
        }
        let expires_in_seconds = parse_duration(&raw.expires_in).ok_or_else(|| {
            invalid("expects_reply.expires_in must look like 90s, 15m, 48h or 7d")
        })?;
        Ok(ExpectsReply {
            options: raw.options,
            expires_in_seconds,
            free_text: raw.free_text,
        })
    }

    /// Refuses a wait longer than the policy allows (`reply_wait_max`): a reminder that
    /// waits for weeks would keep a citizen's replies from the keyword routes for weeks.
    pub fn within(&self, max_seconds: u64) -> Result<(), ApiError> {
        if self.expires_in_seconds > max_seconds {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "expects_reply.expires_in may be at most {} under this policy",
                    crate::policy::format_duration(max_seconds)
                ),
            ));
        }
        Ok(())
    }
}

/// The reminder waiting for an answer from one address on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub message_id: MessageId,
    pub owner: String,
    pub callback_url: Option<String>,
    pub options: Vec<String>,
    pub expires_ms: u64,
    /// The `message.unconfirmed` notification due at expiry; cancelled by an answer.
    pub unconfirmed: Option<NotificationId>,
    /// Whether text matching no option is still a reply to this reminder.
    #[serde(default)]
    pub free_text: bool,
}

/// The answer recorded on a reminder (`msg/<id>/reply`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyRecord {
    pub answer: String,
    pub at_ms: u64,
}

/// An inbound message kept for its owner until the owner's callback took it or the owner
/// deleted it after polling. It holds the sender's address and text: the owner needs both.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRecord {
    pub id: crate::message_id::InboundId,
    pub channel: Channel,
    pub from: String,
    pub text: String,
    pub keyword: String,
    pub in_reply_to: Option<MessageId>,
    pub received_ms: u64,
}

impl std::fmt::Debug for InboundRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InboundRecord({}, <redacted>)", self.id)
    }
}

impl InboundRecord {
    /// The JSON the owner reads (`GET /v1/inbound`, and the `inbound.message` callback).
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "channel": self.channel,
            "from": self.from,
            "text": self.text,
            "keyword": self.keyword,
            "in_reply_to": self.in_reply_to,
            "received_at": rfc3339_millis(self.received_ms),
        })
    }
}

/// Body of the `message.reply` callback: the answer to a reminder.
pub fn reply_body(
    message_id: &MessageId,
    reference: Option<&str>,
    answer: &str,
    at_ms: u64,
) -> String {
    serde_json::json!({
        "event": "message.reply",
        "id": message_id,
        "reference": reference,
        "answer": answer,
        "at": rfc3339_millis(at_ms),
    })
    .to_string()
}

/// Body of the `message.unconfirmed` callback: no answer before expiry.
pub fn unconfirmed_body(
    message_id: &MessageId,
    reference: Option<&str>,
    expires_ms: u64,
) -> String {
    serde_json::json!({
        "event": "message.unconfirmed",
        "id": message_id,
        "reference": reference,
        "at": rfc3339_millis(expires_ms),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<ExpectsReply, ApiError> {
        ExpectsReply::parse(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn options_and_expiry_parse() {
        let e = parse(serde_json::json!({"options": ["YES", "NO"], "expires_in": "48h"})).unwrap();
        assert_eq!(e.options, ["YES", "NO"]);
        assert_eq!(e.expires_in_seconds, 48 * 3600);
    }

    #[test]
    fn bad_options_or_expiry_are_refused() {
        for bad in [
            serde_json::json!({"options": [], "expires_in": "48h"}),
            serde_json::json!({"options": ["two words"], "expires_in": "48h"}),
            serde_json::json!({"options": ["1"], "expires_in": "48h"}),
            serde_json::json!({"options": ["YES"], "expires_in": "soon"}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_inbound_record_hides_its_text_from_debug() {
        let record = InboundRecord {
            id: crate::message_id::InboundId::from_random([3; 16]),
            channel: Channel::Sms,
            from: "+254712345678".into(),
            text: "my child is sick".into(),
            keyword: "MY".into(),
            in_reply_to: None,
            received_ms: 0,
        };
        let debug = format!("{record:?}");
        assert!(!debug.contains("254712345678") && !debug.contains("sick"));
        assert_eq!(record.view()["from"], "+254712345678");
    }
}
