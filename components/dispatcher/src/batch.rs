//! Sending one broadcast batch: up to 500 recipients on this cell's channel, in one call
//! to the sender (`send-batch`).
//!
//! Order of work, so that a crash anywhere never loses a recipient and a retry never
//! sends again to one whose outcome was recorded: claim the batch; skip recipients that
//! already have an outcome row; send the rest; record their outcome rows (one write);
//! write the batch's tally; then erase the batch (its addresses) or, if some were
//! deferred, leave it for a retry with backoff. The one window left is a crash between
//! the provider taking a recipient and its outcome row: that recipient is sent again.

use crate::cell::{answer_of, wit_channel};
use crate::govstack_messaging::sender::sender;
use crate::govstack_messaging::types::types::OutboundMessage;
use crate::receipt_urls::ReceiptUrls;
use message_store::{self as store, broadcasts, now_ms};
use messaging_domain::broadcast::{
    Batch, BroadcastRecord, Outcome, Tally, recipient_message_id, recipient_ref,
};
use messaging_domain::delivery::batch::{self as rules, BatchEnd, Left, QuietSplit};
use messaging_domain::redact::provider_reason;
use messaging_domain::retry::backoff_ms;
use messaging_domain::{BroadcastId, Channel, keys};
use spin_sdk::key_value::Store;

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
    /// The outcome rows this call wrote, by outcome.
    #[serde(flatten)]
    pub written: Tally,
    pub deferred: usize,
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
    let skipped = || BatchReport {
        skipped: true,
        ..BatchReport::default()
    };
    let Some(mut claim) =
        store::work::Lease::take(&keys::broadcast_batch_claim(broadcast, seq), CLAIM_MS)?
    else {
        return Ok(skipped());
    };
    let kv = store::open().await?;
    let Some(record) = broadcasts::record(&kv, broadcast).await? else {
        return Ok(skipped());
    };
    let Some(batch) = broadcasts::batch(&kv, broadcast, seq).await? else {
        // Settled by an earlier instance that died before clearing its pending entry.
        broadcasts::finish_batch(&kv, &record, seq, cell).await?;
        return Ok(skipped());
    };
    let hashes: Vec<&str> = batch.recipients.iter().map(|r| r.hash.as_str()).collect();
    let known = broadcasts::outcomes(broadcast, &hashes)?;
    let open = (0..known.len()).filter(|&i| known[i].is_none());
    let cancelled = broadcasts::is_cancelled(&kv, broadcast).await?;
    let (sent, quiet) = match rules::settle_all(cancelled, now_ms(), record.expires_ms) {
        Some(outcome) => (Sent::settled(open, outcome), QuietSplit::default()),
        None => {
            let quiet = split_quiet(&record, &batch, open).await;
            let to = Recipients {
                cell,
                seq,
                record: &record,
                batch: &batch,
            };
            (send_ready(&kv, &mut claim, to, &quiet.ready).await?, quiet)
        }
    };
    let mut report = BatchReport {
        deferred: sent.deferred,
        throttled: sent.throttled.map_or(0, |(count, _)| count),
        quiet: quiet.quiet,
        ..BatchReport::default()
    };
    let rows = record_sent(broadcast, seq, &hashes, sent.rows, sent.mappings)?;
    if sent.lost_claim {
        // The batch's tally, its end and its claim are the new holder's.
        return Ok(report);
    }
    let mut tally = Tally::default();
    known
        .iter()
        .flatten()
        .for_each(|outcome| tally.count(*outcome));
    for outcome in rows {
        tally.count(outcome);
        report.written.count(outcome);
    }
    broadcasts::put_tally(&kv, broadcast, seq, &tally).await?;
    let left = Left {
        deferred: sent.deferred,
        throttled_for_ms: sent.throttled.map(|(_, wait_ms)| wait_ms),
        quiet_until_ms: quiet.until_ms,
    };
    let requeue = match rules::batch_end(left, now_ms()) {
        BatchEnd::Finish => None,
        BatchEnd::Wait { due_ms } => {
            let attempts = broadcasts::batch_attempts(&record, cell, seq).await?;
            Some((attempts, due_ms))
        }
        BatchEnd::Retry => {
            if let Some(reason) = &sent.deferred_reason {
                log_reason("batch.deferred", &record, seq, reason);
            }
            let attempts = broadcasts::batch_attempts(&record, cell, seq).await? + 1;
            let due = now_ms() + backoff_ms(store::work::retry_base_ms().await, attempts);
            Some((attempts, due))
        }
    };
    match requeue {
        None => broadcasts::finish_batch(&kv, &record, seq, cell).await?,
        Some((attempts, due_ms)) => {
            broadcasts::requeue_batch(&record, cell, seq, attempts, due_ms).await?;
            release(broadcast, seq).await?;
        }
    }
    store::audit::emit(
        messaging_domain::audit::AuditStatus::Success,
        "dispatcher",
        Some(cell),
        serde_json::json!({"event": "batch.sent", "broadcast": broadcast.as_str(), "seq": seq, "cell": cell, "report": &report}),
    );
    Ok(report)
}

