//! Sending one broadcast batch: up to 500 recipients on this cell's channel, in one call
//! to the sender (`send-batch`).
//!
//! Order of work, so that a crash anywhere never loses a recipient and a retry never
//! sends again to one whose outcome was recorded: claim the batch; skip recipients that
//! already have an outcome row; send the rest; record their outcome rows (one write);
//! write the batch's tally; then erase the batch (its addresses) or, if some were
//! deferred, leave it for a retry with backoff. The one window left is a crash between
//! the provider taking a recipient and its outcome row: that recipient is sent again.

use crate::cell::wit_channel;
use crate::govstack_messaging::sender::sender;
use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use crate::receipt_urls::ReceiptUrls;
use message_store::{self as store, broadcasts, now_ms};
use messaging_domain::broadcast::{
    Batch, BroadcastRecord, Outcome, Tally, recipient_message_id, recipient_ref,
};
use messaging_domain::redact::provider_reason;
use messaging_domain::retry::backoff_ms;
use messaging_domain::{BroadcastId, Channel, keys};

/// How long a claim protects a batch that is with the sender. It is renewed while the
/// batch is sent (`Lease::hold_during`) and before each chunk, so a live instance keeps it
/// however long its provider takes, and a dead instance's batches go to another within
/// this time.
const CLAIM_MS: u64 = 30_000;
/// Longest a batch instance waits for its provider's send-rate tokens before leaving the
/// rest to the pending store.
const THROTTLE_WAIT_MS: u64 = 5_000;
/// Batches retried per tick.
pub const TICK_BATCHES: usize = 20;

/// What a batch call did, for `/batch`'s answer and the logs.
#[derive(Debug, Default, serde::Serialize)]
pub struct BatchReport {
    pub sent: usize,
    pub delivered: usize,
    pub failed: usize,
    pub deferred: usize,
    pub expired: usize,
    pub cancelled: usize,
    /// Left for later: the provider's send rate was spent.
    pub throttled: usize,
    /// Left for later: in their quiet hours.
    pub quiet: usize,
    /// Another instance holds the batch, or it is settled already.
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn send(cell: &str, broadcast: &BroadcastId, seq: u64) -> BatchReport {
    match try_send(cell, broadcast, seq).await {
        Ok(report) => report,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"event": "batch.store_error", "broadcast": broadcast.as_str(), "seq": seq, "detail": e.to_string()})
            );
            // Let the tick try again soon rather than after the claim runs out.
            let _ = release(broadcast, seq).await;
            BatchReport {
                error: Some("store".into()),
                ..BatchReport::default()
            }
        }
    }
}

async fn release(broadcast: &BroadcastId, seq: u64) -> store::StoreResult<()> {
    Ok(store::open()
        .await?
        .delete(keys::broadcast_batch_claim(broadcast, seq))
        .await?)
}

