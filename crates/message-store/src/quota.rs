//! The caller's daily quota (`messaging_domain::quota`): a counter per caller and UTC day
//! (`quota/<caller>/<day>`), added to atomically so every instance shares it. Work is
//! charged before it is persisted (by ingress at acceptance, by the broadcaster for group
//! members found beyond what was charged then); a request that turns out to repeat an
//! earlier one gives its charge back, and one that would go over the quota gives it back
//! and is refused.

use crate::{StoreResult, counters, now_ms};
use messaging_domain::keys;
use messaging_domain::quota::{day_of, ms_until_next_day, quota_for};

/// What was charged, to give back if it creates nothing.
pub struct Charge {
    key: String,
    count: i64,
}

/// A charge refused: it would pass `quota`; whole again in `retry_after_ms`.
#[derive(Debug)]
pub struct OverQuota {
    pub quota: u64,
    pub retry_after_ms: u64,
}

impl Charge {
    pub const NONE: Charge = Charge {
        key: String::new(),
        count: 0,
    };

    /// Gives the charge back: the request created nothing (it repeated an earlier one).
    pub fn give_back(self) {
        if self.count > 0 {
            // Best effort: a counter left too high refuses early, never sends more.
            let _ = counters::add(&self.key, -self.count);
        }
    }
}

/// Charges `count` messages to `caller`'s quota for today. Emergency work is not charged.
/// `Ok(Err(..))` when it would go over: then nothing stays charged.
pub async fn charge(
    caller: &str,
    count: u64,
    emergency: bool,
) -> StoreResult<Result<Charge, OverQuota>> {
    if emergency || count == 0 {
        return Ok(Ok(Charge::NONE));
    }
    let config = crate::config::get("daily_quotas").await.unwrap_or_default();
    let Some(quota) = quota_for(&config, caller) else {
        return Ok(Ok(Charge::NONE));
    };
    let now = now_ms();
    let charge = Charge {
        key: keys::quota_count(caller, day_of(now)),
        count: i64::try_from(count).unwrap_or(i64::MAX),
    };
    let total = counters::add(&charge.key, charge.count)?;
    if total <= i64::try_from(quota).unwrap_or(i64::MAX) {
        return Ok(Ok(charge));
    }
    charge.give_back();
    Ok(Err(OverQuota {
        quota,
        retry_after_ms: ms_until_next_day(now),
    }))
}
