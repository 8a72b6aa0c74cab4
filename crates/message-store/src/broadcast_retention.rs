//! Retention of broadcasts. A broadcast is indexed at creation by the end of its validity
//! (`brdidx/<expires>/<id>`); `retention` after that it can no longer be sending, and the
//! sweep erases it in two steps:
//!
//! 1. Count: its final counts go to `stats/<day>/broadcast/<status>` (no personal data),
//!    and the index entry is swapped for `brderase/<id>`.
//! 2. Erase: a page of its keys per tick (outcome rows keyed by member hash, batches,
//!    tallies, listed recipients, the provider-id mappings its batches wrote), the record
//!    and `brderase/<id>` last. A million-recipient broadcast takes many ticks.
//!
//! A crash between counting and the swap counts the broadcast twice (statistics only);
//! nothing personal is left behind, since the erase step resumes from `brderase/`.

use crate::many::{delete_many, get_many};
use crate::retention::{SweepReport, stats_key};
use crate::{StoreResult, now_ms, page};
use messaging_domain::api::rfc3339_millis;
use messaging_domain::{BroadcastId, keys};
use spin_sdk::key_value::Store;

/// Keys erased per page.
const PAGE: usize = 500;

/// Sweeps broadcasts past `retention_ms`, erasing at most about `budget` keys.
pub async fn sweep(kv: &Store, retention_ms: u64, budget: usize) -> StoreResult<SweepReport> {
    let mut report = SweepReport::default();
    let mut left = budget;
    // Finish what is being erased before counting more.
    for id in page("default", "brderase/", None, 10, |rest| {
        BroadcastId::parse(rest)
    })? {
        let (keys_erased, finished) = erase(kv, &id, left).await?;
        left = left.saturating_sub(keys_erased);
        if !finished {
            return Ok(report);
        }
        report.erased += 1;
    }
    let cutoff = now_ms().saturating_sub(retention_ms);
    let due = page("default", "brdidx/", None, 10, |rest| {
        let (expires, id) = rest.split_once('/')?;
        Some((expires.parse::<u64>().ok()?, BroadcastId::parse(id)?))
    })?;
    for (expires_ms, id) in due.into_iter().take_while(|(e, _)| *e <= cutoff) {
        report.examined += 1;
        count(kv, &id).await?;
        kv.set(keys::broadcast_to_erase(&id), b"").await?;
        kv.delete(keys::broadcast_by_expiry(expires_ms, &id))
            .await?;
    }
    Ok(report)
}

/// Adds the broadcast's final counts to the day's statistics.
async fn count(kv: &Store, id: &BroadcastId) -> StoreResult<()> {
    let Some(record) = crate::broadcasts::record(kv, id).await? else {
        return Ok(());
    };
    let day = &rfc3339_millis(record.created_ms)[..10];
    let tally = crate::broadcasts::tally(id)?;
    for (status, n) in [
        ("sent", tally.sent),
        ("delivered", tally.delivered),
        ("failed", tally.failed),
        ("expired", tally.expired),
        ("cancelled", tally.cancelled),
    ] {
        if n > 0 {
            crate::counters::add(&stats_key(day, "broadcast", status), n as i64)?;
        }
    }
    Ok(())
}

/// Erases up to `budget` keys of the broadcast; when none are left, its record and its
/// `brderase/` entry. Returns how many keys it erased and whether it finished.
async fn erase(kv: &Store, id: &BroadcastId, budget: usize) -> StoreResult<(usize, bool)> {
    let prefix = format!("{}/", keys::broadcast(id));
    let mut erased = 0;
    while erased < budget {
        let rests = page("default", &prefix, None, PAGE, |rest| {
            Some(rest.to_string())
        })?;
        if rests.is_empty() {
            kv.delete(keys::broadcast(id)).await?;
            kv.delete(keys::broadcast_to_erase(id)).await?;
            return Ok((erased, true));
        }
        let keys: Vec<String> = rests.iter().map(|r| format!("{prefix}{r}")).collect();
        // A batch's provider-id mappings go before the list that names them.
        let pid_lists: Vec<String> = keys
            .iter()
            .filter(|k| k[prefix.len()..].starts_with("pids/"))
            .cloned()
            .collect();
        if !pid_lists.is_empty() {
            for (_, list) in get_many("default", pid_lists)? {
                let pids: Vec<String> = list
                    .and_then(|v| serde_json::from_slice(&v).ok())
                    .unwrap_or_default();
                erased += pids.len();
                delete_many("default", &pids)?;
            }
        }
        erased += keys.len();
        delete_many("default", &keys)?;
    }
    Ok((erased, false))
}
