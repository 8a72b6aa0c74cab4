//! Counters: keys written only by `wasi:keyvalue/atomics.increment` and read with
//! `messaging_domain::counter::decode` (backends store them in different forms; see there).
//! Member counts, quotas, receipts per broadcast, statistics of erased records, and the
//! numbering of attempts.

use crate::StoreResult;
use crate::many::get_many;
use spin_sdk::experimental::wasi::keyvalue::atomics;

/// Adds `delta` (negative: takes back) to the counter at `key` of the default store,
/// atomically across instances and hosts; returns the new count.
pub fn add(key: &str, delta: i64) -> StoreResult<i64> {
    add_in("default", key, delta)
}

/// [`add`] in the store labelled `label`.
pub fn add_in(label: &str, key: &str, delta: i64) -> StoreResult<i64> {
    let bucket = crate::buckets::open(label)?;
    Ok(atomics::increment(&bucket, key, delta)?)
}

/// The counter at `key` of the default store (absent: 0).
pub fn read(key: &str) -> StoreResult<i64> {
    read_in("default", key)
}

/// [`read`] in the store labelled `label`.
pub fn read_in(label: &str, key: &str) -> StoreResult<i64> {
    Ok(read_many_in(label, vec![key.to_string()])?[0])
}

/// The counters at `keys`, in order (absent: 0), in one batch read.
pub fn read_many(keys: Vec<String>) -> StoreResult<Vec<i64>> {
    read_many_in("default", keys)
}

/// [`read_many`] in the store labelled `label`.
pub fn read_many_in(label: &str, keys: Vec<String>) -> StoreResult<Vec<i64>> {
    Ok(get_many(label, keys)?
        .into_iter()
        .map(|(_, v)| {
            v.as_deref()
                .and_then(messaging_domain::counter::decode)
                .unwrap_or(0)
        })
        .collect())
}
