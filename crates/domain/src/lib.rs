//! The gateway's pure domain.
//!
//! Everything here is plain Rust with no I/O, so it is unit-tested natively in milliseconds
//! and shared by the WebAssembly components, which are thin adapters around it. Types follow
//! "parse, don't validate": a value of [`PhoneNumber`], [`EmailAddress`] or [`MessageId`]
//! exists only if it is valid, so code that holds one never checks again.

pub mod address;
pub mod api;
pub mod audit;
pub mod auth_failures;
pub mod broadcast;
pub mod callback_attempt;
pub mod callback_events;
pub mod callback_target;
pub mod caller_entries;
pub mod cap;
pub mod conversation;
pub mod counter;
pub mod delivery;
pub mod drain;
pub mod due;
pub mod email_senders;
pub mod error;
pub mod govstack;
pub mod group;
pub mod hashing;
pub mod idempotency;
pub mod inbound;
pub mod inbound_routes;
pub mod keys;
pub mod lease;
pub mod message_batch;
pub mod message_id;
pub mod notification;
pub mod policy;
pub mod policy_files;
pub mod providers;
pub mod push_subscription;
pub mod quiet_hours;
pub mod quota;
pub mod rate_limit;
pub mod receipt_url;
pub mod record;
pub mod redact;
pub mod reminders;
pub mod retry;
pub mod schedule;
pub mod sealing;
pub mod short_lived;
pub mod slot_block;
pub mod status;
pub mod template;
pub mod tokens;

pub use address::{ChatId, EmailAddress, PhoneNumber, PushSubscription, Recipient};
pub use error::{ApiError, ErrorCode};
pub use message_id::{BroadcastId, GroupId, InboundId, MessageId, NotificationId};
pub use record::MessageRecord;
pub use status::Status;

/// The channels the gateway delivers on. Mirrors `govstack-messaging:types/types.channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    /// Telegram, through a bot (the Bot API).
    Telegram,
    /// Web Push (RFC 8030) to a browser's or app's push subscription.
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Telegram => "telegram",
            Channel::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            "telegram" => Some(Channel::Telegram),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }
}
