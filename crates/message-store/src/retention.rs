//! Retention: message records are erased some time after they were accepted (`retention`,
//! 7 days by default), leaving only counts per day, channel and final status
//! (`stats/<day>/<channel>/<status>`), which hold no personal data.
//!
//! The sweeper walks the messages by the minute they were accepted ([`ACCEPTED`], a time
//! index), a page per tick, oldest first. A message that has not reached a final status is
//! never erased: retention ends a
//! record's life, never a message's delivery. Order of work per message: count, then erase
//! the sub-keys, then the record. A crash in between can count a message twice (statistics
//! only) but never leaves personal data behind or loses an undelivered message.

use crate::time_index::TimeIndex;
use crate::{StoreResult, history, now_ms, record};
use messaging_domain::api::rfc3339_millis;
use messaging_domain::{InboundId, MessageId, Status, keys};
use spin_sdk::key_value::Store;

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

/// Messages by the minute they were accepted: the sweep's walk (the insert writes the slot
/// in the same batch as the message).
pub const ACCEPTED: TimeIndex = TimeIndex::swept("sweep/accepted");
/// Inbound messages kept for polling owners (`<owner>/<id>`), by the minute they came.
pub const INBOUND: TimeIndex = TimeIndex::swept("sweep/inbound");

/// Sweeps up to `limit` messages, oldest first, erasing those accepted more than
/// `retention_ms` ago whose outcome is final.
pub async fn sweep(kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<SweepReport> {
    let cutoff = now_ms().saturating_sub(retention_ms);
    let mut erased = 0;
    let examined = ACCEPTED
        .sweep(cutoff, limit, async |value: &str| {
            let Some(id) = MessageId::parse(value) else {
                return Ok(true);
            };
            let Some(record) = record(kv, &id).await? else {
                return Ok(true);
            };
            if record.created_ms > cutoff {
                return Ok(false);
            }
            let Some(outcome) = Status::current(&history(&id)?).filter(|s| s.is_final()) else {
                return Ok(false);
            };
            let day = &rfc3339_millis(record.created_ms)[..10];
            count(&stats_key(day, record.channel.as_str(), outcome.as_str()))?;
            erase(kv, &id).await?;
            erased += 1;
            Ok(true)
        })
        .await?;
    Ok(SweepReport {
        examined,
        erased,
        ..SweepReport::default()
    })
}

/// Sweeps up to `limit` inbound messages kept for polling owners (`inbound/<owner>/<id>`,
/// sealed: the citizen's number and words), oldest first, erasing those received more than
/// `retention_ms` ago that their owner never fetched and deleted, and counting them in
/// `stats/<day>/inbound/unfetched`. Returns how many it erased.
pub async fn sweep_inbound(kv: &Store, retention_ms: u64, limit: usize) -> StoreResult<usize> {
    let cutoff = now_ms().saturating_sub(retention_ms);
    let mut erased = 0;
    INBOUND
        .sweep(cutoff, limit, async |value: &str| {
            let Some((owner, id)) = value.split_once('/') else {
                return Ok(true);
            };
            let Some(id) = InboundId::parse(id) else {
                return Ok(true);
            };
            if id.time_ms() > cutoff {
                return Ok(false);
            }
            let key = keys::inbound(owner, &id);
            if kv.exists(&key).await? {
                let day = &rfc3339_millis(id.time_ms())[..10];
                count(&stats_key(day, "inbound", "unfetched"))?;
                kv.delete(&key).await?;
                erased += 1;
            }
            Ok(true)
        })
        .await?;
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
