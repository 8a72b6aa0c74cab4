//! Broadcasts in the store: the record, the sealed content, the fan-out cursor, the
//! batches, one outcome row per recipient and one tally per batch (see
//! `messaging_domain::broadcast` for why a recipient is not a message).

use crate::many::{get_many, open_one, seal_all, set_many};
use crate::{PendingEntry, StoreResult, Swap, get_sealed, now_ms, open_pending, page, put_sealed};
use messaging_domain::broadcast::{Batch, BroadcastRecord, Content, Cursor, Outcome, Tally};
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
    queue_fanout(record).await
}

/// Puts the broadcast's fan-out entry in the pending store, due at its `send_at`.
pub async fn queue_fanout(record: &BroadcastRecord) -> StoreResult<()> {
    let due_ms = record.send_at_ms.unwrap_or(record.created_ms);
    Ok(open_pending()
        .await?
        .set(
            keys::pending_fanout(record.emergency, &record.id),
            serde_json::to_vec(&PendingEntry {
                due_ms,
                attempts: 0,
                scheduled: record.send_at_ms.is_some(),
            })
            .expect("json"),
        )
        .await?)
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
    let entry = serde_json::to_vec(&PendingEntry {
        due_ms: now_ms(),
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
    set_many("pending", &pending)
}

/// The sequence numbers of the broadcast's batches still pending at `cell`.
pub fn waiting_batches(record: &BroadcastRecord, cell: &str) -> StoreResult<Vec<u64>> {
    let prefix = format!(
        "{}{}/",
        keys::pending_batches(cell),
        messaging_domain::broadcast::BatchRef::new(record.emergency, record.id.clone(), 0)
            .as_str()
            .rsplit_once('/')
            .map(|(head, _)| head)
            .unwrap_or_default()
    );
    page("pending", &prefix, None, usize::MAX, |rest| {
        rest.parse().ok()
    })
}

pub async fn batch(kv: &Store, id: &BroadcastId, seq: u64) -> StoreResult<Option<Batch>> {
    get_sealed(kv, &keys::broadcast_batch(id, seq)).await
}

/// Writes back the recipients still to send (after deferrals) and when to try again.
pub async fn retry_batch(
    kv: &Store,
    record: &BroadcastRecord,
    seq: u64,
    batch: &Batch,
    due_ms: u64,
) -> StoreResult<()> {
    put_sealed(kv, &keys::broadcast_batch(&record.id, seq), batch).await?;
    Ok(open_pending()
        .await?
        .set(
            keys::pending_batch(&batch.cell, record.emergency, &record.id, seq),
            // Due exactly then: no hand-over is in flight for a batch already tried.
            serde_json::to_vec(&PendingEntry {
                due_ms,
                attempts: batch.attempts,
                scheduled: true,
            })
            .expect("json"),
        )
        .await?)
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

/// The outcomes already recorded for these members (a batch retried after a crash skips
/// them).
pub fn outcomes(id: &BroadcastId, hashes: &[&str]) -> StoreResult<Vec<Option<Outcome>>> {
    let keys = hashes
        .iter()
        .map(|h| keys::broadcast_outcome(id, h))
        .collect();
    Ok(get_many("default", keys)?
        .into_iter()
        .map(|(_, v)| v.as_deref().and_then(Outcome::decode))
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

/// The sum of every batch's tally.
pub fn tally(id: &BroadcastId) -> StoreResult<Tally> {
    let prefix = keys::broadcast_tallies(id);
    let mut sum = Tally::default();
    let mut after: Option<String> = None;
    loop {
        let seqs = page("default", &prefix, after.as_deref(), 1000, |rest| {
            Some(rest.to_string())
        })?;
        let Some(last) = seqs.last().cloned() else {
            break;
        };
        let keys = seqs.iter().map(|s| format!("{prefix}{s}")).collect();
        for (_, value) in get_many("default", keys)? {
            if let Some(t) = value.and_then(|v| serde_json::from_slice::<Tally>(&v).ok()) {
                sum.add(&t);
            }
        }
        if seqs.len() < 1000 {
            break;
        }
        after = Some(last);
    }
    Ok(sum)
}

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
