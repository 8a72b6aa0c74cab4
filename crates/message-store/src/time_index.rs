//! Time indexes: short values (ids, entries) kept by the minute of a time (when a message
//! was made, when an audit entry was recorded), so that a sweep or a read walks a time range
//! in order without listing keys.
//!
//! An index `N` keeps minute `m`'s values in the numbered list `N/m/<m>` (`crate::log`), and
//! counts in `N/h/<h>` how many of hour `h`'s minutes have values: the writer that takes a
//! minute's first slot counts it. A walk over months reads one counter per hour, then the
//! minute counters of the hours that have values. Sweeps keep their place in `N/sweep`;
//! a first sweep starts at the index's origin (`N/origin`), the earliest hour it had values
//! in, which the writer of each hour's first value lowers if need be.
//!
//! An index that only sweeps read ([`TimeIndex::swept`]) numbers its slots ahead
//! (`messaging_domain::slot_block`): an instance takes spare slot numbers with an
//! increment and uses them for its next values of the same minute. Its sweeps already treat
//! a slot never written as done once its minute is over, and they do not care about order.

use crate::log::Log;
use crate::many::{get_many, set_many};
use crate::{StoreResult, Swap, counters};
use messaging_domain::slot_block::{SlotBlock, Take};
use std::cell::RefCell;
use std::collections::HashMap;

/// Milliseconds per minute, the index's unit.
pub const MINUTE_MS: u64 = 60_000;
const MINUTES_PER_HOUR: u64 = 60;
/// Hour counters read per batch read.
const HOURS_PER_READ: u64 = 1000;
/// The oldest value a read looks for (about two years): longer than any retention a
/// deployment sets.
pub const OLDEST_KEPT_MS: u64 = 2 * 366 * 24 * 3_600_000;
/// Tries at lowering an index's origin while other writers change it.
const ORIGIN_ATTEMPTS: usize = 8;
/// How long an origin's creation claim lasts.
const ORIGIN_CLAIM_MS: u64 = 60_000;

/// One time index of the default store.
pub struct TimeIndex {
    name: &'static str,
    /// Slots are numbered ahead (only sweeps read the index).
    ahead: bool,
}

thread_local! {
    /// Per swept index, the slots this instance numbered ahead and has not used: store
    /// positions, never request data (allowed in `xtask/globals-allowed.txt`).
    static SLOTS_AHEAD: RefCell<HashMap<&'static str, SlotBlock>> = RefCell::new(HashMap::new());
}

impl TimeIndex {
    /// An index whose readers page through a minute in slot order (the audit trail):
    /// every slot is numbered when its value is written.
    pub const fn new(name: &'static str) -> TimeIndex {
        TimeIndex { name, ahead: false }
    }

    /// An index that only sweeps read: slots are numbered ahead, a block at a time.
    pub const fn swept(name: &'static str) -> TimeIndex {
        TimeIndex { name, ahead: true }
    }

    /// The list of minute `minute`.
    pub fn minute(&self, minute: u64) -> Log {
        Log::new(format!("{}/m/{minute}", self.name))
    }

    fn hour_counter(&self, hour: u64) -> String {
        format!("{}/h/{hour}", self.name)
    }

    /// Numbers a slot for a value of time `at_ms` that the caller writes itself (in a batch
    /// of its own); returns the slot's key.
    pub fn reserve(&self, at_ms: u64) -> StoreResult<String> {
        Ok(self
            .reserve_many(at_ms, 1)?
            .pop()
            .expect("one slot was reserved"))
    }

