//! Draining a queue: one worker at a time holds the queue's drain lease, reads its due
//! work page by page (`crate::queue`'s index, each slot about once per run:
//! `messaging_domain::drain::Progress`) and hands each page to its worker, until nothing
//! is due.
//!
//! Producers write their pending entries first, then [`poke`]: they ask for a drain only
//! when none is running, so under load one drain takes every producer's work in pages
//! instead of one worker call per item. Nothing is lost between them:
//! - a producer writes its entry, then reads the lease;
//! - a drain that finds nothing due releases the lease, then reads the queue once more.
//!
//! Either the producer sees the lease released (and pokes), or the drain's last reading
//! sees the entry. A drain that dies leaves its lease to run out ([`LEASE_MS`]); the
//! worker's tick starts a drain too, so work waits at most that long plus a tick.

use crate::queue::{self, entry_key};
use crate::work::Lease;
use crate::{PendingEntry, StoreResult, counters, many::get_many, now_ms};
use messaging_domain::drain::{Progress, ToRead};
use messaging_domain::due::{self, Entry};

/// How long a drain's lease lasts unless renewed; its holder renews it every third of
/// that while it works (`Lease::hold_during`).
pub const LEASE_MS: u64 = 30_000;
/// Buckets a drain looks at, at most (about two days of 10 s buckets): after a longer
/// idle spell the next drains go on from where this one stopped.
const BUCKETS_PER_RUN: u64 = 20_000;
/// Bucket counters read in one batch read.
const COUNTERS_PER_READ: u64 = 1000;

fn lease_key(queue: &str) -> String {
    format!("drain/{queue}")
}

/// Whether a drain of `queue` holds its lease now.
pub fn running(queue: &str) -> StoreResult<bool> {
    let now = now_ms();
    Ok(crate::many::get_one("default", &lease_key(queue))?
        .is_some_and(|v| messaging_domain::lease::is_held(&v, now)))
}

/// Asks for a drain of `queue` at `uri` (the worker's private route) after the current
/// response, unless one is running: it will find the work this caller has just queued.
/// Call it after the pending entries are written. A lost poke delays the work until the
/// worker's next tick.
pub fn poke(queue: &str, uri: String) {
    match running(queue) {
        Ok(true) => {}
        // Unreadable: ask anyway; a drain that finds another running leaves at once.
        Ok(false) | Err(_) => crate::work::post_after_response(uri, serde_json::json!({})),
    }
}

/// [`poke`] for a delivery cell's queue of single messages (its `/drain` route).
pub fn poke_cell(cell: &str) {
    poke(cell, format!("http://{cell}.spin.internal/drain"));
}

/// What one call of [`run`] did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    /// Another drain held the lease: this one did nothing.
    pub busy: bool,
    /// Ids handed to the worker.
    pub handed: usize,
    /// The budget ran out with work left: the caller asks for another drain.
    pub more: bool,
}

/// Drains `queue`: takes its lease, then hands pages of up to `page` due ids to `work`
/// until nothing is due or `budget_ms` has passed. `work` must settle or reschedule each
/// id it is given (an id still due after it is handed again only later:
/// `messaging_domain::drain::REHAND_MS`).
pub async fn run<W, F>(queue: &str, page: usize, budget_ms: u64, mut work: W) -> StoreResult<Report>
where
    W: FnMut(Vec<String>) -> F,
    F: Future<Output = ()>,
{
    let mut report = Report::default();
    if queue::read_cursor(queue)?.is_none() {
        // The queue never had work (its first producer creates the cursor, then asks).
        return Ok(report);
    }
    let Some(mut lease) = Lease::take(&lease_key(queue), LEASE_MS)? else {
        report.busy = true;
        return Ok(report);
    };
    let mut reader = Reader::start(queue)?;
    let ends_at = now_ms() + budget_ms;
    loop {
        let drained = lease
            .hold_during(async {
                loop {
                    let ids = reader.next(page, now_ms()).await?;
                    if ids.is_empty() {
                        return Ok::<_, crate::StoreError>(false);
                    }
                    report.handed += ids.len();
                    work(ids).await;
                    if now_ms() >= ends_at {
                        return Ok(true);
                    }
                }
            })
            .await;
        lease.release()?;
        if drained? {
            report.more = true;
            return Ok(report);
        }
        // Released: a producer that saw the lease held wrote its entry before; read once
        // more, and go on if something came meanwhile and no other drain took over.
        let ids = reader.next(page, now_ms()).await?;
        if ids.is_empty() {
            return Ok(report);
        }
        match Lease::take(&lease_key(queue), LEASE_MS)? {
            Some(taken) => lease = taken,
            None => return Ok(report),
        }
        report.handed += ids.len();
        work(ids).await;
    }
}

