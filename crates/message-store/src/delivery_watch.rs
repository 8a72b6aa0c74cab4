//! Delivery watches: a sent SMS whose policy falls back to another channel unless it is
//! reported delivered in time (`fallback_unless_delivered_within`).
//!
//! When the provider takes the message, the dispatcher keeps only what the fallback needs
//! (the content and the fallback address; the first channel's address is erased), writes
//! the watch, and queues the message for the first fallback cell at the deadline. Then one
//! of three things happens first:
//! - a receipt says `delivered`: webhook-inbound erases the payload and the watch; the
//!   queued entry finds no watch and is dropped;
//! - a receipt says the message failed: webhook-inbound moves the deadline to now and
//!   asks for the fallback cell's drain ([`fall_back_now`]);
//! - the deadline passes: the fallback cell's tick finds the entry due.
//!
//! In the last two cases the fallback cell's drain takes the message, records the first
//! channel's attempt as `undelivered`, moves the route to the fallback hop and sends.

use crate::{PendingEntry, StoreResult, now_ms, payload, put_payload, set_pending};
use messaging_domain::record::DeliveryWatch;
use messaging_domain::{MessageId, MessageRecord, keys};
use spin_sdk::key_value::Store;

pub async fn get(kv: &Store, id: &MessageId) -> StoreResult<Option<DeliveryWatch>> {
    Ok(kv
        .get(keys::delivery_watch(id))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

pub async fn set(kv: &Store, id: &MessageId, watch: &DeliveryWatch) -> StoreResult<()> {
    let json = serde_json::to_vec(watch).expect("a watch serialises");
    Ok(kv.set(keys::delivery_watch(id), json).await?)
}

pub async fn remove(kv: &Store, id: &MessageId) -> StoreResult<()> {
    Ok(kv.delete(keys::delivery_watch(id)).await?)
}

/// Starts watching a message its provider just took, if its route falls back on a missing
/// receipt and the request gave a fallback address. Returns whether it did; if not, the
/// caller settles the message as usual.
pub async fn start(kv: &Store, record: &MessageRecord) -> StoreResult<bool> {
    let Some(within_ms) = record
        .fallback
        .as_ref()
        .and_then(|f| f.unless_delivered_within_ms)
    else {
        return Ok(false);
    };
    let hop = record.first_fallback_hop();
    let (Some(cell), Some(mut kept)) = (record.cell_at(hop), payload(kv, &record.id).await?) else {
        return Ok(false);
    };
    if kept.fallback.is_none() {
        return Ok(false);
    }
    // The first channel's address and parts are no longer needed by anyone.
    kept.to.clear();
    kept.subject = None;
    kept.email = None;
    put_payload(kv, &record.id, &kept).await?;
    let due_ms = now_ms() + within_ms;
    set(
        kv,
        &record.id,
        &DeliveryWatch {
            hop,
            due_ms,
            reason: format!("not delivered within {}", human(within_ms)),
            fired: false,
        },
    )
    .await?;
    set_pending(
        cell,
        &record.id,
        PendingEntry {
            due_ms,
            attempts: 0,
            scheduled: false,
        },
    )
    .await?;
    Ok(true)
}

/// A receipt reported the message undelivered. If it is watched, its fallback is due now:
/// returns true, and the status is not to be recorded as final (the message is not done).
pub async fn fall_back_now(kv: &Store, record: &MessageRecord, reason: &str) -> StoreResult<bool> {
    let Some(mut watch) = get(kv, &record.id).await? else {
        return Ok(false);
    };
    if watch.fired {
        // The fallback is under way already; a late report changes nothing.
        return Ok(true);
    }
    let Some(cell) = record.cell_at(watch.hop) else {
        return Ok(false);
    };
    watch.due_ms = now_ms();
    watch.reason = reason.to_string();
    set(kv, &record.id, &watch).await?;
    set_pending(
        cell,
        &record.id,
        PendingEntry {
            due_ms: watch.due_ms,
            attempts: 0,
            scheduled: false,
        },
    )
    .await?;
    crate::drain::poke_cell(cell);
    Ok(true)
}

/// `600000` → `10m`, for the attempt history.
fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
