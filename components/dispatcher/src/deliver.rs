//! One delivery attempt, and the tick that retries.

use crate::govstack_messaging::sender::sender;
use crate::govstack_messaging::types::types::{
    Channel as WitChannel, EmailDetails, OutboundMessage, SendOutcome,
};
use message_store::delivery_watch;
use message_store::notifications::reach_and_notify;
use message_store::{self as store, PendingEntry, now_ms};
use messaging_domain::audit::AuditStatus;
use messaging_domain::broadcast::BatchRef;
use messaging_domain::record::AttemptRecord;
use messaging_domain::redact::provider_reason;
use messaging_domain::retry::{MAX_RETRY_MS, Schedule as RetrySchedule};
use messaging_domain::{Channel, MessageId, Status, keys};
use spin_sdk::key_value::Store;

/// How long a claim protects a message that is with a sender. A sender that hangs longer
/// than this lets the tick try again.
const CLAIM_MS: u64 = 60_000;
// Retry schedule after a deferral: `retry_base_ms` (default 10 s, `store::work`),
// doubling, at most 15 minutes apart; the message's validity ends the retries (the default
// policy's 24 h, as the GovStack spec asks). Policies take over the schedule in a later
// issue.

/// Messages handled per tick, so a tick stays one short-lived instance.
const TICK_BATCH: usize = 100;

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
    // Never the address or the content: ids, outcomes and provider reasons only.
    let line = serde_json::json!({ "event": event, "id": id.as_str(), "detail": detail });
    match audit_status(event, detail) {
        Some(status) => store::audit::emit(status, "dispatcher", None, line),
        None => println!("{line}"),
    }
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

/// The delivery cell this instance serves (the `cell` variable, its Spin component id).
pub async fn own_cell() -> Option<String> {
    spin_sdk::variables::get("cell")
        .await
        .ok()
        .filter(|c| !c.is_empty())
}

pub async fn attempt(cell: &str, id: &MessageId) -> Outcome {
    match try_attempt(cell, id).await {
        Ok(outcome) => outcome,
        Err(e) => {
            log("dispatch.store_error", id, &e.to_string());
            Outcome::StoreError
        }
    }
}

