//! Broadcasts: one request, many recipients (a group or a list).
//!
//! A broadcast is not stored as one message per recipient: that would cost several writes
//! per recipient before the first leaves. Instead the fan-out walks the members page by
//! page behind a durable [`Cursor`], turning each page into sealed [`Batch`]es, one per
//! channel, that a delivery cell sends in one go. Each recipient's outcome is one small
//! row ([`Outcome`]) and each batch keeps a [`Tally`], so progress is a sum of tallies.

use crate::api::{
    TemplateRef, TemplateRefBody, check_subject, check_text, invalid, is_policy_name,
};
use crate::error::{ApiError, ErrorCode};
use crate::group::{Language, Member, MemberBody, parse_json, parse_member_list};
use crate::template::Rendered;
use crate::{BroadcastId, Channel, GroupId, MessageId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Members read, sealed and handed to a cell per batch: large enough that a 1,000,000
/// member group is 2,000 batches, small enough that a batch is one short instance.
pub const BATCH_SIZE: usize = 500;

/// Who a broadcast reaches.
#[derive(Debug, Clone)]
pub enum Audience {
    Group(GroupId),
    /// Listed in the request (at most [`crate::group::MAX_MEMBERS_PER_REQUEST`]).
    Recipients(Vec<Member>),
}

/// A validated `POST /v1/broadcasts`.
#[derive(Debug, Clone)]
pub struct BroadcastCommand {
    pub audience: Audience,
    pub subject: Option<String>,
    /// Empty when the request names a template instead.
    pub body: String,
    pub template: Option<TemplateRef>,
    pub policy: Option<String>,
    pub reference: Option<String>,
    /// When to start; none: now. Broadcasts do not repeat.
    pub send_at_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastBody {
    group: Option<String>,
    recipients: Option<Vec<MemberBody>>,
    body: Option<String>,
    template: Option<TemplateRefBody>,
    subject: Option<String>,
    policy: Option<String>,
    reference: Option<String>,
    send_at: Option<String>,
}

impl BroadcastCommand {
    pub fn parse(bytes: &[u8]) -> Result<BroadcastCommand, ApiError> {
        let raw: BroadcastBody = parse_json(
            bytes,
            "the broadcast schema ({\"group\"} or {\"recipients\"}, \"body\")",
        )?;
        let audience = match (raw.group, raw.recipients) {
            (Some(group), None) => Audience::Group(
                GroupId::parse(&group)
                    .ok_or_else(|| invalid("group must be a group id (grp_...)"))?,
            ),
            (None, Some(list)) => Audience::Recipients(parse_member_list(&list)?),
            _ => return Err(invalid("give exactly one of group and recipients")),
        };
        let (body, template) = match (raw.body, raw.template) {
            (Some(body), None) => {
                check_broadcast_text(raw.subject.as_deref(), &body)?;
                (body, None)
            }
            (None, Some(template)) if raw.subject.is_none() => {
                (String::new(), Some(TemplateRef::parse(template)?))
            }
            (None, Some(_)) => return Err(invalid("subject comes from the template")),
            _ => return Err(invalid("give exactly one of body and template")),
        };
        if let Some(policy) = &raw.policy
            && !is_policy_name(policy)
        {
            return Err(invalid(
                "policy must be a name of lowercase letters, digits and hyphens",
            ));
        }
        if let Some(reference) = &raw.reference
            && (reference.is_empty()
                || reference.chars().count() > crate::api::MAX_REFERENCE_CHARS
                || reference.chars().any(char::is_control))
        {
            return Err(invalid("reference must have 1 to 128 printable characters"));
        }
        Ok(BroadcastCommand {
            audience,
            subject: raw.subject,
            body,
            template,
            policy: raw.policy,
            reference: raw.reference,
            send_at_ms: crate::schedule::Schedule::parse(raw.send_at.as_deref(), None)?
                .map(|s| s.send_at_ms),
        })
    }
}

/// A broadcast text may reach SMS members: it must fit what one SMS message may take, and
/// its subject must be one line.
pub fn check_broadcast_text(subject: Option<&str>, body: &str) -> Result<(), ApiError> {
    check_text(Channel::Sms, None, body)?;
    if let Some(subject) = subject {
        check_subject(subject)?;
    }
    Ok(())
}

/// Checks every rendered variant of a broadcast's template.
pub fn check_rendered(rendered: &Rendered) -> Result<(), ApiError> {
    for (language, text) in &rendered.variants {
        check_broadcast_text(text.subject.as_deref(), &text.body).map_err(|e| {
            ApiError::new(
                e.code,
                format!("template variant {}: {}", language.as_str(), e.message),
            )
        })?;
    }
    Ok(())
}

/// The immutable part of a broadcast.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BroadcastRecord {
    pub id: BroadcastId,
    pub owner: String,
    pub policy: String,
    /// Emergency work overtakes everything queued.
    pub emergency: bool,
    /// None: the recipients were listed in the request and are kept under the broadcast.
    pub group: Option<GroupId>,
    /// The delivery cell per channel, as the policy planned it at acceptance. Members on
    /// a channel the policy does not offer are counted `failed`.
    pub cells: BTreeMap<Channel, String>,
    pub created_ms: u64,
    pub expires_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Not to start before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at_ms: Option<u64>,
    /// The policy's quiet hours (recipients in them wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<crate::quiet_hours::QuietHours>,
    /// For a group broadcast under a counted policy: the members charged to the owner's
    /// daily quota at acceptance (the group's size then). The fan-out charges every
    /// member it finds beyond them ([`crate::quota::fanout_owed`]). None: nothing is
    /// charged at fan-out (listed recipients, emergency policies, older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charged: Option<u64>,
}

/// What the broadcast says (sealed at rest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Content {
    pub subject: Option<String>,
    pub body: String,
    /// A template's variants; then `subject` and `body` are unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<Rendered>,
}

