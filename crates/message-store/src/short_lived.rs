//! Keys that serve for a while and then only take space: idempotency and duplicate-request
//! reservations (`idem/`, `mhash/`: an id and when it was reserved), the provider ids of
//! inbound reports already seen (`seen/`: a lease until), and GovStack email requests
//! (`govstack/request/`: the ids of their messages and when), and CAP alerts' identities
//! (`cap/`: their broadcasts and how long those are valid). None holds personal data, but
//! each grows with every request. The writer that makes such a key tracks it in its
//! family's time index ([`track`]); the sweeper walks each index from the oldest, a page per
//! tick, and erases the keys whose value says they are past use: reservations
//! and requests `retention` after they were made (their messages are erased by then),
//! seen ids once their lease ended, alert identities `retention` after their broadcasts'
//! validity (when the broadcasts are erased).

use crate::many::{delete_many, get_one};
use crate::time_index::TimeIndex;
use crate::{StoreResult, now_ms};
use messaging_domain::cap::record::AlertRecord;
use messaging_domain::short_lived::{lease_past_use, request_past_use, reservation_past_use};
use spin_sdk::key_value::Store;

/// Whether a value, read at `now` with a retention cut-off, is past use.
type PastUse = fn(&[u8], u64, u64) -> bool;

/// Each family: its key prefix, the time index its keys are tracked in (by when they were
/// made), and how its values say they are past use.
const FAMILIES: [(&str, TimeIndex, PastUse); 5] = [
    (
        "idem/",
        TimeIndex::new("sweep/short/idem"),
        reservation_past_use,
    ),
    (
        "mhash/",
        TimeIndex::new("sweep/short/mhash"),
        reservation_past_use,
    ),
    ("seen/", TimeIndex::new("sweep/short/seen"), lease_past_use),
    (
        "govstack/request/",
        TimeIndex::new("sweep/short/govstack"),
        request_past_use,
    ),
    (
        "cap/",
        TimeIndex::new("sweep/short/cap"),
        AlertRecord::past_use,
    ),
];

/// Tracks a key of one of the families, made now, for the sweep to find. Called by the
/// writer that created it (a key of no family is not tracked).
pub fn track(key: &str) -> StoreResult<()> {
    match FAMILIES
        .iter()
        .find(|(prefix, _, _)| key.starts_with(prefix))
    {
        Some((_, index, _)) => index.add(now_ms(), key),
        None => Ok(()),
    }
}

/// Examines up to `limit` keys of each family, oldest first, and erases those past use.
/// Returns how many it erased.
pub async fn sweep(_kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<usize> {
    let now = now_ms();
    let cutoff = now.saturating_sub(retention_ms);
    let mut erased = 0;
    for (_, index, past_use) in &FAMILIES {
        index
            .sweep(cutoff, limit, async |key: &str| {
                let Some(value) = get_one("default", key)? else {
                    return Ok(true);
                };
                if !past_use(&value, now, cutoff) {
                    return Ok(false);
                }
                delete_many("default", &[key.to_string()])?;
                erased += 1;
                Ok(true)
            })
            .await?;
    }
    Ok(erased)
}
