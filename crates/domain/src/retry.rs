//! When to try again after a provider deferred a message.

/// Longest pause between two attempts.
pub const MAX_RETRY_MS: u64 = 15 * 60_000;

/// Delay before the next attempt, given `attempts` deferrals so far (1 for the first):
/// `base`, then doubling, capped at [`MAX_RETRY_MS`]. The message's validity ends retries.
pub fn backoff_ms(base: u64, attempts: u32) -> u64 {
    base.saturating_mul(1u64 << attempts.saturating_sub(1).min(20))
        .min(MAX_RETRY_MS)
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
