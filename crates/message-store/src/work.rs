//! What every worker component shares: a lease on a piece of work (compare-and-swap, so
//! of two racing workers one wins, and a crashed worker's lease simply runs out), the
//! due work of a queue (`crate::queue`), and the hand-over to another component after the
//! current response.

use crate::{StoreResult, Swap, now_ms, random_16};

/// Takes the lease at `key` for `lease_ms` unless a live one exists. `Ok(false)`: someone
/// else holds it.
pub fn take_lease(key: &str, lease_ms: u64) -> StoreResult<bool> {
    Ok(Lease::take(key, lease_ms)?.is_some())
}

/// A lease this instance holds, kept alive while its work goes on ([`Lease::hold_during`]).
/// Its value is `<until>/<nonce>` (`messaging_domain::lease`), so a renewal moves only
/// this holder's lease: once it has run out and another instance took the work, the
/// renewal finds another value and leaves it alone.
pub struct Lease {
    key: String,
    value: Vec<u8>,
    lease_ms: u64,
}

impl Lease {
    /// Takes the lease at `key` for `lease_ms` unless a live one exists. `Ok(None)`:
    /// someone else holds it.
    ///
    /// From an existing value (most leases are written unheld at creation:
    /// [`crate::claims::unheld`]) this is a compare-and-swap; from an absent one, a claim
    /// decides who creates it ([`crate::claims`]).
    pub fn take(key: &str, lease_ms: u64) -> StoreResult<Option<Lease>> {
        let now = now_ms();
        let swap = Swap::read("default", key)?;
        let value = Lease::value(now + lease_ms);
        let taken = match swap.current.as_deref() {
            Some(current) => {
                if messaging_domain::lease::is_held(current, now) {
                    return Ok(None);
                }
                swap.put(&value)?
            }
            None => match crate::claims::take(key, lease_ms)? {
                Some(claim) => {
                    crate::many::set_many("default", &[(key.to_string(), value.clone())])?;
                    claim.release()?;
                    true
                }
                None => false,
            },
        };
        Ok(taken.then(|| Lease {
            key: key.to_string(),
            value,
            lease_ms,
        }))
    }

    /// The key it is held under (deleting it lets the next instance take over at once).
    pub fn key(&self) -> &str {
        &self.key
    }

    fn value(until: u64) -> Vec<u8> {
        messaging_domain::lease::value(until, &hex::encode(&random_16()[..6])).into_bytes()
    }

    /// Moves the lease to `lease_ms` from now if this holder still has it. `Ok(false)`:
    /// it ran out and another instance took it.
    pub fn renew(&mut self) -> StoreResult<bool> {
        let swap = Swap::read("default", &self.key)?;
        if swap.current.as_deref() != Some(self.value.as_slice()) {
            return Ok(false);
        }
        let value = Lease::value(now_ms() + self.lease_ms);
        let renewed = swap.put(&value)?;
        if renewed {
            self.value = value;
        }
        Ok(renewed)
    }

    /// Gives the lease up, if this holder still has it, so the next taker need not wait
    /// for it to run out.
    pub fn release(self) -> StoreResult<()> {
        let swap = Swap::read("default", &self.key)?;
        if swap.current.as_deref() == Some(self.value.as_slice()) {
            swap.put(&crate::claims::unheld())?;
        }
        Ok(())
    }

    /// Runs `work`, renewing the lease every third of its length meanwhile, so a holder
    /// that is alive keeps it however long the work takes, while a holder that died
    /// leaves it to run out within one lease length.
    pub async fn hold_during<T>(&mut self, work: impl Future<Output = T>) -> T {
        renewing_during(
            self.lease_ms,
            || {
                if let Err(e) = self.renew() {
                    eprintln!("renewing lease {}: {e}", self.key);
                }
            },
            work,
        )
        .await
    }
}

/// Runs `work`, calling `renew` every third of `length_ms` meanwhile: what lasts
/// `length_ms` (a lease, a page's marks) stays while its holder is alive and runs out
/// within `length_ms` once it died.
pub(crate) async fn renewing_during<T>(
    length_ms: u64,
    mut renew: impl FnMut(),
    work: impl Future<Output = T>,
) -> T {
    let every_ns = length_ms / 3 * 1_000_000;
    let renewals = async {
        loop {
            spin_sdk::wasip3::clocks::monotonic_clock::wait_for(every_ns).await;
            renew();
        }
    };
    let work = std::pin::pin!(work);
    let renewals = std::pin::pin!(renewals);
    match futures::future::select(work, renewals).await {
        futures::future::Either::Left((done, _)) => done,
        futures::future::Either::Right(_) => unreachable!("renewals never end"),
    }
}

