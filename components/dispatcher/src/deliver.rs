//! One delivery attempt of one message: the adapter around `messaging_domain::delivery`.

use crate::cell;
use crate::govstack_messaging::sender::sender;
use crate::govstack_messaging::types::types::{EmailDetails, OutboundMessage, SendOutcome};
use message_store::delivery_watch;
use message_store::notifications::{reach_and_notify, reach_and_notify_in};
use message_store::writes::Writes;
use message_store::{self as store, PendingEntry, now_ms};
use messaging_domain::audit::AuditStatus;
use messaging_domain::delivery::{self, Answer, Look, Next, Plan};
use messaging_domain::record::{AttemptRecord, DeliveryWatch};
use messaging_domain::redact::provider_reason;
use messaging_domain::{MessageId, MessageRecord, Status, keys};
use spin_sdk::key_value::Store;

/// How long a claim protects a message that is with a sender. A sender that hangs longer
/// than this lets the tick try again.
const CLAIM_MS: u64 = 60_000;

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
    /// Someone else holds the claim, or the message is already settled or unknown.
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

fn log(event: &str, id: &MessageId, detail: &str) {
    let line = event_line(event, id, detail);
    match audit_status(event, detail) {
        Some(status) => store::audit::emit(status, "dispatcher", None, line),
        None => println!("{line}"),
    }
}

