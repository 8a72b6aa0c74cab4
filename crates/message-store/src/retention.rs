//! Retention: message records are erased some time after they were accepted (`retention`,
//! 7 days by default), leaving only counts per day, channel and final status
//! (`stats/<day>/<channel>/<status>`), which hold no personal data.
//!
//! The sweeper walks `msg/` a page per tick with a cursor (`sweep/cursor`), wrapping at the
//! end. A message that has not reached a final status is never erased: retention ends a
//! record's life, never a message's delivery. Order of work per message: count, then erase
//! the sub-keys, then the record. A crash in between can count a message twice (statistics
//! only) but never leaves personal data behind or loses an undelivered message.

use crate::{StoreResult, history, now_ms, page, record};
use messaging_domain::api::rfc3339_millis;
use messaging_domain::{InboundId, MessageId, Status, keys};
use spin_sdk::key_value::Store;

const CURSOR_KEY: &str = "sweep/cursor";
const INBOUND_CURSOR_KEY: &str = "sweep/inbound-cursor";

/// What one sweep did.
#[derive(Debug, Default, serde::Serialize)]
pub struct SweepReport {
    pub examined: usize,
    pub erased: usize,
    /// Broadcasts whose last keys were erased.
    #[serde(skip_serializing_if = "is_zero")]
    pub broadcasts_erased: usize,
    /// Inbound messages their owner never fetched, erased.
    #[serde(skip_serializing_if = "is_zero")]
    pub inbound_erased: usize,
    /// Reservations, seen provider ids and request records past use, erased.
    #[serde(skip_serializing_if = "is_zero")]
    pub leftovers_erased: usize,
    /// Audit trail entries older than `audit_retention`, erased.
    #[serde(skip_serializing_if = "is_zero")]
    pub audit_erased: usize,
    /// Development outbox entries of messages older than `retention`, erased.
    #[serde(skip_serializing_if = "is_zero")]
    pub outbox_erased: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The counter a swept message adds to.
pub fn stats_key(day: &str, channel: &str, status: &str) -> String {
    format!("stats/{day}/{channel}/{status}")
}

/// Sweeps up to `limit` messages after the cursor, erasing those accepted more than
/// `retention_ms` ago whose outcome is final.
pub async fn sweep(kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<SweepReport> {
    let cursor = cursor(kv, CURSOR_KEY).await?;
    let ids = page("default", "msg/", cursor.as_deref(), limit, |rest| {
        (!rest.contains('/'))
            .then(|| MessageId::parse(rest))
            .flatten()
    })?;
    let mut report = SweepReport {
        examined: ids.len(),
        ..SweepReport::default()
    };
    let cutoff = now_ms().saturating_sub(retention_ms);
    for id in &ids {
        let Some(record) = record(kv, id).await? else {
            continue;
        };
        if record.created_ms > cutoff {
            continue;
        }
        let Some(outcome) = Status::current(&history(id)?).filter(|s| s.is_final()) else {
            continue;
        };
        let day = &rfc3339_millis(record.created_ms)[..10];
        count(&stats_key(day, record.channel.as_str(), outcome.as_str()))?;
        erase(kv, id).await?;
        report.erased += 1;
    }
    let last = ids.last().map(MessageId::as_str);
    move_cursor(kv, CURSOR_KEY, last, ids.len() == limit).await?;
    Ok(report)
}

/// Where the sweep of a prefix left off at its last tick (kept under `cursor_key`); none:
/// at the start.
pub(crate) async fn cursor(kv: &Store, cursor_key: &str) -> StoreResult<Option<String>> {
    Ok(kv
        .get(cursor_key)
        .await?
        .and_then(|b| String::from_utf8(b).ok()))
}

/// Moves a sweep's cursor past `last`, the last key it read; a page that was not `full`
/// reached the end of the prefix, and the next tick starts again from the beginning.
pub(crate) async fn move_cursor(
    kv: &Store,
    cursor_key: &str,
    last: Option<&str>,
    full: bool,
) -> StoreResult<()> {
    match last {
        Some(last) if full => Ok(kv.set(cursor_key, last).await?),
        _ => Ok(kv.delete(cursor_key).await?),
    }
}

/// Sweeps up to `limit` inbound messages kept for polling owners (`inbound/<owner>/<id>`,
/// sealed: the citizen's number and words) after a cursor, erasing those received more
/// than `retention_ms` ago that their owner never fetched and deleted, and counting them
/// in `stats/<day>/inbound/unfetched`. Returns how many it erased.
pub async fn sweep_inbound(kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<usize> {
    let cursor = cursor(kv, INBOUND_CURSOR_KEY).await?;
    let listed = page("default", "inbound/", cursor.as_deref(), limit, |rest| {
        let (_, id) = rest.split_once('/')?;
        Some((rest.to_string(), InboundId::parse(id)?))
    })?;
    let cutoff = now_ms().saturating_sub(retention_ms);
    let mut erased = 0;
    for (rest, id) in &listed {
        if id.time_ms() > cutoff {
            continue;
        }
        let day = &rfc3339_millis(id.time_ms())[..10];
        count(&stats_key(day, "inbound", "unfetched"))?;
        kv.delete(format!("inbound/{rest}")).await?;
        erased += 1;
    }
    let last = listed.last().map(|(rest, _)| rest.as_str());
    move_cursor(kv, INBOUND_CURSOR_KEY, last, listed.len() == limit).await?;
    Ok(erased)
}

/// Adds one to a statistics counter (atomic: concurrent sweeps lose no counts).
fn count(key: &str) -> StoreResult<()> {
    crate::counters::add(key, 1).map(drop)
}

/// Erases every key of a message: its provider-id mapping, sub-keys, the record last.
async fn erase(kv: &Store, id: &MessageId) -> StoreResult<()> {
    if let Some(mapping) = kv.get(keys::message_provider_mapping(id)).await?
        && let Ok(mapping) = String::from_utf8(mapping)
        && mapping.starts_with("pid/")
    {
        kv.delete(mapping).await?;
    }
    let parts = keys::message_parts(id, crate::attempt_count(id)?);
    crate::many::delete_many("default", &parts)?;
    Ok(kv.delete(keys::message(id)).await?)
}
