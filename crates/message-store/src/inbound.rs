//! Inbound messages kept for their owner (`inbound/<owner>/<id>`), for systems that poll
//! `GET /v1/inbound` instead of receiving callbacks.

use crate::StoreResult;
use messaging_domain::conversation::InboundRecord;
use messaging_domain::{InboundId, keys};
use spin_sdk::key_value::Store;

pub async fn keep(store: &Store, owner: &str, record: &InboundRecord) -> StoreResult<()> {
    // Sealed: the sender's address and words.
    crate::put_sealed(store, &keys::inbound(owner, &record.id), record).await
}

/// Up to `limit` of the owner's inbound messages in id order (ids start with their
/// arrival time, so oldest first), after `after`.
pub async fn list(
    store: &Store,
    owner: &str,
    after: Option<&InboundId>,
    limit: usize,
) -> StoreResult<Vec<InboundRecord>> {
    let ids = crate::page(
        "default",
        &keys::inbound_prefix(owner),
        after.map(InboundId::as_str),
        limit,
        InboundId::parse,
    )?;
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(record) = crate::get_sealed(store, &keys::inbound(owner, &id)).await? {
            records.push(record);
        }
    }
    Ok(records)
}

/// Forgets one inbound message (the owner has it). Returns whether it existed.
pub async fn forget(store: &Store, owner: &str, id: &InboundId) -> StoreResult<bool> {
    let key = keys::inbound(owner, id);
    let existed = store.exists(&key).await?;
    store.delete(&key).await?;
    Ok(existed)
}
