//! `Idempotency-Key`: the same key from the same caller yields the same message, once,
//! even when the two requests race (atomic compare-and-swap on the reservation).

use message_store::{self as store, StoreResult, Swap};
use messaging_domain::MessageId;
use messaging_domain::idempotency::Reservation;
use spin_sdk::key_value::Store;

pub enum Outcome {
    /// The key is ours: persist the new message.
    Reserved,
    /// The key already names a message: answer with it, send nothing.
    Existing(MessageId),
}

/// Attempts before giving up on a key that keeps changing under us.
const ATTEMPTS: usize = 5;

pub async fn reserve(kv: &Store, key: &str, id: &MessageId) -> StoreResult<Option<Outcome>> {
    for _ in 0..ATTEMPTS {
        let swap = Swap::read("default", key)?;
        let now = store::now_ms();
        if let Some(existing) = swap.current.as_deref().and_then(Reservation::decode) {
            let persisted = store::record(kv, &existing.id).await?.is_some();
            if persisted || !existing.is_stale(now) {
                return Ok(Some(Outcome::Existing(existing.id)));
            }
        }
        let ours = Reservation {
            id: id.clone(),
            reserved_ms: now,
        };
        if swap.put(ours.encode().as_bytes())? {
            return Ok(Some(Outcome::Reserved));
        }
    }
    Ok(None)
}
