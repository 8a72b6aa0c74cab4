//! When to try again after a provider deferred a message.

/// Longest pause between two attempts.
pub const MAX_RETRY_MS: u64 = 15 * 60_000;

/// Delay before the next attempt, given `attempts` deferrals so far (1 for the first):
/// `base`, then doubling, capped at [`MAX_RETRY_MS`]. The message's validity ends retries.
pub fn backoff_ms(base: u64, attempts: u32) -> u64 {
    Schedule {
        first_ms: base,
        max_interval_ms: MAX_RETRY_MS,
        give_up_after_ms: None,
    }
    .delay_ms(attempts)
}

/// A policy's retry schedule (`[retry]` in its file): the first delay, doubling up to
/// `max_interval`, and the time after acceptance when a message still deferred becomes
/// `failed` (the GovStack spec's default: retry with backoff for 24 hours, then fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    pub first_ms: u64,
    pub max_interval_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up_after_ms: Option<u64>,
}

impl Schedule {
    /// Delay before the next attempt after `attempts` deferrals (1 for the first).
    pub fn delay_ms(&self, attempts: u32) -> u64 {
        self.first_ms
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(20))
            .min(self.max_interval_ms)
    }

    /// Whether a message accepted at `created_ms` and deferred again at `now_ms` has had
    /// its retries.
    pub fn gives_up(&self, created_ms: u64, now_ms: u64) -> bool {
        self.give_up_after_ms
            .is_some_and(|after| now_ms >= created_ms.saturating_add(after))
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    #[test]
    fn a_schedule_doubles_to_its_cap_and_gives_up_on_time() {
        let s = Schedule {
            first_ms: 1_000,
            max_interval_ms: 3_000,
            give_up_after_ms: Some(10_000),
        };
        assert_eq!(
            (1..=4).map(|a| s.delay_ms(a)).collect::<Vec<_>>(),
            [1_000, 2_000, 3_000, 3_000]
        );
        assert!(!s.gives_up(5, 10_004));
        assert!(s.gives_up(5, 10_005));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_and_caps() {
        assert_eq!(backoff_ms(10_000, 1), 10_000);
        assert_eq!(backoff_ms(10_000, 2), 20_000);
        assert_eq!(backoff_ms(10_000, 4), 80_000);
        assert_eq!(backoff_ms(10_000, 30), MAX_RETRY_MS);
        assert_eq!(backoff_ms(u64::MAX, 3), MAX_RETRY_MS);
    }
}
