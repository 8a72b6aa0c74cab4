//! The development outbox's store (`messaging_domain::providers::outbox`): senders whose
//! provider is `outbox` keep each message here, sealed, instead of sending it.

use crate::time_index::TimeIndex;
use crate::{StoreResult, get_sealed, put_sealed};
use messaging_domain::providers::outbox::{Entry, STORE};
use spin_sdk::key_value::Store;

/// The outbox's entries by the minute they were kept, for retention. Not by the time in
/// their ids: a broadcast recipient's id is derived from a hash and carries no time.
const KEPT: TimeIndex = TimeIndex::swept("sweep/outbox");

/// Keeps `entry` in the outbox (a repeated send of the same message replaces it). `Err`:
/// why not, safe to store and log (a sender defers the message with it).
pub async fn keep(entry: &Entry) -> Result<(), String> {
    let kept: StoreResult<()> = async {
        let store = Store::open(STORE).await?;
        put_sealed(&store, entry.key(), entry).await?;
        KEPT.add(crate::now_ms(), entry.key())
    }
    .await;
    kept.map_err(|e| format!("outbox store: {e}"))
}

/// The entries the outbox holds, oldest first.
///
/// Lists the store's keys without a cursor, which every Spin backend offers, unordered: the
/// outbox is a development provider, small by construction, and erased with the records.
pub async fn entries() -> StoreResult<Vec<Entry>> {
    let store = Store::open(STORE).await?;
    let mut ids: Vec<String> = crate::buckets::open(STORE)?.list_keys(None)?.keys;
    ids.sort();
    let mut entries = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(entry) = get_sealed::<Entry>(&store, &id).await? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Erases up to `limit` entries kept before `cutoff_ms`, oldest first; returns how many.
pub async fn erase_kept_before(cutoff_ms: u64, limit: usize) -> StoreResult<usize> {
    let mut erased = 0;
    KEPT.sweep(cutoff_ms, limit, async |id: &str| {
        crate::many::delete_many(STORE, &[id.to_string()])?;
        erased += 1;
        Ok(true)
    })
    .await?;
    Ok(erased)
}