    /// Numbers `count` slots for values of time `at_ms` that the caller writes itself in
    /// one batch, with one increment; returns their keys in slot order.
    pub fn reserve_many(&self, at_ms: u64, count: u64) -> StoreResult<Vec<String>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let minute = at_ms / MINUTE_MS;
        let list = self.minute(minute);
        let first = if self.ahead {
            self.number_ahead(&list, minute, count)?
        } else {
            let first = list.reserve(count)?;
            self.count_minute(minute, first)?;
            first
        };
        Ok((first..first + count).map(|n| list.slot(n)).collect())
    }

    /// `count` slots of `minute`'s list from this instance's block, numbering a new block
    /// when it is used up; the first.
    fn number_ahead(&self, list: &Log, minute: u64, count: u64) -> StoreResult<u64> {
        let take = SLOTS_AHEAD
            .with_borrow_mut(|blocks| blocks.entry(self.name).or_default().take(minute, count));
        let by = match take {
            Take::Ready { first } => return Ok(first),
            Take::Increment { by } => by,
        };
        let first = list.reserve(by)?;
        self.count_minute(minute, first)?;
        SLOTS_AHEAD.with_borrow_mut(|blocks| {
            blocks
                .entry(self.name)
                .or_default()
                .numbered(minute, count, by, first)
        });
        Ok(first)
    }

    /// After numbering slots from `first` in `minute`'s list: the writer of a minute's first
    /// slot counts the minute in its hour.
    fn count_minute(&self, minute: u64, first: u64) -> StoreResult<()> {
        if first == 1 {
            let hour = minute / MINUTES_PER_HOUR;
            if counters::add(&self.hour_counter(hour), 1)? == 1 {
                self.lower_origin(hour)?;
            }
        }
        Ok(())
    }

    /// Keeps `value` under the minute of `at_ms`.
    pub fn add(&self, at_ms: u64, value: &str) -> StoreResult<()> {
        let key = self.reserve(at_ms)?;
        set_many("default", &[(key, value.as_bytes().to_vec())])
    }

    /// The minutes from `from_minute` to `until_minute` that have had values, in order,
    /// skipping the hours that had none.
    pub fn minutes_with_values(
        &self,
        from_minute: u64,
        until_minute: u64,
    ) -> StoreResult<Vec<u64>> {
        let mut minutes = Vec::new();
        let last_hour = until_minute / MINUTES_PER_HOUR;
        let mut hour = from_minute / MINUTES_PER_HOUR;
        while hour <= last_hour {
            let to = (hour + HOURS_PER_READ - 1).min(last_hour);
            let keys = (hour..=to).map(|h| self.hour_counter(h)).collect();
            for (h, count) in (hour..=to).zip(counters::read_many(keys)?) {
                if count <= 0 {
                    continue;
                }
                let first = (h * MINUTES_PER_HOUR).max(from_minute);
                let last = ((h + 1) * MINUTES_PER_HOUR - 1).min(until_minute);
                let keys = (first..=last)
                    .map(|m| self.minute(m).counter_key())
                    .collect();
                for (m, n) in (first..=last).zip(counters::read_many(keys)?) {
                    if n > 0 {
                        minutes.push(m);
                    }
                }
            }
            hour = to + 1;
        }
        Ok(minutes)
    }

    fn origin_key(&self) -> String {
        format!("{}/origin", self.name)
    }

    /// Makes the index's origin (the earliest hour it ever had values in, where a first
    /// sweep starts) no later than `hour`. Called by the writer of an hour's first value,
    /// so once an hour at most: a claim creates it, compare-and-swap lowers it.
    fn lower_origin(&self, hour: u64) -> StoreResult<()> {
        let key = self.origin_key();
        for _ in 0..ORIGIN_ATTEMPTS {
            let swap = Swap::read("default", &key)?;
            let origin: Option<u64> = swap
                .current
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
            match origin {
                Some(origin) if origin <= hour => return Ok(()),
                Some(_) => {
                    if swap.put(hour.to_string().as_bytes())? {
                        return Ok(());
                    }
                }
                None => {
                    if let Some(claim) = crate::claims::take(&key, ORIGIN_CLAIM_MS)? {
                        set_many("default", &[(key.clone(), hour.to_string().into_bytes())])?;
                        return claim.release();
                    }
                }
            }
        }
        Err(crate::StoreError::from_text(&format!(
            "{key} kept changing"
        )))
    }

    /// The first minute a sweep has not finished: where the last sweep stopped, else the
    /// index's origin. `None`: the index never had a value, and there is nothing to sweep.
    pub fn sweep_start(&self) -> StoreResult<Option<u64>> {
        let read = get_many(
            "default",
            vec![format!("{}/sweep", self.name), self.origin_key()],
        )?;
        let number = |v: &Option<Vec<u8>>| -> Option<u64> {
            std::str::from_utf8(v.as_deref()?).ok()?.parse().ok()
        };
        Ok(number(&read[0].1).or_else(|| number(&read[1].1).map(|h| h * MINUTES_PER_HOUR)))
    }

    /// Records that every minute before `minute` is finished.
    pub fn sweep_done_before(&self, minute: u64) -> StoreResult<()> {
        set_many(
            "default",
            &[(
                format!("{}/sweep", self.name),
                minute.to_string().into_bytes(),
            )],
        )
    }

    /// Erases the hour counters of hours before `before_minute`'s that the sweep finished.
    pub fn forget_hours(&self, from_minute: u64, before_minute: u64) -> StoreResult<()> {
        let (first, last) = (
            from_minute / MINUTES_PER_HOUR,
            before_minute / MINUTES_PER_HOUR,
        );
        let keys: Vec<String> = (first..last).map(|h| self.hour_counter(h)).collect();
        crate::many::delete_many("default", &keys)
    }
}

