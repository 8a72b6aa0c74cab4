//! The caller's token bucket (`messaging_domain::rate_limit`), shared through the store
//! with compare-and-swap, checked after authentication and before any work.

use crate::respond::{HttpResponse, error};
use message_store::{Swap, now_ms};
use messaging_domain::rate_limit::{Bucket, limit_for};
use messaging_domain::{ApiError, ErrorCode, keys};

/// Attempts at the compare-and-swap before a hot bucket is treated as spent.
const CAS_ATTEMPTS: usize = 8;

/// `Ok` if `caller` may make a request now; else the 429 answer with `Retry-After`.
pub async fn check(caller: &str) -> Result<(), HttpResponse> {
    let config = spin_sdk::variables::get("caller_rate_limits")
        .await
        .unwrap_or_default();
    let Some(limit) = limit_for(&config, caller) else {
        return Ok(());
    };
    let key = keys::rate_bucket(caller);
    let mut retry_after_ms = 1000;
    for _ in 0..CAS_ATTEMPTS {
        let Ok(swap) = Swap::read("default", &key) else {
            // A store that cannot be read must not turn into unlimited sending.
            return Err(error(&ApiError::new(
                ErrorCode::Unavailable,
                "the rate limit cannot be checked now",
            )));
        };
        let previous = swap
            .current
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        match Bucket::take(previous, limit, now_ms()) {
            Ok(bucket) => match swap.put(&serde_json::to_vec(&bucket).expect("json")) {
                Ok(true) => return Ok(()),
                // Another request took a token meanwhile: read again.
                Ok(false) => continue,
                Err(_) => break,
            },
            Err(wait_ms) => {
                retry_after_ms = wait_ms;
                break;
            }
        }
    }
    let mut response = error(&ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "rate limit of {} requests per second reached",
            limit.per_second
        ),
    ));
    let seconds = retry_after_ms.div_ceil(1000).max(1);
    response.headers_mut().insert(
        "retry-after",
        http::HeaderValue::from_str(&seconds.to_string()).expect("digits"),
    );
    Err(response)
}
