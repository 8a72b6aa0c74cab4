//! Inbound messages kept for their owner, for systems that poll `GET /v1/inbound` instead
//! of receiving callbacks.
//!
//! Each record is one sealed key, `inbound/<owner>/<id>`; the owner's numbered list
//! (`crate::log`, `inbound/<owner>/~`) holds the ids in arrival order, so listing needs no
//! key listing. The record is written before its id is appended: an id in the list whose
//! record is gone was fetched and deleted (or erased by retention), and the list's head
//! (`inbound/<owner>/~head`, the last slot known to hold only such ids) moves past it.

use crate::StoreResult;
use crate::log::Log;
use crate::many::{delete_many, get_many, open_one};
use messaging_domain::conversation::InboundRecord;
use messaging_domain::{InboundId, keys};
use spin_sdk::key_value::Store;

/// Slots read per batch read while listing.
const SLOTS_PER_READ: u64 = 500;

fn list_of(owner: &str) -> Log {
    Log::new(format!("{}~", keys::inbound_prefix(owner)))
}

fn head_key(owner: &str) -> String {
    format!("{}~head", keys::inbound_prefix(owner))
}

pub async fn keep(store: &Store, owner: &str, record: &InboundRecord) -> StoreResult<()> {
    // Sealed: the sender's address and words.
    crate::put_sealed(store, &keys::inbound(owner, &record.id), record).await?;
    list_of(owner).append(&[record.id.to_string()])?;
    // Where retention's sweep finds it if its owner never fetches it.
    crate::retention::INBOUND.add(record.id.time_ms(), &format!("{owner}/{}", record.id))
}

/// Up to `limit` of the owner's inbound messages in arrival order, those after `after`
/// (ids start with their arrival time).
pub async fn list(
    store: &Store,
    owner: &str,
    after: Option<&InboundId>,
    limit: usize,
) -> StoreResult<Vec<InboundRecord>> {
    let log = list_of(owner);
    let head: u64 = store
        .get(head_key(owner))
        .await?
        .and_then(|v| String::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0);
    let mut records = Vec::new();
    let mut position = head;
    // The head moves over the slots right after it whose id has no record any more, and
    // stops at the first live one or the first numbered but not written yet.
    let mut new_head = Some(head);
    while records.len() < limit {
        let page = log.page(position, SLOTS_PER_READ)?;
        // A value that is no id (written by someone else) stops the head like a gap.
        let ids: Vec<(u64, InboundId)> = page
            .entries
            .into_iter()
            .filter_map(|(slot, id)| Some((slot, InboundId::parse(&id)?)))
            .collect();
        let record_keys = ids.iter().map(|(_, id)| keys::inbound(owner, id)).collect();
        let mut expected = position + 1;
        for ((slot, _), (key, value)) in ids.iter().zip(get_many("default", record_keys)?) {
            if *slot != expected {
                new_head = None;
            }
            expected = slot + 1;
            let Some(sealed) = value else {
                if let Some(h) = new_head.as_mut() {
                    *h = *slot;
                }
                continue;
            };
            new_head = None;
            if let Some(record) = open_one::<InboundRecord>(&key, &sealed).await?
                && after.is_none_or(|a| record.id.as_str() > a.as_str())
                && records.len() < limit
            {
                records.push(record);
            }
        }
        if expected <= page.last_slot {
            new_head = None;
        }
        position = page.last_slot;
        if page.exhausted {
            break;
        }
    }
    if let Some(moved) = new_head.filter(|&h| h > head) {
        store.set(head_key(owner), moved.to_string()).await?;
        let passed: Vec<u64> = (head + 1..=moved).collect();
        log.remove(&passed)?;
    }
    Ok(records)
}

/// Forgets one inbound message (the owner has it). Returns whether it existed. Its id
/// stays in the list until the head passes it.
pub async fn forget(store: &Store, owner: &str, id: &InboundId) -> StoreResult<bool> {
    let key = keys::inbound(owner, id);
    let existed = store.exists(&key).await?;
    delete_many("default", &[key])?;
    Ok(existed)
}
