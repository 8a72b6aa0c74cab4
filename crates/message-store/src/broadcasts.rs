//! Broadcasts in the store: the record, the sealed content, the fan-out cursor, the
//! batches, one outcome row per recipient and one tally per batch (see
//! `messaging_domain::broadcast` for why a recipient is not a message).

use crate::many::{get_many, open_one, seal_all, set_many};
use crate::{PendingEntry, StoreResult, Swap, get_sealed, now_ms, open_pending, put_sealed};
use messaging_domain::broadcast::{
    Batch, BatchRef, BroadcastRecord, Content, Cursor, FanoutRef, Outcome, Tally,
};
use messaging_domain::{BroadcastId, keys};
use spin_sdk::key_value::Store;

/// Persists an accepted broadcast, its content sealed, and queues its fan-out. Record
/// last among the broadcast's keys, so a crash in between leaves nothing visible.
pub async fn insert(kv: &Store, record: &BroadcastRecord, content: &Content) -> StoreResult<()> {
    put_sealed(kv, &keys::broadcast_content(&record.id), content).await?;
    kv.set(
        keys::broadcast_cursor(&record.id),
        serde_json::to_vec(&Cursor::default()).expect("json"),
    )
    .await?;
    kv.set(
        keys::broadcast(&record.id),
        serde_json::to_vec(record).expect("json"),
    )
    .await?;
    crate::broadcast_retention::BY_EXPIRY.add(record.expires_ms, record.id.as_str())?;
    queue_fanout(record).await
}

/// Puts the broadcast's fan-out entry in the pending store, due at its `send_at`, and
/// indexes it for the broadcaster's tick.
pub async fn queue_fanout(record: &BroadcastRecord) -> StoreResult<()> {
    let due_ms = record.send_at_ms.unwrap_or(record.created_ms);
    let fanout = FanoutRef::new(record.emergency, record.id.clone());
    crate::set_pending(
        FANOUT_QUEUE,
        &fanout.as_str(),
        PendingEntry {
            due_ms,
            attempts: 0,
            scheduled: record.send_at_ms.is_some(),
        },
    )
    .await
}

/// The broadcaster's queue of fan-outs.
pub const FANOUT_QUEUE: &str = "fanout";

/// The queue of `cell`'s broadcast batches.
pub fn batch_queue(cell: &str) -> String {
    format!("batch/{cell}")
}

pub async fn finish_fanout(record: &BroadcastRecord) -> StoreResult<()> {
    Ok(open_pending()
        .await?
        .delete(keys::pending_fanout(record.emergency, &record.id))
        .await?)
}

