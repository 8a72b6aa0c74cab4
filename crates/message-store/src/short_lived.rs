//! Keys that serve for a while and then only take space: idempotency and duplicate-request
//! reservations (`idem/`, `mhash/`: an id and when it was reserved), the provider ids of
//! inbound reports and service tokens already seen (`seen/`: a lease until), and GovStack email requests
//! (`govstack/request/`: the ids of their messages and when), and CAP alerts' identities
//! (`cap/`: their broadcasts and how long those are valid), failed authentications per
//! client address (`authfail/`: a counter per minute), and the reminders waiting for a
//! recipient's answer (`conv/`: who asked, and until when). None holds personal data, but
//! each grows with every request. The writer that makes such a key tracks it in its
//! family's time index ([`track`]); the sweeper walks each index from the oldest, a page per
//! tick, and erases the keys whose value says they are past use: reservations
//! and requests `retention` after they were made (their messages are erased by then),
//! seen ids once their lease ended, alert identities `retention` after their broadcasts'
//! validity (when the broadcasts are erased), failure counters once their minute is over
//! and reminders once each of them has expired (neither waits for the retention: see
//! [`sweep_cutoff`]).

use crate::many::{delete_many, get_one};
use crate::time_index::TimeIndex;
use crate::{StoreResult, now_ms};
use messaging_domain::auth_failures;
use messaging_domain::cap::record::AlertRecord;
use messaging_domain::reminders::Reminders;
use messaging_domain::short_lived::{lease_past_use, request_past_use, reservation_past_use};
use spin_sdk::key_value::Store;

/// How a family's keys say they are past use.
enum PastUse {
    /// By their value, read at `now` with a retention cut-off.
    Value(fn(&[u8], u64, u64) -> bool),
    /// By the key alone, at `now` (its value is a counter, which carries no time).
    Key(fn(&str, u64) -> bool),
}

/// Each family: its key prefix, the time index its keys are tracked in (by when they were
/// made), and how they say they are past use.
const FAMILIES: [(&str, TimeIndex, PastUse); 7] = [
    (
        "idem/",
        TimeIndex::swept("sweep/short/idem"),
        PastUse::Value(reservation_past_use),
    ),
    (
        "mhash/",
        TimeIndex::swept("sweep/short/mhash"),
        PastUse::Value(reservation_past_use),
    ),
    (
        "seen/",
        TimeIndex::swept("sweep/short/seen"),
        PastUse::Value(lease_past_use),
    ),
    (
        "govstack/request/",
        TimeIndex::swept("sweep/short/govstack"),
        PastUse::Value(request_past_use),
    ),
    (
        "cap/",
        TimeIndex::swept("sweep/short/cap"),
        PastUse::Value(AlertRecord::past_use),
    ),
    (
        "authfail/",
        TimeIndex::swept("sweep/short/authfail"),
        PastUse::Key(auth_failures::counter_past_use),
    ),
    (
        "conv/",
        TimeIndex::swept("sweep/short/conv"),
        PastUse::Value(reminders_past_use),
    ),
];

fn reminders_past_use(value: &[u8], now: u64, _cutoff: u64) -> bool {
    Reminders::past_use(value, now)
}

/// How long after they were made a family's keys are looked at by the sweep: after the
/// retention, except failure counters, which are worth nothing after their minute and,
/// made by unauthenticated requests, must not pile up for a retention period.
fn sweep_cutoff(prefix: &str, now: u64, retention_ms: u64) -> u64 {
    match prefix {
        "authfail/" => now.saturating_sub(auth_failures::WINDOW_MS),
        // Indexed at their expiry ([`track_until`]), not when made.
        "conv/" => now,
        _ => now.saturating_sub(retention_ms),
    }
}

/// Tracks a key of one of the families, made now, for the sweep to find. Called by the
/// writer that created it (a key of no family is not tracked).
pub fn track(key: &str) -> StoreResult<()> {
    track_until(key, now_ms())
}

/// Tracks a key of one of the families at `until_ms`, for the sweep to find once it has
/// passed: when it was made for most families, when it ends for the reminders of `conv/`.
pub fn track_until(key: &str, until_ms: u64) -> StoreResult<()> {
    match FAMILIES
        .iter()
        .find(|(prefix, _, _)| key.starts_with(prefix))
    {
        Some((_, index, _)) => index.add(until_ms, key),
        None => Ok(()),
    }
}

/// [`track`] for a writer that writes the keys in a batch of its own: numbers each key's
/// slot in its family's index (one increment per family) and returns the slots' rows, to
/// write with the keys (a key of no family gets none).
pub fn tracking_rows(keys: &[String]) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let now = now_ms();
    let mut rows = Vec::with_capacity(keys.len());
    for (prefix, index, _) in &FAMILIES {
        let family: Vec<&String> = keys.iter().filter(|k| k.starts_with(prefix)).collect();
        let slots = index.reserve_many(now, family.len() as u64)?;
        rows.extend(
            slots
                .into_iter()
                .zip(family)
                .map(|(slot, key)| (slot, key.as_bytes().to_vec())),
        );
    }
    Ok(rows)
}

/// Takes the `seen/` lease at `key` for `lease_ms` and tracks it for the sweep; false if
/// a live lease holds it (the same provider report, or the same token, seen before).
pub fn first_sight(key: &str, lease_ms: u64) -> StoreResult<bool> {
    debug_assert!(key.starts_with("seen/"), "{key} is not of the seen/ family");
    let first = crate::work::take_lease(key, lease_ms)?;
    if first {
        track(key)?;
    }
    Ok(first)
}

/// Examines up to `limit` keys of each family, oldest first, and erases those past use.
/// Returns how many it erased.
pub async fn sweep(_kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<usize> {
    let now = now_ms();
    let mut erased = 0;
    for (prefix, index, past_use) in &FAMILIES {
        let cutoff = sweep_cutoff(prefix, now, retention_ms);
        index
            .sweep(cutoff, limit, async |key: &str| {
                let done = match past_use {
                    PastUse::Key(by_key) => by_key(key, now),
                    PastUse::Value(by_value) => match get_one("default", key)? {
                        Some(value) => by_value(&value, now, cutoff),
                        None => return Ok(true),
                    },
                };
                if !done {
                    // A recipient's reminders each have an entry at their own expiry, so
                    // this one, due, can go while later ones keep the value.
                    return Ok(*prefix == "conv/");
                }
                delete_many("default", &[key.to_string()])?;
                erased += 1;
                Ok(true)
            })
            .await?;
    }
    Ok(erased)
}