/// The first retry delay (`retry_base_ms` of the calling component, 10 s by default); it
/// doubles per attempt (`messaging_domain::retry`) and is also the tick's grace for work
/// not yet tried.
pub async fn retry_base_ms() -> u64 {
    crate::config::get("retry_base_ms")
        .await
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// [`due`] for a tick: a store error is logged and reads as no work (the next tick
/// tries again).
pub async fn due_for_tick<T>(
    cell: &str,
    limit: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> (usize, Vec<T>) {
    match due(cell, limit, retry_base_ms().await, parse).await {
        Ok(found) => found,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"event": "tick.store_error", "detail": e.to_string()})
            );
            (0, Vec::new())
        }
    }
}

/// Up to `limit` ids of `cell` whose pending entry is due (`crate::queue`), with how many
/// slots of its due index the tick looked at. Work not yet tried once is its producer's to
/// hand over; it becomes due for the tick only `grace_ms` later.
pub async fn due<T>(
    cell: &str,
    limit: usize,
    grace_ms: u64,
    parse: impl Fn(&str) -> Option<T>,
) -> StoreResult<(usize, Vec<T>)> {
    let found = crate::queue::due(cell, limit, grace_ms, now_ms()).await?;
    let due = found.due.iter().filter_map(|id| parse(id)).collect();
    Ok((found.examined, due))
}

/// POSTs `body` (JSON) to another component of the application
/// (`http://<component>.spin.internal/...`) and logs a failure; the receiver's tick finds
/// the work in the pending store if this is lost.
pub async fn post_json(uri: &str, body: &serde_json::Value) {
    if let Err(e) = post_json_status(uri, body).await {
        println!(
            "{}",
            serde_json::json!({"event": "handover_failed", "to": uri, "error": e})
        );
    }
}

/// POSTs `body` as JSON to `uri` (another component) and returns the answer's status.
pub async fn post_json_status(uri: &str, body: &serde_json::Value) -> Result<u16, String> {
    let request = http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json")
        .body(spin_sdk::http::FullBody::new(bytes::Bytes::from(
            serde_json::to_vec(body).expect("json"),
        )))
        .expect("valid request");
    match spin_sdk::http::send(request).await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// [`post_json`] after the current response has gone (post-return work).
pub fn post_after_response(uri: String, body: serde_json::Value) {
    spin_sdk::wasip3::spawn(async move { post_json(&uri, &body).await });
}

/// Attempts at a token bucket's compare-and-swap before a hot bucket counts as spent.
const BUCKET_ATTEMPTS: usize = 8;

/// Takes up to `wanted` tokens from the bucket at `key` (`messaging_domain::rate_limit`),
/// shared by every instance through compare-and-swap. `Ok(Ok(n))`: `n` tokens taken (at
/// least one); `Ok(Err(ms))`: none now, the next in `ms` milliseconds.
pub fn take_tokens(
    key: &str,
    limit: messaging_domain::rate_limit::Limit,
    wanted: u64,
) -> StoreResult<Result<u64, u64>> {
    use messaging_domain::rate_limit::Bucket;
    let mut wait_ms = 1000;
    for _ in 0..BUCKET_ATTEMPTS {
        let swap = Swap::read("default", key)?;
        let previous = swap
            .current
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        match Bucket::take_up_to(previous, limit, now_ms(), wanted) {
            Ok((bucket, taken)) => {
                if swap.put(&serde_json::to_vec(&bucket).expect("json"))? {
                    return Ok(Ok(taken));
                }
                // Another instance took tokens meanwhile: read again.
            }
            Err(ms) => return Ok(Err(ms)),
        }
        wait_ms = 50;
    }
    Ok(Err(wait_ms))
}

/// The delivery cell's provider send rate (`send_rate`: `per-second:burst`; empty: none).
pub async fn send_rate() -> Option<messaging_domain::rate_limit::Limit> {
    let config = crate::config::get("send_rate").await.ok()?;
    messaging_domain::rate_limit::parse_send_rate(&config)
}