/// Slots read per batch read by a sweep.
const SLOTS_PER_READ: u64 = 500;

impl TimeIndex {
    /// Walks the index from its sweep position up to `cutoff_ms`'s minute, offering each
    /// value to `finish`, which says whether the value is done with (its thing erased now,
    /// or gone already); at most `limit` values. Each minute whose values are all done,
    /// once `cutoff_ms` is past its end, is erased, and the sweep position moves past it
    /// while every minute before is erased too. Returns how many values it offered.
    ///
    /// A slot numbered but never written (its writer died) counts as done once its minute
    /// ended a minute before the cut-off; younger, it may still be written.
    pub async fn sweep(
        &self,
        cutoff_ms: u64,
        limit: usize,
        mut finish: impl AsyncFnMut(&str) -> StoreResult<bool>,
    ) -> StoreResult<usize> {
        let cutoff_minute = cutoff_ms / MINUTE_MS;
        let Some(start) = self.sweep_start()? else {
            return Ok(0);
        };
        let mut offered = 0;
        let mut done_before = start;
        let mut all_done_so_far = true;
        for minute in self.minutes_with_values(start, cutoff_minute)? {
            if offered >= limit {
                all_done_so_far = false;
                break;
            }
            let list = self.minute(minute);
            let numbered = list.numbered()?;
            let holes_done = minute + 1 < cutoff_minute;
            let mut minute_done = true;
            let mut after = 0;
            while after < numbered {
                let page = list.page(after, SLOTS_PER_READ)?;
                let written = page.entries.len() as u64;
                if written < page.last_slot - after && !holes_done {
                    minute_done = false;
                }
                let mut finished = Vec::new();
                for (slot, value) in page.entries {
                    offered += 1;
                    if finish(&value).await? {
                        finished.push(slot);
                    } else {
                        minute_done = false;
                    }
                }
                list.remove(&finished)?;
                after = page.last_slot;
                if page.exhausted || offered >= limit {
                    if after < numbered {
                        minute_done = false;
                    }
                    break;
                }
            }
            if minute_done && minute < cutoff_minute {
                list.erase(numbered)?;
                if all_done_so_far {
                    done_before = minute + 1;
                }
            } else {
                all_done_so_far = false;
            }
        }
        if all_done_so_far {
            done_before = done_before.max(cutoff_minute);
        }
        if done_before > start {
            self.forget_hours(start, done_before)?;
            self.sweep_done_before(done_before)?;
        }
        Ok(offered)
    }
}
