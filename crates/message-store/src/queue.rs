//! Queues of pending work, indexed by due time, in the pending store
//! (`messaging_domain::due` decides; this module reads and writes).
//!
//! A queue `Q` (a delivery cell's messages, `batch/<cell>`, `fanout`, `notifier`) keeps:
//! - each id's pending entry at `Q/<id>`: the one truth (absent: settled);
//! - a numbered list per bucket of due time, `q/Q/<bucket>` (`crate::log`), of the ids due
//!   in it, appended whenever an entry is written;
//! - its cursor, `q/Q/cursor`: the first bucket a tick reads.
//!
//! So a tick reads the buckets from the cursor up to now, never the work due later, and its
//! cost does not grow with the backlog waiting for later.
//!
//! Invariant (no id is skipped): a writer appends its id to a bucket, then reads the cursor,
//! and appends again to the cursor's bucket if the cursor has moved past its own. A reader
//! moves the cursor past a bucket only by compare-and-swap from the value it started from,
//! then reads the counters of the buckets it passed again, and appends again to the
//! cursor's bucket every id numbered there meanwhile. With a store whose operations take
//! effect in one order (all backends here), either the reader's second reading sees the
//! writer's slot, or the writer's reading of the cursor sees the move. A slot numbered but
//! never written (its writer died) holds its bucket open for `due::WRITE_GRACE_MS` at most.

use crate::log::Log;
use crate::many::{get_many, get_one};
use crate::{PendingEntry, StoreResult, Swap, counters};
use messaging_domain::due::{self, Slot};
use std::collections::BTreeSet;

/// The store that holds the queues and their pending entries.
pub const STORE: &str = "pending";
/// Bucket counters read in one batch read.
const COUNTERS_PER_READ: u64 = 1000;
/// Buckets a tick looks at, at most (about two days of 10 s buckets): after a longer idle
/// spell the next ticks go on from where this one stopped.
const BUCKETS_PER_TICK: u64 = 20_000;
/// Slots read in one batch read.
const SLOTS_PER_READ: u64 = 500;
/// How often a writer that lost the race to create a queue's cursor reads it again before
/// writing it itself (its creator died between its claim and its write).
const CURSOR_WAITS: usize = 20;

fn cursor_key(queue: &str) -> String {
    format!("q/{queue}/cursor")
}

pub(crate) fn bucket_log(queue: &str, bucket: u64) -> Log {
    Log::in_store(STORE, format!("q/{queue}/{bucket}"))
}

/// The key of `id`'s pending entry in `queue`.
pub fn entry_key(queue: &str, id: &str) -> String {
    format!("{queue}/{id}")
}

pub(crate) fn read_cursor(queue: &str) -> StoreResult<Option<u64>> {
    Ok(
        get_one(STORE, &cursor_key(queue))?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok()),
    )
}

/// Writes the pending entries `entries` (id, entry) of `queue`, all due at `due_ms`, with
/// their slots in the due index: one increment numbers the slots, one `set-many` writes
/// entries and slots together, so no reader sees a slot without its entry.
pub async fn put(queue: &str, entries: &[(String, Vec<u8>)], due_ms: u64) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let bucket = due::bucket_of(due_ms);
    let log = bucket_log(queue, bucket);
    let first = log.reserve(entries.len() as u64)?;
    let mut rows = Vec::with_capacity(entries.len() * 2);
    for (slot, (id, entry)) in (first..).zip(entries) {
        rows.push((entry_key(queue, id), entry.clone()));
        rows.push((log.slot(slot), id.as_bytes().to_vec()));
    }
    crate::many::set_many(STORE, &rows)?;
    let ids: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
    follow_cursor(queue, &ids, bucket).await
}

/// Indexes `ids` of `queue`, whose pending entries (due at `due_ms`) are written already.
pub async fn index(queue: &str, ids: &[String], due_ms: u64) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let bucket = due::bucket_of(due_ms);
    bucket_log(queue, bucket).append(ids)?;
    follow_cursor(queue, ids, bucket).await
}

