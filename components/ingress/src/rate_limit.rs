//! The caller's token bucket (`messaging_domain::rate_limit`), shared through the store
//! with compare-and-swap (`message_store::work::take_tokens`), checked after
//! authentication and before any work.

use crate::respond::{HttpResponse, error};
use messaging_domain::rate_limit::{Limit, limit_for};
use messaging_domain::{ApiError, ErrorCode, keys};

/// `Ok` if `caller` may make a request now; else the 429 answer with `Retry-After`.
pub async fn check(caller: &str) -> Result<(), HttpResponse> {
    match take(caller, 1).await.map_err(|e| error(&e))? {
        None | Some((_, Ok(_))) => Ok(()),
        Some((limit, Err(retry_after_ms))) => Err(error(
            &ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "rate limit of {} requests per second reached",
                    limit.per_second
                ),
            )
            .retry_after_ms(retry_after_ms),
        )),
    }
}

/// How many of `wanted` further messages `caller`'s bucket admits now (a batch's items
/// after the first, which its request paid for), and when the next token is there if it
/// admits fewer. Without a limit, all of them.
pub async fn take_more(caller: &str, wanted: u64) -> Result<Admitted, ApiError> {
    if wanted == 0 {
        return Ok(Admitted {
            count: 0,
            retry_after_ms: 0,
        });
    }
    Ok(match take(caller, wanted).await? {
        None => Admitted {
            count: wanted,
            retry_after_ms: 0,
        },
        Some((limit, Ok(count))) => Admitted {
            count,
            retry_after_ms: if count < wanted {
                (1000.0 / limit.per_second).ceil() as u64
            } else {
                0
            },
        },
        Some((_, Err(wait_ms))) => Admitted {
            count: 0,
            retry_after_ms: wait_ms,
        },
    })
}

/// Takes up to `wanted` tokens from `caller`'s bucket: `None` when the caller has no limit
/// (`caller_rate_limits`), else its limit and how many were taken or how long until one is
/// there.
async fn take(caller: &str, wanted: u64) -> Result<Option<(Limit, Result<u64, u64>)>, ApiError> {
    let config = message_store::config::get("caller_rate_limits")
        .await
        .unwrap_or_default();
    let Some(limit) = limit_for(&config, caller) else {
        return Ok(None);
    };
    let taken = message_store::work::take_tokens(&keys::rate_bucket(caller), limit, wanted)
        // A store that cannot be read must not turn into unlimited sending.
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                "the rate limit cannot be checked now",
            )
        })?;
    Ok(Some((limit, taken)))
}

/// What [`take_more`] admitted.
pub struct Admitted {
    pub count: u64,
    /// When the caller may send the rest (0: nothing was left out).
    pub retry_after_ms: u64,
}

/// The answer to a batch item its caller's rate limit left out.
pub fn left_out(retry_after_ms: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        "the caller's rate limit admitted the batch's earlier messages but not this one; send it again later",
    )
    .retry_after_ms(retry_after_ms)
}