async fn try_send(
    cell: &str,
    broadcast: &BroadcastId,
    seq: u64,
) -> store::StoreResult<BatchReport> {
    let skipped = BatchReport {
        skipped: true,
        ..BatchReport::default()
    };
    let Some(mut claim) =
        store::work::Lease::take(&keys::broadcast_batch_claim(broadcast, seq), CLAIM_MS)?
    else {
        return Ok(skipped);
    };
    let kv = store::open().await?;
    let Some(record) = broadcasts::record(&kv, broadcast).await? else {
        return Ok(skipped);
    };
    let Some(batch) = broadcasts::batch(&kv, broadcast, seq).await? else {
        // Settled by an earlier instance that died before clearing its pending entry.
        broadcasts::finish_batch(&kv, &record, seq, cell).await?;
        return Ok(skipped);
    };
    let hashes: Vec<&str> = batch.recipients.iter().map(|r| r.hash.as_str()).collect();
    let known = broadcasts::outcomes(broadcast, &hashes)?;
    let open: Vec<usize> = (0..known.len()).filter(|&i| known[i].is_none()).collect();
    let mut report = BatchReport::default();
    let mut new: Vec<(&str, Outcome)> = Vec::new();
    let mut deferred_reason = None;
    let mut throttle_wait: Option<u64> = None;
    let mut mappings: Vec<(String, Vec<u8>)> = Vec::new();
    let mut lost_claim = false;
    let settle_all = if broadcasts::is_cancelled(&kv, broadcast).await? {
        Some(Outcome::Cancelled)
    } else if now_ms() >= record.expires_ms {
        Some(Outcome::Expired)
    } else {
        None
    };
    // Recipients in their quiet hours wait for them to end.
    let mut quiet_until: Option<u64> = None;
    let mut in_quiet_hours = 0;
    let open: Vec<usize> = match (settle_all, record.quiet_hours) {
        (None, Some(quiet_hours)) => {
            let default_offset = crate::cell::default_utc_offset().await;
            let now = now_ms();
            open.into_iter()
                .filter(|&i| {
                    let offset = batch.recipients[i]
                        .member
                        .utc_offset_min
                        .unwrap_or(default_offset);
                    match quiet_hours.ends_at(now, offset) {
                        Some(until) => {
                            quiet_until = Some(quiet_until.map_or(until, |u| u.min(until)));
                            in_quiet_hours += 1;
                            false
                        }
                        None => true,
                    }
                })
                .collect()
        }
        _ => open,
    };
    if let Some(outcome) = settle_all {
        new.extend(open.iter().map(|&i| (hashes[i], outcome)));
    } else if !open.is_empty() {
        let Some(content) = broadcasts::content(&kv, broadcast).await? else {
            return Err(store::StoreError::from_text("broadcast content is missing"));
        };
        // As many at a time as the provider's send rate allows, waiting for tokens up to
        // THROTTLE_WAIT_MS; what is left then waits in the pending store.
        let receipt_urls = ReceiptUrls::for_this_cell().await;
        let started = now_ms();
        let mut remaining: &[usize] = &open;
        while !remaining.is_empty() {
            if !claim.renew()? {
                // The claim ran out (a stall longer than CLAIM_MS) and another instance
                // has the batch: this one records what it sent and leaves the rest.
                lost_claim = true;
                break;
            }
            let allowed = match crate::cell::granted(cell, remaining.len() as u64).await? {
                Ok(n) => (n as usize).min(remaining.len()),
                Err(wait_ms) => {
                    if now_ms().saturating_sub(started) + wait_ms > THROTTLE_WAIT_MS {
                        report.throttled = remaining.len();
                        throttle_wait = Some(wait_ms);
                        break;
                    }
                    spin_sdk::wasip3::clocks::monotonic_clock::wait_for(wait_ms * 1_000_000).await;
                    continue;
                }
            };
            let (chunk, rest) = remaining.split_at(allowed);
            remaining = rest;
            let messages = chunk
                .iter()
                .map(|&i| outbound(&record, &batch, i, &content, receipt_urls.as_ref()))
                .collect();
            let outcomes = claim.hold_during(sender::send_batch(messages)).await;
            for (&i, outcome) in chunk.iter().zip(outcomes) {
                match outcome {
                    SendOutcome::Accepted(provider_id) => {
                        // Providers whose reports name only their own id (Africa's
                        // Talking) find the recipient through this mapping.
                        if let Some(provider_id) = provider_id {
                            mappings.push((
                                keys::provider_message(&provider_id),
                                recipient_ref(broadcast, hashes[i]).into_bytes(),
                            ));
                        }
                        new.push((hashes[i], Outcome::Sent))
                    }
                    SendOutcome::Delivered => new.push((hashes[i], Outcome::Delivered)),
                    SendOutcome::Rejected(reason) => {
                        log_reason("batch.rejected", &record, seq, &reason);
                        new.push((hashes[i], Outcome::Failed));
                    }
                    SendOutcome::Deferred(reason) => {
                        report.deferred += 1;
                        deferred_reason.get_or_insert(reason);
                    }
                }
            }
        }
    }
    report.quiet = in_quiet_hours;
    // The mappings first: a report that comes at once must find its recipient. Their
    // list goes with them, for retention to erase them with the broadcast.
    if !mappings.is_empty() {
        let list: Vec<&String> = mappings.iter().map(|(k, _)| k).collect();
        let list = serde_json::to_vec(&list).expect("json");
        let lists = message_store::broadcast_retention::batch_pid_lists(broadcast, seq);
        let slot = lists.reserve(1)?;
        mappings.push((lists.slot(slot), list));
    }
    message_store::many::set_many("default", &mappings)?;
    broadcasts::record_outcomes(broadcast, &new)?;
    // Receipts that overtook the rows just written (fast providers report at once).
    let sent: Vec<&str> = new
        .iter()
        .filter(|(_, o)| *o == Outcome::Sent)
        .map(|(h, _)| *h)
        .collect();
    for (hash, outcome) in broadcasts::apply_early_receipts(broadcast, &sent)? {
        if let Some(entry) = new.iter_mut().find(|(h, _)| *h == hash) {
            entry.1 = outcome;
        }
    }
    if lost_claim {
        // The batch's tally, its end and its claim are the new holder's.
        return Ok(report);
    }
    let mut tally = Tally::default();
    for outcome in known.iter().flatten() {
        tally.count(*outcome);
    }
    for (_, outcome) in &new {
        tally.count(*outcome);
        match outcome {
            Outcome::Sent => report.sent += 1,
            Outcome::Delivered => report.delivered += 1,
            Outcome::Failed => report.failed += 1,
            Outcome::Expired => report.expired += 1,
            Outcome::Cancelled => report.cancelled += 1,
        }
    }
    broadcasts::put_tally(&kv, broadcast, seq, &tally).await?;
    if report.deferred == 0 && report.throttled == 0 && quiet_until.is_none() {
        broadcasts::finish_batch(&kv, &record, seq, cell).await?;
    } else if report.deferred == 0 {
        // Throttled or quiet only: back when the provider's bucket has tokens or the
        // earliest quiet hours end, no attempt counted.
        let due = match (report.throttled > 0, quiet_until) {
            (true, Some(until)) => (now_ms() + throttle_wait.unwrap_or(100)).min(until),
            (true, None) => now_ms() + throttle_wait.unwrap_or(100),
            (false, Some(until)) => until,
            (false, None) => now_ms(),
        };
        let attempts = broadcasts::batch_attempts(&record, cell, seq).await?;
        broadcasts::requeue_batch(&record, cell, seq, attempts, due).await?;
        release(broadcast, seq).await?;
    } else {
        if let Some(reason) = &deferred_reason {
            log_reason("batch.deferred", &record, seq, reason);
        }
        let attempts = broadcasts::batch_attempts(&record, cell, seq).await? + 1;
        let due = now_ms() + backoff_ms(store::work::retry_base_ms().await, attempts);
        broadcasts::requeue_batch(&record, cell, seq, attempts, due).await?;
        release(broadcast, seq).await?;
    }
    store::audit::emit(
        messaging_domain::audit::AuditStatus::Success,
        "dispatcher",
        Some(cell),
        serde_json::json!({"event": "batch.sent", "broadcast": broadcast.as_str(), "seq": seq, "cell": cell, "report": &report}),
    );
    Ok(report)
}