/// A drain's reading of one queue: from the queue's cursor up to now, remembering what it
/// read (`Progress`), and moving the cursor past the buckets it is done with.
struct Reader {
    queue: String,
    /// The cursor as this reader last saw or moved it; `None`: the queue never had work.
    cursor: Option<u64>,
    progress: Progress,
}

impl Reader {
    fn start(queue: &str) -> StoreResult<Reader> {
        Ok(Reader {
            queue: queue.to_string(),
            cursor: queue::read_cursor(queue)?,
            progress: Progress::new(),
        })
    }

    /// Up to about `limit` ids due at `now_ms`, in slot order (work handed before and
    /// found still due comes on top). Reads on past slots that hold nothing due until it
    /// finds some or has read every numbered slot.
    async fn next(&mut self, limit: usize, now_ms: u64) -> StoreResult<Vec<String>> {
        if self.cursor.is_none() {
            // A producer creates the cursor with its first entry.
            self.cursor = queue::read_cursor(&self.queue)?;
        }
        let Some(cursor) = self.cursor else {
            return Ok(Vec::new());
        };
        let numbered = self.numbered(cursor, now_ms)?;
        let mut due_ids = Vec::new();
        let mut again = true;
        while due_ids.is_empty() && (again || self.progress.unread(&numbered) > 0) {
            let reads = self
                .progress
                .to_read(&numbered, now_ms, limit as u64, again);
            again = false;
            due_ids.extend(self.read(&reads, now_ms)?);
        }
        // An id rescheduled within its bucket has a second slot there: hand it once.
        let mut seen = std::collections::BTreeSet::new();
        due_ids.retain(|id| seen.insert(id.clone()));
        let done = self.progress.take_done(&numbered, now_ms);
        if let Some(&(last, _)) = done.last() {
            queue::move_cursor(&self.queue, cursor, last + 1, &done).await?;
            // Moved by this reader or, if it lost the race, by another: read where it is.
            self.cursor = queue::read_cursor(&self.queue)?;
        }
        Ok(due_ids)
    }

    /// Reads `reads` (slot values where unknown, then every pending entry) in two batch
    /// reads; returns the ids due now, which [`Progress`] counts as handed.
    fn read(&mut self, reads: &[ToRead], now_ms: u64) -> StoreResult<Vec<String>> {
        let unknown: Vec<usize> = (0..reads.len())
            .filter(|&i| reads[i].id.is_none())
            .collect();
        let slot_keys = unknown
            .iter()
            .map(|&i| queue::bucket_log(&self.queue, reads[i].bucket).slot(reads[i].slot))
            .collect();
        let mut ids: Vec<Option<String>> = reads.iter().map(|r| r.id.clone()).collect();
        for (&i, (_, value)) in unknown.iter().zip(get_many(queue::STORE, slot_keys)?) {
            ids[i] = value.and_then(|v| String::from_utf8(v).ok());
        }
        let entry_keys = ids
            .iter()
            .flatten()
            .map(|id| entry_key(&self.queue, id))
            .collect();
        let mut entries = get_many(queue::STORE, entry_keys)?.into_iter();
        let mut due_ids = Vec::new();
        for (read, id) in reads.iter().zip(ids) {
            let entry = match &id {
                Some(_) => entries
                    .next()
                    .and_then(|(_, v)| v)
                    .and_then(|v| serde_json::from_slice::<PendingEntry>(&v).ok())
                    .map(|e| Entry {
                        due_ms: e.due_ms,
                        due_for_tick_ms: e.due_ms,
                    }),
                None => None,
            };
            if self
                .progress
                .found(read.bucket, read.slot, id.as_deref(), entry, now_ms)
            {
                due_ids.push(id.expect("due work has an id"));
            }
        }
        Ok(due_ids)
    }

    /// How many slots each bucket from `cursor` up to now's has numbered.
    fn numbered(&self, cursor: u64, now_ms: u64) -> StoreResult<Vec<(u64, u64)>> {
        let last = due::bucket_of(now_ms).min(cursor + BUCKETS_PER_RUN);
        let mut numbered = Vec::new();
        let mut from = cursor;
        while from <= last {
            let to = (from + COUNTERS_PER_READ - 1).min(last);
            let keys = (from..=to)
                .map(|b| queue::bucket_log(&self.queue, b).counter_key())
                .collect();
            numbered.extend(
                (from..=to).zip(
                    counters::read_many_in(queue::STORE, keys)?
                        .into_iter()
                        .map(|n| n.max(0) as u64),
                ),
            );
            from = to + 1;
        }
        Ok(numbered)
    }
}