async fn try_attempt(cell: &str, id: &MessageId) -> store::StoreResult<Outcome> {
    let kv = store::open().await?;
    let view = store::dispatch_view(id)?;
    let Some(record) = view.record else {
        store::clear_pending(cell, id).await?;
        return Ok(Outcome::Skipped);
    };
    let mut hop = view.hop;
    let current = record.cell_at(hop).unwrap_or(&record.cell);
    let watch = view.watch;
    // A sent message whose receipt did not come in time (or said it failed), reaching the
    // first cell of its fallback channel.
    let fallback_due = current != cell
        && watch.as_ref().is_some_and(|w| {
            !w.fired && record.cell_at(w.hop) == Some(cell) && now_ms() >= w.due_ms
        });
    if current != cell && !fallback_due {
        // Another cell's message now: its policy chose another sender, or it failed over.
        log("dispatch.wrong_cell", id, current);
        store::clear_pending(cell, id).await?;
        return Ok(Outcome::Skipped);
    }
    // Sent messages need no more sending, except those whose fallback is due or under way.
    let needs_sending = |reached: &[(Status, u64)]| {
        Status::current(reached).is_some_and(|s| {
            s.awaits_sending()
                || (s == Status::Sent
                    && (fallback_due || watch.as_ref().is_some_and(|w| w.fired && hop >= w.hop)))
        })
    };
    if !needs_sending(&view.history) {
        store::clear_pending(cell, id).await?;
        return Ok(Outcome::Skipped);
    }
    let now = now_ms();
    if record.send_at_ms.is_some_and(|at| now < at) {
        // Scheduled for later: its pending entry brings it back when due.
        return Ok(Outcome::Skipped);
    }
    if let Some(quiet) = record.quiet_hours {
        let offset = match record.utc_offset_min {
            Some(offset) => offset,
            None => default_utc_offset().await,
        };
        if let Some(until) = quiet.ends_at(now, offset) {
            // The recipient's quiet hours: back when they end, no attempt counted.
            let attempts = store::pending(cell, id).await?.map_or(0, |p| p.attempts);
            store::set_pending(
                cell,
                id,
                PendingEntry {
                    due_ms: until,
                    attempts,
                    scheduled: true,
                },
            )
            .await?;
            log(
                "dispatch.quiet_hours",
                id,
                "waits for the recipient's morning",
            );
            return Ok(Outcome::Skipped);
        }
    }
    if now >= record.expires_ms {
        reach_and_notify(&kv, &record, Status::Expired).await?;
        settle(cell, id).await?;
        log("dispatch.expired", id, "validity ran out before sending");
        return Ok(Outcome::Expired);
    }
    if !store::work::take_lease(&keys::claim(id), CLAIM_MS)? {
        return Ok(Outcome::Skipped);
    }
    // Another attempt may have sent the message and released its claim between our first
    // look and our claim: look again now that the message is ours.
    if !needs_sending(&store::history(id)?) {
        kv.delete(keys::claim(id)).await?;
        return Ok(Outcome::Skipped);
    }
    if fallback_due && let Some(mut watch) = watch.clone() {
        // The first channel's provider has it, undelivered: say so in the history and
        // continue on the fallback channel.
        let undelivered = AttemptRecord {
            cell: current.to_string(),
            outcome: "undelivered".into(),
            reason: Some(watch.reason.clone()),
            at_ms: now_ms(),
        };
        store::record_attempt(&kv, id, &undelivered).await?;
        kv.set(keys::hop(id), watch.hop.to_string()).await?;
        watch.fired = true;
        delivery_watch::set(&kv, id, &watch).await?;
        hop = watch.hop;
        log("dispatch.fallback_undelivered", id, cell);
    }
    let payload = match store::payload(&kv, id).await {
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
        return Ok(Outcome::Skipped);
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
            reach_and_notify(&kv, &record, Status::Failed).await?;
            settle(cell, id).await?;
            log(
                "dispatch.failed",
                id,
                "no fallback address for the fallback channel",
            );
            return Ok(Outcome::Failed);
        }
    };
    let message = OutboundMessage {
        id: id.to_string(),
        channel: wit_channel(channel),
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
    };
    let attempt = |outcome: &str, reason: Option<&str>| AttemptRecord {
        cell: cell.to_string(),
        outcome: outcome.to_string(),
        reason: reason.map(provider_reason),
        at_ms: now_ms(),
    };
    let next_cell = record.cell_at(hop + 1).map(String::from);
    if let Some(wait_ms) = throttled(cell, 1).await? {
        // The provider's send rate is spent: come back when a token is there, without
        // counting an attempt.
        let attempts = store::pending(cell, id).await?.map_or(0, |p| p.attempts);
        store::set_pending(
            cell,
            id,
            PendingEntry {
                due_ms: now_ms() + wait_ms,
                attempts,
                scheduled: true,
            },
        )
        .await?;
        kv.delete(keys::claim(id)).await?;
        return Ok(Outcome::Throttled);
    }
    let outcome = match sender::send(message).await {
        SendOutcome::Accepted(provider_id) => {
            store::record_attempt(&kv, id, &attempt("sent", None)).await?;
            // Providers whose reports name only their own id are matched back by it.
            if let Some(provider_id) = provider_id {
                let mapping = keys::provider_message(&provider_id);
                kv.set(keys::message_provider_mapping(id), mapping.as_str())
                    .await?;
                kv.set(mapping, id.as_str()).await?;
            }
            reach_and_notify(&kv, &record, Status::Sent).await?;
            // A route that falls back on a missing receipt keeps what the fallback needs
            // until the receipt or the deadline; any other message is done with.
            if !record.is_fallback_hop(hop) && delivery_watch::start(&kv, &record).await? {
                kv.delete(keys::claim(id)).await?;
                store::clear_pending(cell, id).await?;
            } else {
                settle(cell, id).await?;
            }
            Outcome::Sent
        }
        SendOutcome::Delivered => {
            store::record_attempt(&kv, id, &attempt("delivered", None)).await?;
            reach_and_notify(&kv, &record, Status::Sent).await?;
            reach_and_notify(&kv, &record, Status::Delivered).await?;
            settle(cell, id).await?;
            Outcome::Delivered
        }
        SendOutcome::Deferred(reason) => {
            let schedule = match record.retry {
                Some(schedule) => schedule,
                None => RetrySchedule {
                    first_ms: store::work::retry_base_ms().await,
                    max_interval_ms: MAX_RETRY_MS,
                    give_up_after_ms: None,
                },
            };
            if schedule.gives_up(record.created_ms, now_ms()) {
                // The policy's retries are spent: the spec's "then failed".
                store::record_attempt(&kv, id, &attempt("gave_up", Some(&reason))).await?;
                reach_and_notify(&kv, &record, Status::Failed).await?;
                settle(cell, id).await?;
                log("dispatch.gave_up", id, &provider_reason(&reason));
                return Ok(Outcome::Failed);
            }
            store::record_attempt(&kv, id, &attempt("deferred", Some(&reason))).await?;
            let attempts = store::pending(cell, id).await?.map_or(0, |p| p.attempts) + 1;
            if attempts >= record.failover_after
                && let Some(next) = next_cell
            {
                fail_over(&kv, cell, id, hop, &next).await?;
                log("dispatch.failover", id, &next);
                return Ok(Outcome::FailedOver);
            }
            let backoff = schedule.delay_ms(attempts);
            store::set_pending(
                cell,
                id,
                PendingEntry {
                    due_ms: now_ms() + backoff,
                    attempts,
                    scheduled: false,
                },
            )
            .await?;
            kv.delete(keys::claim(id)).await?;
            log("dispatch.deferred", id, &provider_reason(&reason));
            Outcome::Deferred
        }
        SendOutcome::Rejected(reason) if next_cell.is_some() => {
            // This provider refuses; the next one may not (a route it lacks, a sender id it
            // does not know). Nothing was sent, so trying the next sends nothing twice.
            store::record_attempt(&kv, id, &attempt("refused", Some(&reason))).await?;
            let next = next_cell.expect("checked");
            fail_over(&kv, cell, id, hop, &next).await?;
            log("dispatch.failover", id, &next);
            Outcome::FailedOver
        }
        SendOutcome::Rejected(reason) => {
            store::record_attempt(&kv, id, &attempt("refused", Some(&reason))).await?;
            reach_and_notify(&kv, &record, Status::Failed).await?;
            settle(cell, id).await?;
            log("dispatch.failed", id, &provider_reason(&reason));
            Outcome::Failed
        }
    };
    log("dispatch.attempt", id, outcome.as_str());
    Ok(outcome)
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
    // Payload, watch and claim in one call (one transaction).
    store::many::delete_many(
        "default",
        &[keys::payload(id), keys::delivery_watch(id), keys::claim(id)],
    )?;
    store::clear_pending(cell, id).await
}

