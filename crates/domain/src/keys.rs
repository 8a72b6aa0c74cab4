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

/// A cancel's claim on a message (`POST /v1/messages/{id}/cancel`), taken by
/// compare-and-swap from the unheld value written with the message. A cancel holds it
/// while it checks that no cell is sending the message ([`sending`]) and records the
/// cancel; a cell's drain skips a message whose claim is held.
pub fn claim(id: &MessageId) -> String {
    format!("msg/{id}/claim")
}

/// A cell's mark that it is sending the message now (`<until>/<nonce>`, as a lease's
/// value), written by the drain that holds the cell's lease before it reads the message's
/// [`claim`], and erased with the attempt's outcome. A cancel reads it after taking the
/// claim: of the two, at least one sees the other, so a message is never both cancelled
/// and sent.
pub fn sending(id: &MessageId) -> String {
    format!("msg/{id}/sending")
}

/// Maps a caller's idempotency key (hashed) to the message it created.
pub fn idempotency(caller: &str, key_hash: &str) -> String {
    format!("idem/{caller}/{key_hash}")
}

/// A request's hash (MHASH) within the duplicate window: the id of what it created.
pub fn duplicate(caller: &str, request_hash: &str) -> String {
    format!("mhash/{caller}/{request_hash}")
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

/// Names the message's provider-id mapping (`provider_message`), which cannot be found
/// from the message otherwise, so retention erases it with the message.
pub fn message_provider_mapping(id: &MessageId) -> String {
    format!("msg/{id}/pid")
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

/// How many messages `caller` has had accepted on UTC day `day` ([`crate::quota`]).
pub fn quota_count(caller: &str, day: u64) -> String {
    format!("quota/{caller}/{day}")
}

/// A sent message's delivery watch ([`crate::record::DeliveryWatch`]).
pub fn delivery_watch(id: &MessageId) -> String {
    format!("msg/{id}/watch")
}

/// How many attempts of the message's history were numbered: attempt `n` is stored under
/// [`attempt`]`(id, n)`. Numbering instead of listing keys: the key-value stores Spin
/// offers list no keys from a cursor, in no order. Written (decimal text) by the drain that
/// is sending the message ([`sending`]), which read it after its mark, so two attempts
/// never take one number; read with `counter::decode` (earlier versions incremented it).
pub fn attempt_count(id: &MessageId) -> String {
    format!("msg/{id}/attempts")
}

/// The `n`th attempt of the history, from 1, in the order they were recorded.
pub fn attempt(id: &MessageId, n: u64) -> String {
    format!("msg/{id}/attempt/{n}")
}

/// Every key a message can have besides its record ([`message`]), given how many attempts
/// its history numbered: what retention erases, found without listing keys.
pub fn message_parts(id: &MessageId, attempts: u64) -> Vec<String> {
    let mut parts = vec![
        payload(id),
        claim(id),
        sending(id),
        reply(id),
        message_provider_mapping(id),
        hop(id),
        delivery_watch(id),
        attempt_count(id),
    ];
    parts.extend(Status::ALL.iter().map(|&s| status(id, s)));
    parts.extend((1..=attempts).map(|n| attempt(id, n)));
    parts
}

/// A group's record ([`crate::group::GroupRecord`]).
pub fn group(id: &crate::GroupId) -> String {
    format!("grp/{id}")
}

/// How many members a group has.
pub fn group_count(id: &crate::GroupId) -> String {
    format!("grp/{id}/count")
}

/// The prefix of a group's members; each member is `<prefix><member hash>`, sealed.
pub fn group_members(id: &crate::GroupId) -> String {
    format!("grp/{id}/m/")
}

/// A broadcast's record ([`crate::broadcast::BroadcastRecord`]).
pub fn broadcast(id: &crate::BroadcastId) -> String {
    format!("brd/{id}")
}

/// What the broadcast says, sealed.
pub fn broadcast_content(id: &crate::BroadcastId) -> String {
    format!("brd/{id}/content")
}

/// The numbered list (`message_store::log`) of a roster's members (a group's members, or a
/// broadcast's listed recipients, under `prefix`): each slot holds a member's hash, in the
/// order they were added. Members are walked by slot, never listed; `~` cannot begin a
/// member hash (hex), so these keys never pass for a member.
pub fn roster_log(prefix: &str) -> String {
    format!("{prefix}~")
}

/// The slot a roster's member (its key, `<prefix><hash>`) took, so removing it frees it.
pub fn roster_slot_of(member_key: &str) -> String {
    format!("{member_key}/slot")
}

/// The claim on a roster's member: the request whose increment of it returns 1 added the
/// member (a claim, since compare-and-swap from absent is not atomic on every backend).
pub fn roster_claim(member_key: &str) -> String {
    format!("{member_key}/added")
}

/// The recipients a request listed, kept under the broadcast like a group's members.
pub fn broadcast_members(id: &crate::BroadcastId) -> String {
    format!("brd/{id}/m/")
}

/// The fan-out's durable cursor ([`crate::broadcast::Cursor`]).
pub fn broadcast_cursor(id: &crate::BroadcastId) -> String {
    format!("brd/{id}/cursor")
}

/// The fan-out's lease: one instance walks a broadcast's members at a time.
pub fn broadcast_lease(id: &crate::BroadcastId) -> String {
    format!("brd/{id}/lease")
}

/// Set once the broadcast is cancelled: nothing more leaves.
pub fn broadcast_cancelled(id: &crate::BroadcastId) -> String {
    format!("brd/{id}/cancelled")
}

/// A batch of recipients ([`crate::broadcast::Batch`]), sealed, erased once settled.
pub fn broadcast_batch(id: &crate::BroadcastId, seq: u64) -> String {
    format!("brd/{id}/batch/{seq:010}")
}

/// A cell's lease on a batch while it is with the sender.
pub fn broadcast_batch_claim(id: &crate::BroadcastId, seq: u64) -> String {
    format!("brd/{id}/claim/{seq:010}")
}

/// The prefix of a broadcast's per-batch tallies.
pub fn broadcast_tallies(id: &crate::BroadcastId) -> String {
    format!("brd/{id}/tally/")
}

/// The outcome counts of one batch ([`crate::broadcast::Tally`]).
pub fn broadcast_tally(id: &crate::BroadcastId, seq: u64) -> String {
    format!("brd/{id}/tally/{seq:010}")
}

/// One recipient's outcome ([`crate::broadcast::Outcome`]), keyed by its member hash.
pub fn broadcast_outcome(id: &crate::BroadcastId, member_hash: &str) -> String {
    format!("brd/{id}/r/{member_hash}")
}

/// Pending-store key of a broadcast whose members are still being batched. Emergency
/// broadcasts sort first (`0/`), so a scan meets them before bulk work (`1/`).
pub fn pending_fanout(emergency: bool, id: &crate::BroadcastId) -> String {
    format!("fanout/{}/{id}", u8::from(!emergency))
}

/// The prefix a cell scans for batches: `batch/<cell>/`, emergency first as above.
pub fn pending_batches(cell: &str) -> String {
    format!("batch/{cell}/")
}

/// Pending-store key of one batch for `cell`.
pub fn pending_batch(cell: &str, emergency: bool, id: &crate::BroadcastId, seq: u64) -> String {
    format!("batch/{cell}/{}/{id}/{seq:010}", u8::from(!emergency))
}

/// A caller's group by its name (lowercase, hashed): the group's id. CAP alerts find
/// their target groups by area names this way. The latest group of a name wins.
pub fn group_by_name(owner: &str, name: &str) -> String {
    format!(
        "grpname/{owner}/{}",
        crate::hashing::secret_digest(&name.to_lowercase())
    )
}

/// A CAP alert a caller sent (by sender and identifier, hashed): the broadcasts it started.
pub fn alert(owner: &str, sender: &str, identifier: &str) -> String {
    format!(
        "cap/{owner}/{}",
        crate::hashing::secret_digest(&format!("{sender},{identifier}"))
    )
}

/// The group citizens join with `JOIN <keyword>`: its id. One group per keyword in a
/// deployment, since a text from a phone names no caller.
pub fn group_keyword(keyword: &str) -> String {
    format!("grpkw/{keyword}")
}

/// A delivery cell's send-rate bucket (its provider's TPS, `send_rate`).
pub fn send_rate_bucket(cell: &str) -> String {
    format!("sendrate/{cell}")
}

/// How many of a broadcast's recipients a delivery receipt moved from `sent` to `status`
/// (`delivered` or `failed`).
pub fn broadcast_receipts(id: &crate::BroadcastId, status: &str) -> String {
    format!("brd/{id}/receipts/{status}")
}

/// A receipt that arrived before its recipient's outcome row (fast providers report
/// before the batch has written `sent`); the batch applies it.
pub fn broadcast_early_receipt(id: &crate::BroadcastId, member_hash: &str) -> String {
    format!("brd/{id}/early/{member_hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_s_parts_are_every_key_under_it() {
        let id = MessageId::from_random([7; 16]);
        let parts = message_parts(&id, 2);
        let under = format!("{}/", message(&id));
        assert!(parts.iter().all(|k| k.starts_with(&under)), "{parts:?}");
        for key in [
            payload(&id),
            claim(&id),
            reply(&id),
            message_provider_mapping(&id),
            hop(&id),
            delivery_watch(&id),
            attempt_count(&id),
            status(&id, Status::Delivered),
            attempt(&id, 1),
            attempt(&id, 2),
        ] {
            assert!(parts.contains(&key), "{key} is not erased with its message");
        }
        assert!(!parts.contains(&attempt(&id, 3)));
    }
}