impl Content {
    /// The subject and body for a recipient's language.
    pub fn text_for(&self, language: Option<&Language>) -> (Option<&str>, &str) {
        match &self.rendered {
            Some(rendered) => {
                let text = rendered.for_language(language);
                (text.subject.as_deref(), &text.body)
            }
            None => (self.subject.as_deref(), &self.body),
        }
    }
}

/// How far the fan-out has walked the members. Written by compare-and-swap only after the
/// page's batches are stored, so a fan-out that dies re-creates the same batches (same
/// sequence numbers, same keys) and never skips or doubles a member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Sequence number of the next batch.
    pub next_seq: u64,
    /// The last roster slot already batched (0: none); members are walked by slot.
    #[serde(default)]
    pub after_slot: u64,
    pub done: bool,
    /// Members batched so far.
    pub total: u64,
    /// Members on a channel the policy does not offer (failed at fan-out).
    pub unroutable: u64,
    /// The walk stopped at a cancel before reaching the last member.
    #[serde(default)]
    pub cut_short: bool,
    /// The walk stopped because the owner's daily quota had no room for the next page:
    /// the members after it were not sent to.
    #[serde(default)]
    pub over_quota: bool,
}

/// One recipient in a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRecipient {
    /// The member's keyed hash (its outcome row is keyed by it).
    pub hash: String,
    #[serde(flatten)]
    pub member: crate::group::StoredMember,
}

/// Up to [`BATCH_SIZE`] recipients on one channel, for one cell (sealed at rest; erased
/// once every recipient in it has an outcome).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    pub channel: Channel,
    pub cell: String,
    pub recipients: Vec<BatchRecipient>,
}

/// A recipient's outcome, one row each: `"<status> <unix ms>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Delivered,
    Failed,
    Expired,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Expired => "expired",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub fn encode(self, at_ms: u64) -> String {
        format!("{} {at_ms}", self.as_str())
    }

    /// The row of a recipient a delivery receipt moved from `sent`: the move is counted
    /// apart (`keys::broadcast_receipts`), so a batch tally counts such a row as `sent`.
    pub fn encode_by_receipt(self, at_ms: u64) -> String {
        format!("{} {at_ms} receipt", self.as_str())
    }

    /// How a batch tally counts a stored row: as its outcome, or as `sent` when a receipt
    /// moved it ([`Outcome::encode_by_receipt`]).
    pub fn tallied(bytes: &[u8]) -> Option<Outcome> {
        let outcome = Outcome::decode(bytes)?;
        Some(if bytes.ends_with(b" receipt") {
            Outcome::Sent
        } else {
            outcome
        })
    }

    pub fn decode(bytes: &[u8]) -> Option<Outcome> {
        let text = std::str::from_utf8(bytes).ok()?;
        Some(match text.split(' ').next()? {
            "sent" => Outcome::Sent,
            "delivered" => Outcome::Delivered,
            "failed" => Outcome::Failed,
            "expired" => Outcome::Expired,
            "cancelled" => Outcome::Cancelled,
            _ => return None,
        })
    }
}

/// Outcomes of one batch (or of a whole broadcast, summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
    pub expired: u64,
    pub cancelled: u64,
}