fn outbound(
    record: &BroadcastRecord,
    batch: &Batch,
    i: usize,
    content: &messaging_domain::broadcast::Content,
    receipt_urls: Option<&ReceiptUrls>,
) -> OutboundMessage {
    let recipient = &batch.recipients[i];
    let (subject, body) = content.text_for(recipient.member.language.as_ref());
    OutboundMessage {
        id: recipient_message_id(&record.id, &recipient.hash).to_string(),
        channel: wit_channel(batch.channel),
        to: recipient.member.to.clone(),
        // Only email has a subject line; push shows it as the title.
        subject: matches!(batch.channel, Channel::Email | Channel::Push)
            .then(|| subject.map(String::from))
            .flatten(),
        body: body.to_string(),
        receipt_url: receipt_urls.map(|urls| urls.recipient(&record.id, &recipient.hash)),
        email: None,
    }
}

fn log_reason(event: &str, record: &BroadcastRecord, seq: u64, reason: &str) {
    let status = if event == "batch.deferred" {
        messaging_domain::audit::AuditStatus::InProgress
    } else {
        messaging_domain::audit::AuditStatus::Failed
    };
    store::audit::emit(
        status,
        "dispatcher",
        None,
        serde_json::json!({"event": event, "broadcast": record.id.as_str(), "seq": seq, "detail": provider_reason(reason)}),
    );
}

/// `/batch`'s body.
#[derive(serde::Deserialize)]
pub struct BatchRequest {
    pub broadcast: BroadcastId,
    pub seq: u64,
}