/// What a tick did.
#[derive(Debug, Default, serde::Serialize)]
pub struct TickReport {
    pub examined: usize,
    pub attempted: usize,
}

/// The deployment's time zone for recipients who gave none (`default_timezone`, a UTC
/// offset such as `+03:00`; UTC when unset).
pub async fn default_utc_offset() -> i16 {
    spin_sdk::variables::get("default_timezone")
        .await
        .ok()
        .and_then(|t| messaging_domain::quiet_hours::parse_offset(t.trim()))
        .unwrap_or(0)
}

/// Takes `wanted` tokens (or as many as there are) from this cell's send-rate bucket.
/// `None`: go ahead (all were granted, or the cell has no `send_rate`); `Some(ms)`: none now.
pub async fn throttled(cell: &str, wanted: u64) -> store::StoreResult<Option<u64>> {
    Ok(granted(cell, wanted).await?.err())
}

/// How many of `wanted` sends the cell's provider takes now (`Ok(wanted)` without a
/// `send_rate`), or how long until the next.
pub async fn granted(cell: &str, wanted: u64) -> store::StoreResult<Result<u64, u64>> {
    match store::work::send_rate().await {
        None => Ok(Ok(wanted)),
        Some(limit) => store::work::take_tokens(&keys::send_rate_bucket(cell), limit, wanted),
    }
}

/// The WIT name of a channel.
pub fn wit_channel(channel: Channel) -> WitChannel {
    match channel {
        Channel::Sms => WitChannel::Sms,
        Channel::Email => WitChannel::Email,
        Channel::Telegram => WitChannel::Telegram,
        Channel::Push => WitChannel::Push,
    }
}

/// Retries every pending message of this cell that is due, up to [`TICK_BATCH`], then
/// the due broadcast batches.
pub async fn tick(cell: &str) -> TickReport {
    let (examined, due) = store::work::due_for_tick(cell, TICK_BATCH, MessageId::parse).await;
    let mut report = TickReport {
        examined,
        attempted: 0,
    };
    for id in due {
        attempt(cell, &id).await;
        report.attempted += 1;
    }
    let (examined, due) = store::work::due_for_tick(
        &format!("batch/{cell}"),
        crate::batch::TICK_BATCHES,
        BatchRef::parse,
    )
    .await;
    report.examined += examined;
    for batch in due {
        crate::batch::send(cell, &batch.broadcast, batch.seq).await;
        report.attempted += 1;
    }
    report
}