impl Tally {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Delivered => self.delivered += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Expired => self.expired += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }

    pub fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.expired += other.expired;
        self.cancelled += other.cancelled;
    }

    pub fn settled(&self) -> u64 {
        self.sent + self.delivered + self.failed + self.expired + self.cancelled
    }
}

/// `GET /v1/broadcasts/{id}`: progress, counts per status.
#[derive(Debug, Serialize)]
pub struct BroadcastView {
    pub id: BroadcastId,
    /// `queued` (members still being batched), `sending`, `done` or `cancelled`.
    pub state: &'static str,
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Recipients found so far (final once `state` is not `queued`).
    pub recipients: u64,
    /// When it is scheduled to start (`send_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// Why the walk stopped before the group's last member: `quota_exceeded` (the
    /// owner's daily quota had no room for more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<&'static str>,
    pub counts: Counts,
    pub created_at: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub sent: u64,
    pub delivered: u64,
    pub failed: u64,
    pub expired: u64,
    pub cancelled: u64,
}

/// Recipients batched whose outcome is not known yet.
fn unsettled(cursor: &Cursor, tally: &Tally) -> u64 {
    cursor
        .total
        .saturating_sub(tally.settled() + cursor.unroutable)
}

/// A broadcast's state as its view shows it: `queued`, `sending`, `done` or `cancelled`.
pub fn state(cursor: &Cursor, tally: &Tally, cancelled: bool) -> &'static str {
    let queued = unsettled(cursor, tally);
    // Cancelling a broadcast that had reached everyone changes nothing: it is done.
    if cancelled && queued == 0 && (tally.cancelled > 0 || cursor.cut_short) {
        "cancelled"
    } else if !cursor.done {
        "queued"
    } else if queued > 0 {
        "sending"
    } else {
        "done"
    }
}

/// Whether retention may start erasing the broadcast at `now_ms`.
///
/// Once it is settled (`done` or `cancelled`) and `retention_ms` past its validity. A
/// broadcast still sending then (its last batches not yet claimed and expired) is kept:
/// erasing under a batch in flight would leave behind the provider-id mappings that batch
/// writes afterwards. One more `retention_ms` later it goes whatever its state, so that a
/// broadcast whose cells never settle it is not kept for ever.
pub fn erasable(
    record: &BroadcastRecord,
    progress: (&Cursor, &Tally, bool),
    now_ms: u64,
    retention_ms: u64,
) -> bool {
    let (cursor, tally, cancelled) = progress;
    let retained_until = record.expires_ms.saturating_add(retention_ms);
    let settled = matches!(state(cursor, tally, cancelled), "done" | "cancelled");
    (settled && now_ms >= retained_until) || now_ms >= retained_until.saturating_add(retention_ms)
}

impl BroadcastView {
    pub fn new(record: &BroadcastRecord, cursor: &Cursor, tally: &Tally, cancelled: bool) -> Self {
        let queued = unsettled(cursor, tally);
        let state = state(cursor, tally, cancelled);
        BroadcastView {
            id: record.id.clone(),
            state,
            policy: record.policy.clone(),
            group: record.group.clone(),
            reference: record.reference.clone(),
            recipients: cursor.total,
            send_at: record.send_at_ms.map(crate::api::rfc3339_millis),
            stopped: cursor.over_quota.then_some("quota_exceeded"),
            counts: Counts {
                queued,
                sent: tally.sent,
                delivered: tally.delivered,
                failed: tally.failed + cursor.unroutable,
                expired: tally.expired,
                cancelled: tally.cancelled,
            },
            created_at: crate::api::rfc3339_millis(record.created_ms),
        }
    }
}