/// What sending a batch's open recipients did.
#[derive(Default)]
struct Sent {
    /// New outcome rows, by position in the batch.
    rows: Vec<(usize, Outcome)>,
    /// Provider ids of accepted recipients, for receipts that name only them.
    mappings: Vec<(String, Vec<u8>)>,
    /// How many the provider deferred, and the first reason it gave.
    deferred: usize,
    deferred_reason: Option<String>,
    /// How many were left for the provider's send rate, and the wait (ms) it asked for.
    throttled: Option<(usize, u64)>,
    /// The claim ran out mid-batch (a stall longer than [`CLAIM_MS`]) and another
    /// instance holds the batch: this one records what it sent and leaves the rest.
    lost_claim: bool,
}

impl Sent {
    /// Every open recipient settled with `outcome`, nothing sent.
    fn settled(open: impl Iterator<Item = usize>, outcome: Outcome) -> Sent {
        Sent {
            rows: open.map(|i| (i, outcome)).collect(),
            ..Sent::default()
        }
    }
}

/// The open recipients split by the broadcast's quiet hours, if it has any.
async fn split_quiet(
    record: &BroadcastRecord,
    batch: &Batch,
    open: impl Iterator<Item = usize>,
) -> QuietSplit {
    // The deployment's time zone is read only when there are quiet hours to apply.
    let default_offset = match record.quiet_hours {
        Some(_) => crate::cell::default_utc_offset().await,
        None => 0,
    };
    let offsets = open.map(|i| (i, batch.recipients[i].member.utc_offset_min));
    rules::split_quiet(offsets, record.quiet_hours, now_ms(), default_offset)
}

/// The batch being sent, for [`send_ready`].
#[derive(Clone, Copy)]
struct Recipients<'a> {
    cell: &'a str,
    seq: u64,
    record: &'a BroadcastRecord,
    batch: &'a Batch,
}

/// Sends to the recipients at `ready` (positions in the batch) as many at a time as the
/// provider's send rate allows, waiting for its tokens up to [`THROTTLE_WAIT_MS`]; what is
/// left then waits in the pending store. The claim is renewed before each chunk and held
/// while the sender works on it.
async fn send_ready(
    kv: &Store,
    claim: &mut store::work::Lease,
    to: Recipients<'_>,
    ready: &[usize],
) -> store::StoreResult<Sent> {
    let mut sent = Sent::default();
    if ready.is_empty() {
        return Ok(sent);
    }
    let broadcast = &to.record.id;
    let Some(content) = broadcasts::content(kv, broadcast).await? else {
        return Err(store::StoreError::from_text("broadcast content is missing"));
    };
    let receipt_urls = ReceiptUrls::for_this_cell().await;
    let started = now_ms();
    let mut remaining = ready;
    while !remaining.is_empty() {
        if !claim.renew()? {
            sent.lost_claim = true;
            break;
        }
        let allowed = match crate::cell::granted(to.cell, remaining.len() as u64).await? {
            Ok(n) => (n as usize).min(remaining.len()),
            Err(wait_ms) => {
                if now_ms().saturating_sub(started) + wait_ms > THROTTLE_WAIT_MS {
                    sent.throttled = Some((remaining.len(), wait_ms));
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
            .map(|&i| outbound(to.record, to.batch, i, &content, receipt_urls.as_ref()))
            .collect();
        let answers = claim.hold_during(sender::send_batch(messages)).await;
        for (&i, answer) in chunk.iter().zip(answers) {
            let (answer, provider_id, reason) = answer_of(answer);
            match rules::outcome(answer) {
                Some(outcome) => {
                    if outcome == Outcome::Failed {
                        log_reason(
                            "batch.rejected",
                            to.record,
                            to.seq,
                            &reason.unwrap_or_default(),
                        );
                    }
                    // Providers whose reports name only their own id (Africa's Talking)
                    // find the recipient through this mapping.
                    if let Some(provider_id) = provider_id {
                        let hash = &to.batch.recipients[i].hash;
                        sent.mappings.push((
                            keys::provider_message(&provider_id),
                            recipient_ref(broadcast, hash).into_bytes(),
                        ));
                    }
                    sent.rows.push((i, outcome));
                }
                None => {
                    sent.deferred += 1;
                    if sent.deferred_reason.is_none() {
                        sent.deferred_reason = reason;
                    }
                }
            }
        }
    }
    Ok(sent)
}

/// Writes what a batch call did: the provider-id mappings first (a report that comes at
/// once must find its recipient), with their list for retention to erase them with the
/// broadcast; then the outcome rows; then applies receipts that overtook those rows (fast
/// providers report at once). The outcomes, in the order of `rows`, as they now stand.
fn record_sent(
    broadcast: &BroadcastId,
    seq: u64,
    hashes: &[&str],
    rows: Vec<(usize, Outcome)>,
    mut mappings: Vec<(String, Vec<u8>)>,
) -> store::StoreResult<Vec<Outcome>> {
    if !mappings.is_empty() {
        let list: Vec<&String> = mappings.iter().map(|(k, _)| k).collect();
        let list = serde_json::to_vec(&list).expect("json");
        let lists = message_store::broadcast_retention::batch_pid_lists(broadcast, seq);
        let slot = lists.reserve(1)?;
        mappings.push((lists.slot(slot), list));
    }
    message_store::many::set_many("default", &mappings)?;
    let mut new: Vec<(&str, Outcome)> = rows.iter().map(|&(i, o)| (hashes[i], o)).collect();
    broadcasts::record_outcomes(broadcast, &new)?;
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
    Ok(new.into_iter().map(|(_, outcome)| outcome).collect())
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
