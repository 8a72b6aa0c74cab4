//! Numbered lists: the store's one ordered structure that every Spin key-value backend can
//! carry (SQLite, Redis, DynamoDB, Cosmos DB), since it needs no listing of keys, only an
//! atomic increment and batch reads and writes.
//!
//! A list named `N` is a counter `N/n`, which numbers its slots from 1, and one key per
//! slot, `N/<slot>`, holding a short value (an id, a member hash). Appending takes the next
//! numbers with one increment and writes them with one `set-many`; reading takes a range of
//! slot numbers with one `get-many`. A slot whose value is missing is a hole: removed, or
//! numbered by a writer that has not written it yet; readers skip holes, so a page can
//! hold fewer entries than it asked for without the list being exhausted.
//!
//! Invariant: slot numbers are never reused (the counter only grows), so a reader's
//! position (the last slot it covered) stays valid whatever is appended or removed.

use crate::many::{delete_many, get_many, set_many};
use crate::{StoreResult, counters};

/// One numbered list, in one store.
pub struct Log {
    label: &'static str,
    name: String,
}

/// A range of a list, read in slot order.
#[derive(Debug, Default)]
pub struct Page {
    /// The entries found, with their slot numbers, in slot order.
    pub entries: Vec<(u64, String)>,
    /// The last slot the page covered: the next page starts after it.
    pub last_slot: u64,
    /// No slot after this page was numbered when the page was read.
    pub exhausted: bool,
}

impl Log {
    /// The list named `name` in the default store (a key prefix of its own: nothing else
    /// may live under it).
    pub fn new(name: impl Into<String>) -> Log {
        Log::in_store("default", name)
    }

    /// The list named `name` in the store labelled `label`.
    pub fn in_store(label: &'static str, name: impl Into<String>) -> Log {
        Log {
            label,
            name: name.into(),
        }
    }

    /// The key of the counter that numbers the slots.
    pub fn counter_key(&self) -> String {
        format!("{}/n", self.name)
    }

    /// The key of slot `n`.
    pub fn slot(&self, n: u64) -> String {
        format!("{}/{n}", self.name)
    }

    /// How many slots were numbered so far.
    pub fn numbered(&self) -> StoreResult<u64> {
        Ok(counters::read_in(self.label, &self.counter_key())?.max(0) as u64)
    }

    /// Numbers `count` slots for a writer that writes them itself (in a batch of its own);
    /// returns the first. Readers see them as holes until written.
    pub fn reserve(&self, count: u64) -> StoreResult<u64> {
        let last = counters::add_in(self.label, &self.counter_key(), count as i64)? as u64;
        Ok(last + 1 - count)
    }

    /// Appends `values` in order; returns the slot each took.
    pub fn append(&self, values: &[String]) -> StoreResult<Vec<u64>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let last = counters::add_in(self.label, &self.counter_key(), values.len() as i64)? as u64;
        let first = last + 1 - values.len() as u64;
        let slots: Vec<u64> = (first..=last).collect();
        let rows: Vec<(String, Vec<u8>)> = slots
            .iter()
            .zip(values)
            .map(|(&n, value)| (self.slot(n), value.as_bytes().to_vec()))
            .collect();
        set_many(self.label, &rows)?;
        Ok(slots)
    }

    /// Up to `limit` slots after slot `after` (0: from the first).
    pub fn page(&self, after: u64, limit: u64) -> StoreResult<Page> {
        let numbered = self.numbered()?;
        let last_slot = after.saturating_add(limit).min(numbered).max(after);
        let slots: Vec<u64> = (after + 1..=last_slot).collect();
        let keys = slots.iter().map(|&n| self.slot(n)).collect();
        let entries = slots
            .into_iter()
            .zip(get_many(self.label, keys)?)
            .filter_map(|(n, (_, value))| Some((n, String::from_utf8(value?).ok()?)))
            .collect();
        Ok(Page {
            entries,
            last_slot,
            exhausted: last_slot >= numbered,
        })
    }

    /// Empties these slots (their numbers stay used).
    pub fn remove(&self, slots: &[u64]) -> StoreResult<()> {
        let keys: Vec<String> = slots.iter().map(|&n| self.slot(n)).collect();
        delete_many(self.label, &keys)
    }

    /// Erases the list whole, `numbered` slots and its counter.
    pub fn erase(&self, numbered: u64) -> StoreResult<()> {
        let mut keys: Vec<String> = (1..=numbered).map(|n| self.slot(n)).collect();
        keys.push(self.counter_key());
        delete_many(self.label, &keys)
    }
}