/// The message id a recipient's copy carries to the provider: derived from the broadcast
/// and the member, so a retried batch presents the same id again (providers and their
/// doubles can recognise a repeat).
pub fn recipient_message_id(broadcast: &BroadcastId, member_hash: &str) -> MessageId {
    let digest = Sha256::digest(format!("{broadcast}/{member_hash}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    MessageId::from_random(bytes)
}

/// A batch as its pending-store entry names it (`<0|1>/<broadcast>/<seq>`, under
/// `batch/<cell>/`): emergency first in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef {
    pub emergency: bool,
    pub broadcast: BroadcastId,
    pub seq: u64,
    text: String,
}

impl BatchRef {
    pub fn new(emergency: bool, broadcast: BroadcastId, seq: u64) -> BatchRef {
        let text = format!("{}/{broadcast}/{seq:010}", u8::from(!emergency));
        BatchRef {
            emergency,
            broadcast,
            seq,
            text,
        }
    }

    pub fn parse(text: &str) -> Option<BatchRef> {
        let mut parts = text.split('/');
        let emergency = match parts.next()? {
            "0" => true,
            "1" => false,
            _ => return None,
        };
        let broadcast = BroadcastId::parse(parts.next()?)?;
        let seq = parts.next()?.parse().ok()?;
        parts
            .next()
            .is_none()
            .then(|| BatchRef::new(emergency, broadcast, seq))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for BatchRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A broadcast still being fanned out, as its pending-store entry names it
/// (`<0|1>/<broadcast>` under `fanout/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanoutRef {
    pub broadcast: BroadcastId,
    text: String,
}

impl FanoutRef {
    /// The fan-out of `broadcast`; emergency ones sort first.
    pub fn new(emergency: bool, broadcast: BroadcastId) -> FanoutRef {
        let text = format!("{}/{broadcast}", u8::from(!emergency));
        FanoutRef { broadcast, text }
    }

    pub fn parse(text: &str) -> Option<FanoutRef> {
        let (priority, id) = text.split_once('/')?;
        if !matches!(priority, "0" | "1") {
            return None;
        }
        Some(FanoutRef {
            broadcast: BroadcastId::parse(id)?,
            text: text.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for FanoutRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a provider-id mapping (`keys::provider_message`) holds for a broadcast recipient:
/// `b/<broadcast>/<member hash>` (a single message's mapping holds its message id).
pub fn recipient_ref(broadcast: &BroadcastId, member_hash: &str) -> String {
    format!("b/{broadcast}/{member_hash}")
}

/// Reads [`recipient_ref`].
pub fn parse_recipient_ref(text: &str) -> Option<(BroadcastId, String)> {
    let rest = text.strip_prefix("b/")?;
    let (broadcast, hash) = rest.split_once('/')?;
    let ok = hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    Some((BroadcastId::parse(broadcast)?, hash.to_string())).filter(|_| ok)
}

impl Tally {
    /// Folds in delivery receipts that arrived after the batches' tallies: each moved a
    /// recipient from `sent` to `delivered` or `failed`.
    pub fn with_receipts(mut self, delivered: u64, failed: u64) -> Tally {
        let moved = (delivered + failed).min(self.sent);
        self.sent -= moved;
        self.delivered += delivered;
        self.failed += failed;
        self
    }
}

/// Refuses what no caller may see: the store error text stays in the logs.
pub fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such broadcast")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> BroadcastRecord {
        BroadcastRecord {
            id: BroadcastId::from_random([1; 16]),
            owner: "health".into(),
            policy: "default".into(),
            emergency: false,
            group: None,
            cells: BTreeMap::from([(Channel::Sms, "deliver-sms".to_string())]),
            created_ms: 0,
            expires_ms: 1,
            reference: None,
            send_at_ms: None,
            quiet_hours: None,
            charged: None,
        }
    }

    #[test]
    fn parses_a_group_or_a_list_never_both() {
        let group = GroupId::from_random([2; 16]);
        let cmd = BroadcastCommand::parse(
            format!(r#"{{"group":"{group}","body":"Clinic open"}}"#).as_bytes(),
        )
        .unwrap();
        assert!(matches!(cmd.audience, Audience::Group(g) if g == group));
        let cmd = BroadcastCommand::parse(
            br#"{"recipients":[{"channel":"sms","address":"+254700000001"}],"body":"Hi","policy":"default"}"#,
        )
        .unwrap();
        assert!(matches!(cmd.audience, Audience::Recipients(ref r) if r.len() == 1));
        for bad in [
            r#"{"body":"x"}"#.to_string(),
            format!(r#"{{"group":"{group}","recipients":[],"body":"x"}}"#),
            r#"{"group":"nope","body":"x"}"#.to_string(),
            format!(r#"{{"group":"{group}","body":"  "}}"#),
            format!(r#"{{"group":"{group}","body":"x","policy":"../etc"}}"#),
            format!(r#"{{"group":"{group}","body":"{}"}}"#, "x".repeat(2000)),
        ] {
            assert_eq!(
                BroadcastCommand::parse(bad.as_bytes()).unwrap_err().code,
                ErrorCode::InvalidRequest,
                "{bad}"
            );
        }
    }

    #[test]
    fn outcomes_round_trip() {
        for o in [
            Outcome::Sent,
            Outcome::Delivered,
            Outcome::Failed,
            Outcome::Expired,
            Outcome::Cancelled,
        ] {
            assert_eq!(Outcome::decode(o.encode(5).as_bytes()), Some(o));
        }
        assert_eq!(Outcome::decode(b"queued 1"), None);
        let by_receipt = Outcome::Delivered.encode_by_receipt(5);
        assert_eq!(
            Outcome::decode(by_receipt.as_bytes()),
            Some(Outcome::Delivered)
        );
        assert_eq!(Outcome::tallied(by_receipt.as_bytes()), Some(Outcome::Sent));
        assert_eq!(
            Outcome::tallied(Outcome::Delivered.encode(5).as_bytes()),
            Some(Outcome::Delivered)
        );
    }

    #[test]
    fn progress_follows_the_cursor_and_the_tallies() {
        let mut cursor = Cursor {
            total: 10,
            unroutable: 1,
            ..Cursor::default()
        };
        let mut tally = Tally::default();
        tally.count(Outcome::Delivered);
        let view = BroadcastView::new(&record(), &cursor, &tally, false);
        assert_eq!(view.state, "queued");
        assert_eq!(view.counts.queued, 8);
        assert_eq!(view.counts.failed, 1);
        cursor.done = true;
        assert_eq!(
            BroadcastView::new(&record(), &cursor, &tally, false).state,
            "sending"
        );
        for _ in 0..8 {
            tally.count(Outcome::Sent);
        }
        assert_eq!(
            BroadcastView::new(&record(), &cursor, &tally, false).state,
            "done"
        );
        assert_eq!(
            BroadcastView::new(&record(), &cursor, &tally, true).state,
            "done",
            "cancelled after everyone was reached"
        );
        tally.count(Outcome::Cancelled);
        cursor.total += 1;
        assert_eq!(
            BroadcastView::new(&record(), &cursor, &tally, true).state,
            "cancelled"
        );
    }

    #[test]
    fn retention_waits_for_a_broadcast_to_settle_but_not_for_ever() {
        let record = record();
        let retention = 1_000;
        let end = record.expires_ms + retention;
        let at = |cursor: &Cursor, tally: &Tally, cancelled, now| {
            erasable(&record, (cursor, tally, cancelled), now, retention)
        };
        let sending = Cursor {
            total: 2,
            done: true,
            ..Cursor::default()
        };
        let mut tally = Tally::default();
        tally.count(Outcome::Sent);
        assert!(!at(&sending, &tally, false, end - 1));
        assert!(
            !at(&sending, &tally, false, end),
            "one recipient is still in flight"
        );
        assert!(
            at(&sending, &tally, false, end + retention),
            "a broadcast that never settles goes one retention later"
        );
        tally.count(Outcome::Expired);
        assert!(!at(&sending, &tally, false, end - 1));
        assert!(at(&sending, &tally, false, end));
        let cut_short = Cursor {
            total: 1,
            cut_short: true,
            ..Cursor::default()
        };
        let mut cancelled = Tally::default();
        cancelled.count(Outcome::Cancelled);
        assert!(at(&cut_short, &cancelled, true, end));
    }

    #[test]
    fn pending_refs_round_trip_and_sort_emergency_first() {
        let b = BroadcastId::from_random([1; 16]);
        let urgent = BatchRef::new(true, b.clone(), 7);
        assert_eq!(BatchRef::parse(urgent.as_str()), Some(urgent.clone()));
        let bulk = BatchRef::new(false, b.clone(), 1);
        assert!(urgent.as_str() < bulk.as_str());
        assert_eq!(
            format!("batch/deliver-sms/{urgent}"),
            crate::keys::pending_batch("deliver-sms", true, &b, 7)
        );
        assert!(BatchRef::parse("2/x/1").is_none());
        let fanout = crate::keys::pending_fanout(false, &b);
        let f = FanoutRef::parse(fanout.strip_prefix("fanout/").unwrap()).unwrap();
        assert_eq!(f.broadcast, b);
    }

    #[test]
    fn recipient_refs_round_trip() {
        let b = BroadcastId::from_random([1; 16]);
        let hash = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_recipient_ref(&recipient_ref(&b, hash)),
            Some((b.clone(), hash.to_string()))
        );
        assert_eq!(parse_recipient_ref(&b.to_string()), None);
        assert_eq!(parse_recipient_ref(&format!("b/{b}/../x")), None);
    }

    #[test]
    fn recipient_ids_are_stable_per_member() {
        let b = BroadcastId::from_random([1; 16]);
        assert_eq!(
            recipient_message_id(&b, "aa"),
            recipient_message_id(&b, "aa")
        );
        assert_ne!(
            recipient_message_id(&b, "aa"),
            recipient_message_id(&b, "ab")
        );
    }
}
