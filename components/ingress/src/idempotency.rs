//! Answering a repeated request with its first answer: an `Idempotency-Key` (forever) or
//! the request's hash, MHASH, within the duplicate window (`duplicate_window`, 24 h by
//! default, GovStack spec 6.1.1/6.1.2). Two racing requests resolve by a claim when the
//! reservation does not exist yet (`message_store::claims`) and by compare-and-swap when
//! it does: one creates, the other gets its id.

use message_store::{self as store, StoreResult, Swap};
use messaging_domain::idempotency::{Reservation, request_hash};
use messaging_domain::keys;
use messaging_domain::policy::parse_duration;

/// Where a request's first answer is remembered, and for how long.
#[derive(Debug, Clone)]
pub struct Dedup {
    pub key: String,
    /// `None`: for as long as the key exists.
    pub window_ms: Option<u64>,
}

impl Dedup {
    /// The reservation of an `Idempotency-Key` (already hashed).
    pub fn idempotency_key(caller: &str, key_hash: &str) -> Dedup {
        Dedup {
            key: keys::idempotency(caller, key_hash),
            window_ms: None,
        }
    }

    /// The reservation a request to `route` makes: its `Idempotency-Key` (already hashed)
    /// if it has one, else its body's hash within the duplicate window.
    pub async fn for_request(
        caller: &str,
        key_hash: Option<&str>,
        route: &str,
        body: &[u8],
    ) -> Option<Dedup> {
        match key_hash {
            Some(hash) => Some(Dedup::idempotency_key(caller, hash)),
            None => Dedup::request(caller, route, body).await,
        }
    }

    /// The reservation of a request's hash, unless the deployment turned it off
    /// (`duplicate_window = "0"`).
    pub async fn request(caller: &str, route: &str, body: &[u8]) -> Option<Dedup> {
        let window = message_store::config::get("duplicate_window")
            .await
            .unwrap_or_else(|_| "24h".into());
        let window_s = parse_duration(&window)?;
        Some(Dedup {
            key: keys::duplicate(caller, &request_hash(caller, route, body)),
            window_ms: Some(window_s * 1000),
        })
    }
}

impl Dedup {
    /// The reservation of the `i`-th message of a batch whose request has this one, so a
    /// repeated batch answers each message with its first id, also after a crash halfway.
    pub fn item(&self, i: usize) -> Dedup {
        Dedup {
            key: format!("{}/{i}", self.key),
            window_ms: self.window_ms,
        }
    }
}

pub enum Outcome {
    /// The request is the first: create.
    Reserved,
    /// An earlier request created this id: answer with it, send nothing.
    Existing(String),
}

/// Attempts before giving up on a key that keeps changing under us.
const ATTEMPTS: usize = 5;
/// The window of a first reservation's claim: a request that claimed and died before
/// writing blocks the key this long at most (as a stale reservation does).
const CLAIM_WINDOW_MS: u64 = 10_000;

/// Reserves `dedup` for `id`. `persisted` says whether an id's record exists, so that a
/// reservation whose request died before persisting can be taken over. `Ok(None)`: the key
/// kept changing under us (concurrent requests), the caller should retry.
pub async fn reserve(
    dedup: &Dedup,
    id: &str,
    persisted: impl AsyncFn(&str) -> StoreResult<bool>,
) -> StoreResult<Option<Outcome>> {
    for _ in 0..ATTEMPTS {
        let swap = Swap::read("default", &dedup.key)?;
        let now = store::now_ms();
        if let Some(existing) = swap.current.as_deref().and_then(Reservation::decode)
            && !existing.outlived(now, dedup.window_ms)
            && (!existing.is_stale(now) || persisted(&existing.id).await?)
        {
            return Ok(Some(Outcome::Existing(existing.id)));
        }
        let ours = Reservation {
            id: id.to_string(),
            reserved_ms: now,
        };
        let created = match swap.current {
            // Taking over an outlived or stale reservation: atomic from its value.
            Some(_) => {
                let taken = swap.put(ours.encode().as_bytes())?;
                if taken {
                    store::short_lived::track(&dedup.key)?;
                }
                taken
            }
            // A first reservation: the claim decides, its winner writes it with its slot
            // in the sweep's index.
            None => match store::claims::take(&dedup.key, CLAIM_WINDOW_MS)? {
                Some(claim) => {
                    let mut rows = vec![(dedup.key.clone(), ours.encode().into_bytes())];
                    rows.extend(store::short_lived::tracking_row(&dedup.key)?);
                    store::many::set_many("default", &rows)?;
                    claim.release()?;
                    true
                }
                None => false,
            },
        };
        if created {
            return Ok(Some(Outcome::Reserved));
        }
        // Another request is writing its reservation: read it in a moment.
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(10_000_000).await;
    }
    Ok(None)
}
