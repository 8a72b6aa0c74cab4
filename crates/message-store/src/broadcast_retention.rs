//! Retention of broadcasts. A broadcast is indexed at creation by the end of its validity
//! ([`BY_EXPIRY`], a time index); `retention` after that, once it has settled (see
//! [`messaging_domain::broadcast::erasable`]), the sweep erases it in two steps:
//!
//! 1. Count: its final counts go to `stats/<day>/broadcast/<status>` (no personal data),
//!    and its erasure's progress (`brd/<id>/erasing`) is written.
//! 2. Erase: a budget of its keys per tick, found from its layout, never by listing: its
//!    batches by the numbers its fan-out cursor gave them (sealed batch, claim, tally,
//!    pending entries, the provider-id mappings its tries wrote), its recipients by the
//!    slots of the roster it walked (outcome rows, early receipts, and for listed
//!    recipients their sealed member keys), then its fixed keys, the record last.
//!
//! A crash between counting and writing the progress counts the broadcast twice
//! (statistics only); nothing personal is left behind, since erasing resumes from the
//! progress. A group broadcast finds its recipients in the group's roster: a member removed
//! from the group before the broadcast is erased leaves its outcome row (a status and a
//! time under a keyed hash).

use crate::log::Log;
use crate::many::{delete_many, get_one, set_many};
use crate::retention::{SweepReport, stats_key};
use crate::time_index::TimeIndex;
use crate::{StoreResult, now_ms};
use messaging_domain::api::rfc3339_millis;
use messaging_domain::broadcast::{BroadcastRecord, erasable};
use messaging_domain::{BroadcastId, keys};
use spin_sdk::key_value::Store;

/// Broadcasts by the time their validity ends.
pub const BY_EXPIRY: TimeIndex = TimeIndex::swept("sweep/broadcast-expiry");

/// Batches or roster slots handled per store round trip.
const PAGE: u64 = 500;

/// The list of the provider-id mapping lists one batch's tries wrote.
pub fn batch_pid_lists(id: &BroadcastId, seq: u64) -> Log {
    Log::new(format!("{}/pids/{seq:010}", keys::broadcast(id)))
}

/// How far a broadcast's erasure got.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Progress {
    /// The next batch number whose keys are erased.
    seq: u64,
    /// The last roster slot whose recipient's keys are erased.
    slot: u64,
}

fn progress_key(id: &BroadcastId) -> String {
    format!("{}/erasing", keys::broadcast(id))
}

/// Sweeps broadcasts past `retention_ms`, erasing at most about `budget` keys.
pub async fn sweep(kv: &Store, retention_ms: u64, budget: usize) -> StoreResult<SweepReport> {
    let mut report = SweepReport::default();
    let mut left = budget;
    let now = now_ms();
    let cutoff = now.saturating_sub(retention_ms);
    report.examined = BY_EXPIRY
        .sweep(cutoff, usize::MAX, async |value: &str| {
            let Some(id) = BroadcastId::parse(value) else {
                return Ok(true);
            };
            if left == 0 {
                return Ok(false);
            }
            let Some(record) = crate::broadcasts::record(kv, &id).await? else {
                return Ok(true);
            };
            let (erased, finished) = erase(kv, &record, (now, retention_ms), left).await?;
            left = left.saturating_sub(erased.max(1));
            if finished {
                report.erased += 1;
            }
            Ok(finished)
        })
        .await?;
    Ok(report)
}