/// After `ids` were appended to `bucket`: reads the cursor (creating the queue's first),
/// and appends them again to the cursor's bucket if a reader has moved past theirs.
async fn follow_cursor(queue: &str, ids: &[String], mut bucket: u64) -> StoreResult<()> {
    loop {
        let cursor = match read_cursor(queue)? {
            Some(cursor) => cursor,
            // Never ahead of now: a reader only moves a cursor past buckets that ended, so
            // a cursor is never past the current bucket, and an id appended again to it
            // waits for nothing.
            None => create_cursor(queue, bucket.min(due::bucket_of(crate::now_ms()))).await?,
        };
        if cursor <= bucket {
            return Ok(());
        }
        // A tick moved past our bucket: the cursor's bucket is read next.
        bucket = cursor;
        bucket_log(queue, bucket).append(ids)?;
    }
}

/// Creates the queue's cursor at `bucket`, or waits for the writer that won the claim to
/// create it; returns it.
async fn create_cursor(queue: &str, bucket: u64) -> StoreResult<u64> {
    let claim = format!("q/{queue}/cursor-made");
    if counters::add_in(STORE, &claim, 1)? == 1 {
        crate::many::set_many(
            STORE,
            &[(cursor_key(queue), bucket.to_string().into_bytes())],
        )?;
        return Ok(bucket);
    }
    for _ in 0..CURSOR_WAITS {
        if let Some(cursor) = read_cursor(queue)? {
            return Ok(cursor);
        }
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(5_000_000).await;
    }
    crate::many::set_many(
        STORE,
        &[(cursor_key(queue), bucket.to_string().into_bytes())],
    )?;
    Ok(read_cursor(queue)?.unwrap_or(bucket))
}

/// What a tick found: how many slots it looked at, and the ids due now (emergency work
/// first where ids say so: `0/...` before `1/...`; otherwise in id order).
pub struct Found {
    pub examined: usize,
    pub due: Vec<String>,
}

/// Up to `limit` ids of `queue` due at `now_ms` (`grace_ms`: see `due::due_for_tick_ms`),
/// moving the cursor past the buckets it emptied.
pub async fn due(queue: &str, limit: usize, grace_ms: u64, now_ms: u64) -> StoreResult<Found> {
    let mut found = Found {
        examined: 0,
        due: Vec::new(),
    };
    let Some(start) = read_cursor(queue)? else {
        return Ok(found);
    };
    let last = due::bucket_of(now_ms).min(start + BUCKETS_PER_TICK);
    let mut due_ids = BTreeSet::new();
    let mut passed: Vec<(u64, u64)> = Vec::new();
    let mut passing = true;
    let mut from = start;
    'buckets: while from <= last {
        let to = (from + COUNTERS_PER_READ - 1).min(last);
        let keys = (from..=to)
            .map(|b| bucket_log(queue, b).counter_key())
            .collect();
        for (bucket, numbered) in (from..=to).zip(counters::read_many_in(STORE, keys)?) {
            let numbered = numbered.max(0) as u64;
            let slots = if numbered == 0 {
                Vec::new()
            } else {
                read_bucket(queue, bucket, numbered, grace_ms, now_ms, &mut due_ids).await?
            };
            found.examined += slots.len();
            passing = passing && due::passable(bucket, &slots, now_ms);
            if passing {
                passed.push((bucket, numbered));
            }
            if !passing && due_ids.len() >= limit {
                break 'buckets;
            }
        }
        from = to + 1;
    }
    if let Some(&(last_passed, _)) = passed.last() {
        move_cursor(queue, start, last_passed + 1, &passed).await?;
    }
    found.due = due_ids.into_iter().take(limit).collect();
    Ok(found)
}

