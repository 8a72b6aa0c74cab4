//! The limit on failed authentications per client address
//! (`messaging_domain::auth_failures`): checked before the credentials are looked at, and
//! counted after auth-check refused them.

use messaging_domain::auth_failures::{self, Limit};
use messaging_domain::{ApiError, ErrorCode};
use spin_sdk::http::Request;

/// The client's failure counter for this minute, once its address passed the limit.
pub struct Gate {
    /// None: no limit configured, or no client address to count by.
    counter: Option<String>,
}

impl Gate {
    /// Lets the request be authenticated, or answers 429 with `Retry-After` while its
    /// address has failed too often this minute.
    pub async fn check(req: &Request) -> Result<Gate, ApiError> {
        let setting = message_store::config::get("auth_failure_limit")
            .await
            .unwrap_or_default();
        let Some(limit) =
            auth_failures::parse_limit(&setting).unwrap_or(Some(Limit { failures: 20 }))
        else {
            return Ok(Gate { counter: None });
        };
        let Some(block) = crate::credentials::header(req, &["spin-client-addr"])
            .and_then(auth_failures::client_block)
        else {
            return Ok(Gate { counter: None });
        };
        let hashing_key = message_store::config::get("hashing_key")
            .await
            .unwrap_or_default();
        let now = message_store::now_ms();
        let counter = auth_failures::counter_key(hashing_key.as_bytes(), &block, now);
        let failures = message_store::counters::read(&counter).map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                "failed authentications cannot be counted now",
            )
        })?;
        if let Some(wait_ms) = auth_failures::refusal(failures, limit, now) {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "too many failed authentications from this address; try again later",
            )
            .retry_after_ms(wait_ms));
        }
        Ok(Gate {
            counter: Some(counter),
        })
    }

    /// Counts a refused credential against the client's address.
    pub fn failed(&self) {
        let Some(counter) = &self.counter else {
            return;
        };
        // The first failure of the minute tracks the counter for the sweep.
        if message_store::counters::add(counter, 1).is_ok_and(|n| n == 1) {
            let _ = message_store::short_lived::track(counter);
        }
    }
}