/// Adds the broadcast's final counts to the day's statistics.
fn count(record: &BroadcastRecord) -> StoreResult<()> {
    let day = &rfc3339_millis(record.created_ms)[..10];
    let tally = crate::broadcasts::tally(&record.id)?;
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

/// Erases up to about `budget` keys of the broadcast, if it may go at `now` (once started,
/// an erasure goes on); when none are left, its record. Returns how many keys it erased
/// and whether it finished.
async fn erase(
    kv: &Store,
    record: &BroadcastRecord,
    (now, retention_ms): (u64, u64),
    budget: usize,
) -> StoreResult<(usize, bool)> {
    let id = &record.id;
    let (cursor, _) = crate::broadcasts::read_cursor(id)?;
    let mut progress = match get_one("default", &progress_key(id))?.as_deref() {
        Some(stored) => serde_json::from_slice(stored).unwrap_or_default(),
        None => {
            let tally = crate::broadcasts::tally(id)?;
            let cancelled = crate::broadcasts::is_cancelled(kv, id).await?;
            if !erasable(record, (&cursor, &tally, cancelled), now, retention_ms) {
                return Ok((0, false));
            }
            count(record)?;
            Progress::default()
        }
    };
    let mut erased = 0;
    while progress.seq < cursor.next_seq && erased < budget {
        let to = (progress.seq + PAGE).min(cursor.next_seq);
        erased += erase_batches(record, progress.seq, to)?;
        progress.seq = to;
        save(id, &progress)?;
    }
    let roster = match &record.group {
        Some(group) => keys::group_members(group),
        None => keys::broadcast_members(id),
    };
    let listed = record.group.is_none();
    while erased < budget {
        let page = crate::groups::roster_page(&roster, progress.slot, PAGE)?;
        let mut gone = Vec::new();
        for (_, hash) in &page.entries {
            gone.push(keys::broadcast_outcome(id, hash));
            gone.push(keys::broadcast_early_receipt(id, hash));
            if listed {
                let member = format!("{roster}{hash}");
                gone.push(keys::roster_claim(&member));
                gone.push(keys::roster_slot_of(&member));
                gone.push(member);
            }
        }
        erased += gone.len();
        delete_many("default", &gone)?;
        progress.slot = page.last_slot;
        save(id, &progress)?;
        if page.exhausted {
            break;
        }
    }
    if erased >= budget {
        return Ok((erased, false));
    }
    if listed {
        let list = Log::new(keys::roster_log(&roster));
        list.erase(list.numbered()?)?;
    }
    let mut fixed = vec![
        keys::broadcast_content(id),
        keys::broadcast_cursor(id),
        keys::broadcast_lease(id),
        keys::broadcast_cancelled(id),
        keys::broadcast_receipts(id, "delivered"),
        keys::broadcast_receipts(id, "failed"),
        progress_key(id),
    ];
    fixed.push(keys::broadcast(id));
    erased += fixed.len();
    delete_many("default", &fixed)?;
    crate::many::delete_many("pending", &[keys::pending_fanout(record.emergency, id)])?;
    Ok((erased, true))
}

fn save(id: &BroadcastId, progress: &Progress) -> StoreResult<()> {
    set_many(
        "default",
        &[(
            progress_key(id),
            serde_json::to_vec(progress).expect("json"),
        )],
    )
}

/// Erases the keys of batches `from..to`: each sealed batch, claim and tally, its pending
/// entries at every cell, and the provider-id mappings its tries wrote with their lists.
fn erase_batches(record: &BroadcastRecord, from: u64, to: u64) -> StoreResult<usize> {
    let id = &record.id;
    let mut gone = Vec::new();
    let mut pending = Vec::new();
    for seq in from..to {
        gone.push(keys::broadcast_batch(id, seq));
        gone.push(keys::broadcast_batch_claim(id, seq));
        gone.push(keys::broadcast_tally(id, seq));
        for cell in record.cells.values() {
            pending.push(keys::pending_batch(cell, record.emergency, id, seq));
        }
        let lists = batch_pid_lists(id, seq);
        let numbered = lists.numbered()?;
        if numbered > 0 {
            for (_, list) in lists.page(0, numbered)?.entries {
                let pids: Vec<String> = serde_json::from_str(&list).unwrap_or_default();
                gone.extend(pids);
            }
            gone.extend((1..=numbered).map(|n| lists.slot(n)));
            gone.push(lists.counter_key());
        }
    }
    delete_many("default", &gone)?;
    delete_many("pending", &pending)?;
    Ok(gone.len() + pending.len())
}