pub async fn record(kv: &Store, id: &BroadcastId) -> StoreResult<Option<BroadcastRecord>> {
    Ok(kv
        .get(keys::broadcast(id))
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

pub async fn content(kv: &Store, id: &BroadcastId) -> StoreResult<Option<Content>> {
    get_sealed(kv, &keys::broadcast_content(id)).await
}

/// The cursor, read for a compare-and-swap ([`advance`]).
pub fn read_cursor(id: &BroadcastId) -> StoreResult<(Cursor, Swap)> {
    let swap = Swap::read("default", &keys::broadcast_cursor(id))?;
    let cursor = swap
        .current
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    Ok((cursor, swap))
}

/// Moves the cursor on, if nobody else did since it was read. `Ok(false)`: another
/// fan-out got there first (its batches are the same ones).
pub fn advance(swap: Swap, next: &Cursor) -> StoreResult<bool> {
    swap.put(&serde_json::to_vec(next).expect("json"))
}

pub async fn is_cancelled(kv: &Store, id: &BroadcastId) -> StoreResult<bool> {
    Ok(kv.exists(keys::broadcast_cancelled(id)).await?)
}

pub async fn cancel(kv: &Store, id: &BroadcastId) -> StoreResult<()> {
    Ok(kv
        .set(keys::broadcast_cancelled(id), now_ms().to_string())
        .await?)
}

/// Stores a page's batches (sealed) and queues each for its cell. Re-storing the same
/// sequence numbers after a crash overwrites the same keys.
pub async fn put_batches(record: &BroadcastRecord, batches: &[(u64, Batch)]) -> StoreResult<()> {
    let sealed = seal_all(
        batches
            .iter()
            .map(|(seq, batch)| (keys::broadcast_batch(&record.id, *seq), batch)),
    )
    .await?;
    set_many("default", &sealed)?;
    let due_ms = now_ms();
    let entry = serde_json::to_vec(&PendingEntry {
        due_ms,
        attempts: 0,
        scheduled: false,
    })
    .expect("json");
    let pending: Vec<(String, Vec<u8>)> = batches
        .iter()
        .map(|(seq, batch)| {
            (
                keys::pending_batch(&batch.cell, record.emergency, &record.id, *seq),
                entry.clone(),
            )
        })
        .collect();
    set_many("pending", &pending)?;
    let mut by_cell: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (seq, batch) in batches {
        let batch_ref = BatchRef::new(record.emergency, record.id.clone(), *seq);
        by_cell
            .entry(&batch.cell)
            .or_default()
            .push(batch_ref.as_str().to_string());
    }
    for (cell, refs) in by_cell {
        crate::queue::index(&batch_queue(cell), &refs, due_ms).await?;
    }
    Ok(())
}

/// The sequence numbers of the broadcast's batches still pending at `cell`: of the batches
/// the fan-out cursor numbered, those whose pending entry exists.
pub fn waiting_batches(record: &BroadcastRecord, cell: &str) -> StoreResult<Vec<u64>> {
    let (cursor, _) = read_cursor(&record.id)?;
    let mut waiting = Vec::new();
    let mut from = 0;
    while from < cursor.next_seq {
        let to = (from + TALLIES_PER_READ).min(cursor.next_seq);
        let keys = (from..to)
            .map(|seq| keys::pending_batch(cell, record.emergency, &record.id, seq))
            .collect();
        for (seq, (_, value)) in (from..to).zip(get_many("pending", keys)?) {
            if value.is_some() {
                waiting.push(seq);
            }
        }
        from = to;
    }
    Ok(waiting)
}

pub async fn batch(kv: &Store, id: &BroadcastId, seq: u64) -> StoreResult<Option<Batch>> {
    get_sealed(kv, &keys::broadcast_batch(id, seq)).await
}

/// How often the batch was deferred so far (its pending entry keeps the count).
pub async fn batch_attempts(record: &BroadcastRecord, cell: &str, seq: u64) -> StoreResult<u32> {
    let batch = BatchRef::new(record.emergency, record.id.clone(), seq);
    Ok(crate::pending(&batch_queue(cell), &batch.as_str())
        .await?
        .map_or(0, |entry| entry.attempts))
}

/// When to try the batch again, and how often it was deferred. The batch itself is not
/// rewritten: recipients with an outcome row are skipped when it comes back.
pub async fn requeue_batch(
    record: &BroadcastRecord,
    cell: &str,
    seq: u64,
    attempts: u32,
    due_ms: u64,
) -> StoreResult<()> {
    let batch = BatchRef::new(record.emergency, record.id.clone(), seq);
    crate::set_pending(
        &batch_queue(cell),
        &batch.as_str(),
        // Due exactly then: no hand-over is in flight for a batch already tried.
        PendingEntry {
            due_ms,
            attempts,
            scheduled: true,
        },
    )
    .await
}

/// Erases a settled batch: its addresses go with it.
pub async fn finish_batch(
    kv: &Store,
    record: &BroadcastRecord,
    seq: u64,
    cell: &str,
) -> StoreResult<()> {
    kv.delete(keys::broadcast_batch(&record.id, seq)).await?;
    Ok(open_pending()
        .await?
        .delete(keys::pending_batch(cell, record.emergency, &record.id, seq))
        .await?)
}

/// The outcomes already recorded for these members, as a batch tally counts them (a
/// batch retried after a crash or a deferral skips them).
pub fn outcomes(id: &BroadcastId, hashes: &[&str]) -> StoreResult<Vec<Option<Outcome>>> {
    let keys = hashes
        .iter()
        .map(|h| keys::broadcast_outcome(id, h))
        .collect();
    Ok(get_many("default", keys)?
        .into_iter()
        .map(|(_, v)| v.as_deref().and_then(Outcome::tallied))
        .collect())
}

/// Records outcomes, one row per recipient, in one write.
pub fn record_outcomes(id: &BroadcastId, outcomes: &[(&str, Outcome)]) -> StoreResult<()> {
    let at = now_ms();
    let rows: Vec<(String, Vec<u8>)> = outcomes
        .iter()
        .map(|(hash, o)| (keys::broadcast_outcome(id, hash), o.encode(at).into_bytes()))
        .collect();
    set_many("default", &rows)
}

pub async fn put_tally(kv: &Store, id: &BroadcastId, seq: u64, tally: &Tally) -> StoreResult<()> {
    Ok(kv
        .set(
            keys::broadcast_tally(id, seq),
            serde_json::to_vec(tally).expect("json"),
        )
        .await?)
}

/// Records a delivery receipt for one recipient. Only a recipient whose outcome is `sent`
/// moves (compare-and-swap, so a repeated or late receipt changes nothing), and the move
/// is counted under `brd/<id>/receipts/<status>`. A receipt that overtakes the batch's own
/// `sent` row is kept aside (`early/`) for the batch to apply; both sides look again after
/// writing, so the receipt is applied once whichever comes second.
pub fn receive(id: &BroadcastId, member_hash: &str, outcome: Outcome) -> StoreResult<bool> {
    match move_sent(id, member_hash, outcome)? {
        Some(moved) => Ok(moved),
        None => {
            let early = keys::broadcast_early_receipt(id, member_hash);
            set_many(
                "default",
                &[(early.clone(), outcome.encode(now_ms()).into_bytes())],
            )?;
            // The batch may have written `sent` meanwhile, without seeing this.
            let moved = move_sent(id, member_hash, outcome)?.unwrap_or(false);
            if moved {
                crate::many::delete_many("default", &[early])?;
            }
            Ok(true)
        }
    }
}

/// Moves `sent` to `outcome` and counts it. `None`: there is no row yet.
fn move_sent(id: &BroadcastId, member_hash: &str, outcome: Outcome) -> StoreResult<Option<bool>> {
    let swap = Swap::read("default", &keys::broadcast_outcome(id, member_hash))?;
    match swap.current.as_deref().map(Outcome::decode) {
        None => return Ok(None),
        Some(Some(Outcome::Sent)) => {}
        Some(_) => return Ok(Some(false)),
    }
    if !swap.put(outcome.encode_by_receipt(now_ms()).as_bytes())? {
        return Ok(Some(false));
    }
    crate::counters::add(&keys::broadcast_receipts(id, outcome.as_str()), 1)?;
    Ok(Some(true))
}

/// After a batch wrote `sent` rows: applies receipts that arrived before them, each by
/// compare-and-swap from `sent`, and returns the recipients it moved (the batch counts
/// them as their receipt says; the ones the receipt handler moved itself are counted by it).
pub fn apply_early_receipts(
    id: &BroadcastId,
    sent: &[&str],
) -> StoreResult<Vec<(String, Outcome)>> {
    let keys_: Vec<String> = sent
        .iter()
        .map(|h| keys::broadcast_early_receipt(id, h))
        .collect();
    let mut applied = Vec::new();
    let mut seen = Vec::new();
    for ((key, value), hash) in get_many("default", keys_)?.into_iter().zip(sent) {
        let Some(outcome) = value.as_deref().and_then(Outcome::decode) else {
            continue;
        };
        seen.push(key);
        let swap = Swap::read("default", &keys::broadcast_outcome(id, hash))?;
        if swap.current.as_deref().and_then(Outcome::decode) == Some(Outcome::Sent)
            && swap.put(outcome.encode(now_ms()).as_bytes())?
        {
            applied.push((hash.to_string(), outcome));
        }
    }
    crate::many::delete_many("default", &seen)?;
    Ok(applied)
}

/// The sum of every batch's tally, with the receipts that came after.
pub fn tally(id: &BroadcastId) -> StoreResult<Tally> {
    let receipts = crate::counters::read_many(vec![
        keys::broadcast_receipts(id, "delivered"),
        keys::broadcast_receipts(id, "failed"),
    ])?;
    let count = |n: i64| n.max(0) as u64;
    Ok(batch_tally(id)?.with_receipts(count(receipts[0]), count(receipts[1])))
}

/// The sum of the tallies of batches `0..cursor.next_seq`: batches are numbered by the
/// fan-out cursor, so they are read by number (a thousand per batch read), never listed.
fn batch_tally(id: &BroadcastId) -> StoreResult<Tally> {
    let (cursor, _) = read_cursor(id)?;
    let mut sum = Tally::default();
    let mut from = 0;
    while from < cursor.next_seq {
        let to = (from + TALLIES_PER_READ).min(cursor.next_seq);
        let keys = (from..to)
            .map(|seq| keys::broadcast_tally(id, seq))
            .collect();
        for (_, value) in get_many("default", keys)? {
            if let Some(t) = value.and_then(|v| serde_json::from_slice::<Tally>(&v).ok()) {
                sum.add(&t);
            }
        }
        from = to;
    }
    Ok(sum)
}

/// Batch tallies asked for in one batch read.
const TALLIES_PER_READ: u64 = 1000;

/// Opens the members stored under `prefix` with these hashes (absent ones were removed
/// meanwhile and are skipped).
pub async fn open_members(
    prefix: &str,
    hashes: &[String],
) -> StoreResult<Vec<(String, messaging_domain::group::StoredMember)>> {
    let keys = hashes.iter().map(|h| format!("{prefix}{h}")).collect();
    let mut members = Vec::with_capacity(hashes.len());
    for ((key, value), hash) in get_many("default", keys)?.into_iter().zip(hashes) {
        if let Some(value) = value
            && let Some(member) = open_one(&key, &value).await?
        {
            members.push((hash.clone(), member));
        }
    }
    Ok(members)
}
