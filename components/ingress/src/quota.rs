//! The caller's daily quota at acceptance (`message_store::quota`), answered in the API's
//! terms: a request that would pass it is refused with 429 and `Retry-After` until
//! midnight UTC, and nothing stays charged.

use crate::accept::unavailable;
pub use message_store::quota::Charge;
use messaging_domain::{ApiError, ErrorCode};

/// Charges `count` messages to `caller`'s quota for today. Emergency work is not charged.
pub async fn charge(caller: &str, count: u64, emergency: bool) -> Result<Charge, ApiError> {
    match message_store::quota::charge(caller, count, emergency).await {
        Ok(Ok(charge)) => Ok(charge),
        Ok(Err(over)) => Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "this request would pass the daily quota of {} messages; it is whole again at midnight UTC",
                over.quota
            ),
        )
        .retry_after_ms(over.retry_after_ms)),
        Err(e) => Err(unavailable("quota", e)),
    }
}
