//! The caller's token bucket (`messaging_domain::rate_limit`), shared through the store
//! with compare-and-swap (`message_store::work::take_tokens`), checked after
//! authentication and before any work.

use crate::respond::{HttpResponse, error};
use messaging_domain::rate_limit::limit_for;
use messaging_domain::{ApiError, ErrorCode, keys};

/// `Ok` if `caller` may make a request now; else the 429 answer with `Retry-After`.
pub async fn check(caller: &str) -> Result<(), HttpResponse> {
    let config = spin_sdk::variables::get("caller_rate_limits")
        .await
        .unwrap_or_default();
    let Some(limit) = limit_for(&config, caller) else {
        return Ok(());
    };
    let retry_after_ms =
        match message_store::work::take_tokens(&keys::rate_bucket(caller), limit, 1) {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(wait_ms)) => wait_ms,
            // A store that cannot be read must not turn into unlimited sending.
            Err(_) => {
                return Err(error(&ApiError::new(
                    ErrorCode::Unavailable,
                    "the rate limit cannot be checked now",
                )));
            }
        };
    Err(error(
        &ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "rate limit of {} requests per second reached",
                limit.per_second
            ),
        )
        .retry_after_ms(retry_after_ms),
    ))
}
