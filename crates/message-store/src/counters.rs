//! Counters: keys written only by `wasi:keyvalue/atomics.increment` and read with
//! `messaging_domain::counter::decode` (backends store them in different forms; see there).
//! Member counts, quotas, receipts per broadcast, statistics of erased records, and the
//! numbering of attempts.

use crate::StoreResult;
use crate::many::get_many;
use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wkv};

/// Adds `delta` (negative: takes back) to the counter at `key` of the default store,
/// atomically across instances and hosts; returns the new count.
pub fn add(key: &str, delta: i64) -> StoreResult<i64> {
    let bucket = wkv::open("default")?;
    Ok(atomics::increment(&bucket, key, delta)?)
}

/// The counter at `key` of the default store (absent: 0).
pub fn read(key: &str) -> StoreResult<i64> {
    Ok(read_many(vec![key.to_string()])?[0])
}

/// The counters at `keys`, in order (absent: 0), in one batch read.
pub fn read_many(keys: Vec<String>) -> StoreResult<Vec<i64>> {
    Ok(get_many("default", keys)?
        .into_iter()
        .map(|(_, v)| {
            v.as_deref()
                .and_then(messaging_domain::counter::decode)
                .unwrap_or(0)
        })
        .collect())
}