/// Classifies every slot of one bucket, adding the ids due to `due_ids`.
async fn read_bucket(
    queue: &str,
    bucket: u64,
    numbered: u64,
    grace_ms: u64,
    now_ms: u64,
    due_ids: &mut BTreeSet<String>,
) -> StoreResult<Vec<Slot>> {
    let log = bucket_log(queue, bucket);
    let mut slots = Vec::with_capacity(numbered as usize);
    let mut after = 0;
    while after < numbered {
        let page = log.page(after, SLOTS_PER_READ)?;
        let mut expected = after + 1;
        let keys = page
            .entries
            .iter()
            .map(|(_, id)| entry_key(queue, id))
            .collect();
        let entries = get_many(STORE, keys)?;
        for ((slot, id), (_, value)) in page.entries.iter().zip(entries) {
            slots.extend((expected..*slot).map(|_| Slot::Unwritten));
            expected = slot + 1;
            let entry = value
                .and_then(|v| serde_json::from_slice::<PendingEntry>(&v).ok())
                .map(|e| due::Entry {
                    due_ms: e.due_ms,
                    due_for_tick_ms: due::due_for_tick_ms(
                        e.due_ms,
                        e.attempts,
                        e.scheduled,
                        grace_ms,
                    ),
                });
            let verdict = due::classify(bucket, entry, now_ms);
            if verdict == Slot::Due {
                due_ids.insert(id.clone());
            }
            slots.push(verdict);
        }
        slots.extend((expected..=page.last_slot).map(|_| Slot::Unwritten));
        after = page.last_slot;
        if page.exhausted {
            break;
        }
    }
    Ok(slots)
}

/// Moves the cursor from `start` to `next` past the `passed` buckets (with the counts they
/// had when read), then appends again to `next` whatever was numbered in them meanwhile,
/// and erases them.
pub(crate) async fn move_cursor(
    queue: &str,
    start: u64,
    next: u64,
    passed: &[(u64, u64)],
) -> StoreResult<()> {
    let swap = Swap::read(STORE, &cursor_key(queue))?;
    if swap.current.as_deref() != Some(start.to_string().as_bytes())
        || !swap.put(next.to_string().as_bytes())?
    {
        // Another tick moved it: it owns these buckets now.
        return Ok(());
    }
    let keys = passed
        .iter()
        .map(|&(b, _)| bucket_log(queue, b).counter_key())
        .collect();
    for (&(bucket, seen), now) in passed.iter().zip(counters::read_many_in(STORE, keys)?) {
        let now = now.max(0) as u64;
        let log = bucket_log(queue, bucket);
        if now > seen {
            let late = log.page(seen, now - seen)?;
            let ids: Vec<String> = late.entries.into_iter().map(|(_, id)| id).collect();
            let ids: Vec<String> = ids
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if !ids.is_empty() {
                index(queue, &ids, next * due::BUCKET_MS).await?;
            }
        }
        log.erase(now)?;
    }
    Ok(())
}

/// How many slots of `queue` are in buckets due by `now_ms`, counting no further than
/// `cap`: an upper bound of the work a tick would look at now (slots of settled work
/// count until a tick passes their bucket), for an autoscaler.
pub fn due_slots(queue: &str, now_ms: u64, cap: u64) -> StoreResult<u64> {
    let Some(start) = read_cursor(queue)? else {
        return Ok(0);
    };
    let last = due::bucket_of(now_ms).min(start + BUCKETS_PER_TICK);
    let mut total = 0;
    let mut from = start;
    while from <= last && total < cap {
        let to = (from + COUNTERS_PER_READ - 1).min(last);
        let keys = (from..=to)
            .map(|b| bucket_log(queue, b).counter_key())
            .collect();
        total += counters::read_many_in(STORE, keys)?
            .into_iter()
            .map(|n| n.max(0) as u64)
            .sum::<u64>();
        from = to + 1;
    }
    Ok(total.min(cap))
}