/// [`log`] for an event of a hand-over's outcomes: kept in the trail with the rest of
/// `writes`, and logged once they are written.
fn log_in(writes: &mut Writes, event: &str, id: &MessageId, detail: &str) {
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

/// One message: [`attempt_all`] of one, so a single hand-over, a tick and a batch take the
/// same path.
pub async fn attempt(cell: &str, id: &MessageId) -> Outcome {
    attempt_all(cell, std::slice::from_ref(id)).await[0]
}

fn store_error(id: &MessageId, e: store::StoreError) -> Outcome {
    log("dispatch.store_error", id, &e.to_string());
    Outcome::StoreError
}

/// Most messages one `/dispatch` call takes.
pub const MAX_HANDED_OVER: usize = 1000;
/// Messages one instance prepares or finishes at once for a hand-over of many.
const CONCURRENT_ATTEMPTS: usize = 16;

/// Attempts every message of a hand-over in one provider call: each is prepared (read,
/// planned, claimed), those ready go to the sender together (`send` for one,
/// `send-batch` for more, ordered by text so a provider with a bulk API sends runs of
/// equal text in one request), and each is finished with its own answer. The outcomes are
/// in the order of `ids`.
pub async fn attempt_all(cell: &str, ids: &[MessageId]) -> Vec<Outcome> {
    use futures::StreamExt;
    let prepared: Vec<_> = futures::stream::iter(ids)
        .map(|id| prepare(cell, id))
        .buffered(CONCURRENT_ATTEMPTS)
        .collect()
        .await;
    let mut outcomes = vec![Outcome::Skipped; ids.len()];
    let mut ready = Vec::new();
    for (i, prepared) in prepared.into_iter().enumerate() {
        match prepared {
            Ok(Ok((claimed, message))) => ready.push(((i, claimed), message)),
            Ok(Err(outcome)) => outcomes[i] = outcome,
            Err(e) => outcomes[i] = store_error(&ids[i], e),
        }
    }
    ready.sort_by(|(_, a), (_, b)| a.body.cmp(&b.body));
    let (ready, messages): (Vec<_>, Vec<_>) = ready.into_iter().unzip();
    let wanted = messages.len();
    let mut answers = match wanted {
        0 => Vec::new(),
        1 => vec![sender::send(messages.into_iter().next().expect("one")).await],
        _ => sender::send_batch(messages).await,
    };
    // A sender must answer each message; any it left out is tried again later.
    answers.resize_with(wanted, || {
        SendOutcome::Deferred("the sender gave no answer for this message".into())
    });
    let finished: Vec<_> = futures::stream::iter(ready.into_iter().zip(answers))
        .map(|((i, one), sent)| async move { (i, finish(cell, one, sent).await) })
        .buffered(CONCURRENT_ATTEMPTS)
        .collect()
        .await;
    // Every outcome of the hand-over is written together (`message_store::writes`).
    let mut writes = Writes::new();
    let mut decided = Vec::with_capacity(finished.len());
    for (i, finished) in finished {
        match finished {
            Ok((outcome, theirs)) => {
                writes.append(theirs);
                decided.push((i, outcome));
            }
            Err(e) => outcomes[i] = store_error(&ids[i], e),
        }
    }
    match writes.commit().await {
        Ok(()) => decided
            .into_iter()
            .for_each(|(i, outcome)| outcomes[i] = outcome),
        Err(e) => decided
            .into_iter()
            .for_each(|(i, _)| outcomes[i] = store_error(&ids[i], e.clone())),
    }
    outcomes
}

/// A message this instance holds the claim of, ready for its provider.
struct Claimed {
    kv: Store,
    record: MessageRecord,
    /// The route position it is sent on.
    hop: usize,
}

/// Everything before the provider call: read, decide with [`delivery::plan`], claim, and
/// read the payload into the message for the sender. `Ok(Err(outcome))`: nothing to send
/// now, and why.
async fn prepare(
    cell: &str,
    id: &MessageId,
) -> store::StoreResult<Result<(Claimed, OutboundMessage), Outcome>> {
    let kv = store::open().await?;
    let view = store::dispatch_view(id)?;
    let Some(record) = view.record else {
        let entry = store::pending(cell, id).await?;
        if messaging_domain::due::orphan_expired(entry.map(|e| e.due_ms), now_ms()) {
            store::clear_pending(cell, id).await?;
        }
        return Ok(Err(Outcome::Skipped));
    };
    let utc_offset_min = match (record.quiet_hours, record.utc_offset_min) {
        (Some(_), None) => cell::default_utc_offset().await,
        (_, offset) => offset.unwrap_or(0),
    };
    let look = Look {
        cell,
        record: &record,
        hop: view.hop,
        watch: view.watch.as_ref(),
        status: Status::current(&view.history),
        now_ms: now_ms(),
        utc_offset_min,
    };
    let (hop, fallback_due) = match act_on(cell, &record, delivery::plan(look)).await? {
        Ok(send) => send,
        Err(outcome) => return Ok(Err(outcome)),
    };
    if !store::work::take_lease(&keys::claim(id), CLAIM_MS)? {
        return Ok(Err(Outcome::Skipped));
    }
    // Another attempt may have sent the message and released its claim between our first
    // look and our claim: look again now that the message is ours.
    let status = Status::current(&store::history(id)?);
    if !delivery::needs_sending(status, fallback_due, view.watch.as_ref(), view.hop) {
        kv.delete(keys::claim(id)).await?;
        return Ok(Err(Outcome::Skipped));
    }
    if fallback_due && let Some(watch) = view.watch.clone() {
        begin_fallback(&kv, cell, id, &record, view.hop, watch).await?;
    }
    let message = match outbound(&kv, cell, id, &record, hop).await? {
        Ok(message) => message,
        Err(outcome) => return Ok(Err(outcome)),
    };
    if let Some(wait_ms) = cell::throttled(cell, 1).await? {
        // The provider's send rate is spent: come back when a token is there, without
        // counting an attempt.
        postpone(cell, id, now_ms() + wait_ms).await?;
        kv.delete(keys::claim(id)).await?;
        return Ok(Err(Outcome::Throttled));
    }
    Ok(Ok((Claimed { kv, record, hop }, message)))
}

/// Everything after the provider call: decide with [`delivery::next`], and gather the
/// writes of what was decided (written with the rest of the hand-over's).
async fn finish(
    cell: &str,
    claimed: Claimed,
    sent: SendOutcome,
) -> store::StoreResult<(Outcome, Writes)> {
    let Claimed { kv, record, hop } = claimed;
    let id = &record.id;
    let (answer, provider_id, reason) = answer_of(sent);
    // Only a deferral needs the count of earlier ones and the default schedule.
    let (deferrals, retry_base_ms) = match answer {
        Answer::Deferred => (
            store::pending(cell, id).await?.map_or(0, |p| p.attempts),
            store::work::retry_base_ms().await,
        ),
        _ => (0, 0),
    };
    let decided = Decided {
        next: delivery::next(answer, &record, hop, deferrals, now_ms(), retry_base_ms),
        provider_id,
        reason,
    };
    let mut writes = Writes::new();
    let outcome = apply(&kv, &mut writes, cell, &record, hop, decided).await?;
    log_in(&mut writes, "dispatch.attempt", id, outcome.as_str());
    Ok((outcome, writes))
}

/// Writes what a plan other than [`Plan::Send`] decided, and returns its outcome; for
/// `Send`, the route position to send on and whether the fallback begins.
async fn act_on(
    cell: &str,
    record: &MessageRecord,
    plan: Plan,
) -> store::StoreResult<Result<(usize, bool), Outcome>> {
    let id = &record.id;
    Ok(Err(match plan {
        Plan::Send { hop, fallback_due } => return Ok(Ok((hop, fallback_due))),
        Plan::WrongCell { current } => {
            log("dispatch.wrong_cell", id, &current);
            store::clear_pending(cell, id).await?;
            Outcome::Skipped
        }
        Plan::NothingToSend => {
            store::clear_pending(cell, id).await?;
            Outcome::Skipped
        }
        Plan::NotYet => Outcome::Skipped,
        Plan::QuietUntil { due_ms } => {
            postpone(cell, id, due_ms).await?;
            log(
                "dispatch.quiet_hours",
                id,
                "waits for the recipient's morning",
            );
            Outcome::Skipped
        }
        Plan::Expire => {
            reach_and_notify(record, Status::Expired).await?;
            settle(cell, id).await?;
            log("dispatch.expired", id, "validity ran out before sending");
            Outcome::Expired
        }
    }))
}

/// The provider's answer for the decision, with what only the adapter records: the
/// provider's own id of the message and its reason for not taking it.
fn answer_of(outcome: SendOutcome) -> (Answer, Option<String>, Option<String>) {
    match outcome {
        SendOutcome::Accepted(provider_id) => (Answer::Accepted, provider_id, None),
        SendOutcome::Delivered => (Answer::Delivered, None, None),
        SendOutcome::Deferred(reason) => (Answer::Deferred, None, Some(reason)),
        SendOutcome::Rejected(reason) => (Answer::Rejected, None, Some(reason)),
    }
}

/// What [`delivery::next`] decided, with the provider's details the writes need.
struct Decided {
    next: Next,
    /// The provider's own id of the message, for receipts that name only it.
    provider_id: Option<String>,
    /// Why the provider deferred or refused it.
    reason: Option<String>,
}

/// Gathers in `writes` what was decided: the attempt, the status, and what is erased.
/// What only rare routes need (a delivery watch, a retry's pending entry, the next cell of
/// a failover) is written at once, while the claim still holds the message.
async fn apply(
    kv: &Store,
    writes: &mut Writes,
    cell: &str,
    record: &MessageRecord,
    hop: usize,
    decided: Decided,
) -> store::StoreResult<Outcome> {
    let Decided {
        next,
        provider_id,
        reason,
    } = decided;
    let id = &record.id;
    let reason = reason.as_deref().map(provider_reason);
    let attempt = AttemptRecord {
        cell: cell.to_string(),
        outcome: next.attempt_outcome().to_string(),
        reason: reason.clone(),
        at_ms: now_ms(),
    };
    let (key, value) = store::attempt_row(id, &attempt)?;
    writes.set(key, value);
    let reason = reason.unwrap_or_default();
    Ok(match next {
        Next::Sent { watch } => {
            // Providers whose reports name only their own id are matched back by it.
            if let Some(provider_id) = provider_id {
                let mapping = keys::provider_message(&provider_id);
                writes.set(keys::message_provider_mapping(id), mapping.as_str());
                writes.set(mapping, id.as_str());
            }
            reach_and_notify_in(writes, record, Status::Sent).await?;
            // A route that falls back on a missing receipt keeps what the fallback needs
            // until the receipt or the deadline; any other message is done with.
            if watch && delivery_watch::start(kv, record).await? {
                writes.delete(keys::claim(id));
                writes.clear_pending(cell, id);
            } else {
                settle_in(writes, cell, id);
            }
            Outcome::Sent
        }
        Next::Delivered => {
            reach_and_notify_in(writes, record, Status::Sent).await?;
            reach_and_notify_in(writes, record, Status::Delivered).await?;
            settle_in(writes, cell, id);
            Outcome::Delivered
        }
        Next::Retry { due_ms, deferrals } => {
            store::set_pending(
                cell,
                id,
                PendingEntry {
                    due_ms,
                    attempts: deferrals,
                    scheduled: false,
                },
            )
            .await?;
            writes.delete(keys::claim(id));
            log_in(writes, "dispatch.deferred", id, &reason);
            Outcome::Deferred
        }
        Next::FailOver { next_cell, .. } => {
            fail_over(kv, cell, id, hop, &next_cell).await?;
            log_in(writes, "dispatch.failover", id, &next_cell);
            Outcome::FailedOver
        }
        Next::Fail { gave_up } => {
            reach_and_notify_in(writes, record, Status::Failed).await?;
            settle_in(writes, cell, id);
            let event = if gave_up {
                "dispatch.gave_up"
            } else {
                "dispatch.failed"
            };
            log_in(writes, event, id, &reason);
            Outcome::Failed
        }
    })
}

/// Brings the message back at `due_ms` without counting an attempt (quiet hours, a spent
/// send rate).
async fn postpone(cell: &str, id: &MessageId, due_ms: u64) -> store::StoreResult<()> {
    let attempts = store::pending(cell, id).await?.map_or(0, |p| p.attempts);
    store::set_pending(
        cell,
        id,
        PendingEntry {
            due_ms,
            attempts,
            scheduled: true,
        },
    )
    .await
}

/// The first channel's provider has the message, undelivered: say so in the history and
/// continue on the fallback channel.
async fn begin_fallback(
    kv: &Store,
    cell: &str,
    id: &MessageId,
    record: &MessageRecord,
    hop: usize,
    mut watch: DeliveryWatch,
) -> store::StoreResult<()> {
    let undelivered = AttemptRecord {
        cell: record.cell_at(hop).unwrap_or(&record.cell).to_string(),
        outcome: "undelivered".into(),
        reason: Some(watch.reason.clone()),
        at_ms: now_ms(),
    };
    store::record_attempt(kv, id, &undelivered).await?;
    kv.set(keys::hop(id), watch.hop.to_string()).await?;
    watch.fired = true;
    delivery_watch::set(kv, id, &watch).await?;
    log("dispatch.fallback_undelivered", id, cell);
    Ok(())
}

/// The message as the sender takes it, read from its payload; or the outcome when there
/// is nothing to send (the payload is gone, or the fallback channel has no address).
async fn outbound(
    kv: &Store,
    cell: &str,
    id: &MessageId,
    record: &MessageRecord,
    hop: usize,
) -> store::StoreResult<Result<OutboundMessage, Outcome>> {
    let payload = match store::payload(kv, id).await {
        Ok(payload) => payload,
        Err(e) => {
            // Unreadable (a sealing key missing from storage_keys): let the next tick try
            // again at once when the key is back, rather than after the claim runs out.
            kv.delete(keys::claim(id)).await?;
            return Err(e);
        }
    };
    let Some(payload) = payload else {
        settle(cell, id).await?;
        return Ok(Err(Outcome::Skipped));
    };
    // On the fallback channel the message goes to the fallback address, with the fallback
    // subject and none of the first channel's email details.
    let (channel, to, subject, email) = match (
        record.is_fallback_hop(hop),
        &record.fallback,
        payload.fallback,
    ) {
        (false, _, _) => (record.channel, payload.to, payload.subject, payload.email),
        (true, Some(route), Some(fallback)) => (route.channel, fallback.to, fallback.subject, None),
        (true, _, _) => {
            // Never send the first channel's address over another channel.
            reach_and_notify(record, Status::Failed).await?;
            settle(cell, id).await?;
            log(
                "dispatch.failed",
                id,
                "no fallback address for the fallback channel",
            );
            return Ok(Err(Outcome::Failed));
        }
    };
    Ok(Ok(OutboundMessage {
        id: id.to_string(),
        channel: cell::wit_channel(channel),
        to,
        subject,
        body: payload.body,
        receipt_url: crate::receipt_urls::ReceiptUrls::for_this_cell()
            .await
            .map(|urls| urls.message(id)),
        email: email.map(|e| EmailDetails {
            cc: e.cc,
            bcc: e.bcc,
            reply_to: e.reply_to,
            sender_address: e.sender_address,
            sender_name: e.sender_name,
            recipient_name: e.recipient_name,
        }),
    }))
}

/// Moves the message to the next cell of its route: the position is written while this
/// attempt holds the claim, the work is queued for the next cell, and that cell is asked
/// to take it now (its tick takes it otherwise).
async fn fail_over(
    kv: &Store,
    cell: &str,
    id: &MessageId,
    hop: usize,
    next: &str,
) -> store::StoreResult<()> {
    kv.set(keys::hop(id), (hop + 1).to_string()).await?;
    store::set_pending(
        next,
        id,
        PendingEntry {
            due_ms: now_ms(),
            attempts: 0,
            scheduled: false,
        },
    )
    .await?;
    store::clear_pending(cell, id).await?;
    kv.delete(keys::claim(id)).await?;
    store::work::post_after_response(
        format!("http://{next}.spin.internal/dispatch"),
        serde_json::json!({ "id": id }),
    );
    Ok(())
}

/// The message needs no more attempts: forget the address, content, delivery watch, claim
/// and pending entry.
async fn settle(cell: &str, id: &MessageId) -> store::StoreResult<()> {
    let mut writes = Writes::new();
    settle_in(&mut writes, cell, id);
    writes.commit().await
}

/// [`settle`] as part of `writes`.
fn settle_in(writes: &mut Writes, cell: &str, id: &MessageId) {
    for key in [keys::payload(id), keys::delivery_watch(id), keys::claim(id)] {
        writes.delete(key);
    }
    writes.clear_pending(cell, id);
}
