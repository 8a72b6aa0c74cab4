//! What every worker component shares: a lease on a piece of work (compare-and-swap, so
//! of two racing workers one wins, and a crashed worker's lease simply runs out), the scan
//! for due work in the pending store, and the hand-over to another component after the
//! current response.

use crate::{StoreResult, Swap, now_ms, pending, pending_page};

/// Takes the lease at `key` for `lease_ms` unless a live one exists. `Ok(false)`: someone
/// else holds it.
pub fn take_lease(key: &str, lease_ms: u64) -> StoreResult<bool> {
    let now = now_ms();
    let swap = Swap::read("default", key)?;
    let until: u64 = swap
        .current
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0);
    if until > now {
        return Ok(false);
    }
    swap.put((now + lease_ms).to_string().as_bytes())
}

/// The first retry delay (`retry_base_ms` of the calling component, 10 s by default); it
/// doubles per attempt (`messaging_domain::retry`) and is also the tick's grace for work
/// not yet tried.
pub async fn retry_base_ms() -> u64 {
    spin_sdk::variables::get("retry_base_ms")
        .await
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// [`due`] for a tick: a store error is logged and reads as no work (the next tick
/// tries again).
pub async fn due_for_tick<T: Clone + std::fmt::Display>(
    cell: &str,
    limit: usize,
    as_str: impl Fn(&T) -> &str,
    parse: impl Fn(&str) -> Option<T>,
) -> (usize, Vec<T>) {
    match due(cell, limit, retry_base_ms().await, as_str, parse).await {
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

/// Up to `limit` ids of `cell` whose pending entry is due. Work not yet tried once is its
/// producer's to hand over; it becomes due for the tick only `grace_ms` later, so a tick
/// never races a hand-over in flight, and still finds work whose hand-over was lost.
pub async fn due<T: Clone + std::fmt::Display>(
    cell: &str,
    limit: usize,
    grace_ms: u64,
    as_str: impl Fn(&T) -> &str,
    parse: impl Fn(&str) -> Option<T>,
) -> StoreResult<(usize, Vec<T>)> {
    let now = now_ms();
    let mut examined = 0;
    let mut due = Vec::new();
    let mut after: Option<T> = None;
    while due.len() < limit {
        let ids = pending_page(cell, after.as_ref().map(&as_str), limit, &parse)?;
        let Some(last) = ids.last().cloned() else {
            break;
        };
        for id in ids {
            examined += 1;
            if let Some(entry) = pending(cell, &id).await?
                && entry.due_ms
                    + if entry.attempts == 0 && !entry.scheduled {
                        grace_ms
                    } else {
                        0
                    }
                    <= now
            {
                due.push(id);
            }
        }
        after = Some(last);
    }
    due.truncate(limit);
    Ok((examined, due))
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
    let config = spin_sdk::variables::get("send_rate").await.ok()?;
    messaging_domain::rate_limit::parse_send_rate(&config)
}

/// Adds `delta` (negative: takes back) to the counter at `key`, atomically across
/// instances; returns the new count.
pub fn add_to_counter(key: &str, delta: i64) -> StoreResult<i64> {
    use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wkv};
    let bucket = wkv::open("default")?;
    Ok(atomics::increment(&bucket, key, delta)?)
}
