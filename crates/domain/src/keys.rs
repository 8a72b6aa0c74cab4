//! The key-value layout, in one place so every component agrees on it.
//!
//! No key contains an address or content in clear: recipients appear only as keyed hashes,
//! idempotency keys only as hashes.

use crate::{MessageId, Status};

/// The immutable part of a message ([`crate::MessageRecord`]).
pub fn message(id: &MessageId) -> String {
    format!("msg/{id}")
}

/// What leaves with the message (address, subject, body); erased once the provider has it.
pub fn payload(id: &MessageId) -> String {
    format!("msg/{id}/payload")
}

/// One key per status reached; the value is the time (Unix milliseconds) it was reached.
pub fn status(id: &MessageId, status: Status) -> String {
    format!("msg/{id}/status/{}", status.as_str())
}

/// The dispatcher's lease on a message while it is with a sender.
pub fn claim(id: &MessageId) -> String {
    format!("msg/{id}/claim")
}

/// Maps a caller's idempotency key (hashed) to the message it created.
pub fn idempotency(caller: &str, key_hash: &str) -> String {
    format!("idem/{caller}/{key_hash}")
}

/// A GovStack email request (`requestUid`) of a caller: the messages it created.
pub fn govstack_request(caller: &str, request_uid: &str) -> String {
    format!("govstack/request/{caller}/{request_uid}")
}

/// A reply to a GovStack email request, kept until it reaches the request's callback.
pub fn govstack_reply(caller: &str, request_uid: &str, reply_id: &str) -> String {
    format!("govstack/reply/{caller}/{request_uid}/{reply_id}")
}

/// A notification waiting for its callback to accept it ([`crate::notification`]).
pub fn notification(id: &crate::NotificationId) -> String {
    format!("ntf/{id}")
}

/// The notifier's lease on a notification while it is being delivered.
pub fn notification_claim(id: &crate::NotificationId) -> String {
    format!("ntf/{id}/claim")
}

/// Set while a citizen has opted out (STOP) of non-emergency messages on a channel; the
/// recipient appears only as its keyed hash.
pub fn opt_out(channel: crate::Channel, recipient_hash: &str) -> String {
    format!("optout/{}/{recipient_hash}", channel.as_str())
}

/// The reminder waiting for an answer from a recipient on a channel
/// ([`crate::conversation::Conversation`]).
pub fn conversation(channel: crate::Channel, recipient_hash: &str) -> String {
    format!("conv/{}/{recipient_hash}", channel.as_str())
}

/// The answer recorded on a reminder.
pub fn reply(id: &MessageId) -> String {
    format!("msg/{id}/reply")
}

/// An inbound message kept for its owner (`GET /v1/inbound`).
pub fn inbound(owner: &str, id: &crate::InboundId) -> String {
    format!("inbound/{owner}/{id}")
}

/// The prefix of every inbound message kept for `owner`.
pub fn inbound_prefix(owner: &str) -> String {
    format!("inbound/{owner}/")
}

/// Maps a provider's own message id (namespaced by its sender: `africastalking:ATXid_...`)
/// to ours, for providers whose delivery reports name only their id. Hashed, so any id is
/// a safe key.
pub fn provider_message(namespaced_id: &str) -> String {
    format!("pid/{}", crate::hashing::secret_digest(namespaced_id))
}

/// Which cell of its route carries the message now (its position, absent for the first).
/// Written only by the dispatcher that holds the message's claim.
pub fn hop(id: &MessageId) -> String {
    format!("msg/{id}/hop")
}

/// A caller's rate-limit bucket ([`crate::rate_limit::Bucket`]).
pub fn rate_bucket(caller: &str) -> String {
    format!("rate/{caller}")
}

/// A sent message's delivery watch ([`crate::record::DeliveryWatch`]).
pub fn delivery_watch(id: &MessageId) -> String {
    format!("msg/{id}/watch")
}

/// The prefix of a message's attempt history.
pub fn attempts_prefix(id: &MessageId) -> String {
    format!("msg/{id}/attempt/")
}

/// One attempt of the history: keys sort by time (zero-padded milliseconds).
pub fn attempt(id: &MessageId, at_ms: u64, cell: &str) -> String {
    format!("msg/{id}/attempt/{at_ms:016}-{cell}")
}
