//! Per-caller rate limits: a token bucket per calling system.
//!
//! `caller_rate_limits` holds `caller:per-second:burst` entries, comma-separated; `*` is
//! every caller without its own entry. A caller's bucket holds up to `burst` tokens,
//! refills at `per-second`, and each request takes one; an empty bucket answers 429 with
//! the time until the next token. The bucket lives in the key-value store and is updated
//! with compare-and-swap, so every instance on every host shares it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

/// The limit for `caller`: its own entry, else `*`, else none. Malformed entries are
/// skipped (and reported by [`invalid_entries`]).
pub fn limit_for(config: &str, caller: &str) -> Option<Limit> {
    crate::caller_entries::setting_for(config, caller, parse_entry)
}

/// Entries that do not parse, for a clear message at start.
pub fn invalid_entries(config: &str) -> Vec<&str> {
    crate::caller_entries::unreadable_entries(config, parse_entry)
}

fn parse_entry(entry: &str) -> Option<(&str, Limit)> {
    let mut parts = entry.trim().split(':');
    let caller = parts.next()?.trim();
    let per_second: f64 = parts.next()?.trim().parse().ok()?;
    let burst: f64 = parts.next()?.trim().parse().ok()?;
    (parts.next().is_none()
        && !caller.is_empty()
        && per_second > 0.0
        && per_second.is_finite()
        && burst >= 1.0
        && burst.is_finite())
    .then_some((caller, Limit { per_second, burst }))
}

/// A caller's bucket as stored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub tokens: f64,
    pub at_ms: u64,
}

impl Bucket {
    /// Takes one token at `now_ms` from `previous` (none: a full bucket). Returns the new
    /// bucket, or how many milliseconds until a token is there.
    pub fn take(previous: Option<Bucket>, limit: Limit, now_ms: u64) -> Result<Bucket, u64> {
        Bucket::take_up_to(previous, limit, now_ms, 1).map(|(bucket, _)| bucket)
    }

    /// Takes as many of `wanted` tokens as the bucket holds (at least one). Returns the new
    /// bucket and how many were taken, or how many milliseconds until one is there.
    pub fn take_up_to(
        previous: Option<Bucket>,
        limit: Limit,
        now_ms: u64,
        wanted: u64,
    ) -> Result<(Bucket, u64), u64> {
        let tokens = match previous {
            None => limit.burst,
            Some(b) => {
                let elapsed_s = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
                (b.tokens + elapsed_s * limit.per_second).min(limit.burst)
            }
        };
        if tokens >= 1.0 {
            let taken = (tokens.floor() as u64).min(wanted.max(1));
            Ok((
                Bucket {
                    tokens: tokens - taken as f64,
                    at_ms: now_ms,
                },
                taken,
            ))
        } else {
            Err((((1.0 - tokens) / limit.per_second) * 1000.0).ceil() as u64)
        }
    }
}

/// A provider's send rate (`send_rate` of a delivery cell): `per-second:burst`, or empty
/// for no limit.
pub fn parse_send_rate(config: &str) -> Option<Limit> {
    parse_entry(&format!("cell:{}", config.trim())).map(|(_, limit)| limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_takes_what_the_bucket_holds() {
        let limit = parse_send_rate("100:50").unwrap();
        let (bucket, taken) = Bucket::take_up_to(None, limit, 0, 500).unwrap();
        assert_eq!(taken, 50);
        // 100 ms later, 10 more.
        let (_, taken) = Bucket::take_up_to(Some(bucket), limit, 100, 500).unwrap();
        assert_eq!(taken, 10);
        assert_eq!(Bucket::take_up_to(Some(bucket), limit, 0, 5), Err(10));
        assert_eq!(parse_send_rate(""), None);
        assert_eq!(parse_send_rate("fast"), None);
    }

    #[test]
    fn callers_get_their_own_limit_or_the_default() {
        let config = "registry:5:10, *:1:2, broken:x:1";
        assert_eq!(
            limit_for(config, "registry"),
            Some(Limit {
                per_second: 5.0,
                burst: 10.0
            })
        );
        assert_eq!(limit_for(config, "clinic").unwrap().per_second, 1.0);
        assert_eq!(limit_for("registry:5:10", "clinic"), None);
        assert_eq!(invalid_entries(config), [" broken:x:1"]);
        assert_eq!(invalid_entries("a:0:1,b:1:0,c:1:1:1").len(), 3);
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limit = Limit {
            per_second: 2.0,
            burst: 3.0,
        };
        let mut bucket = None;
        for _ in 0..3 {
            bucket = Some(Bucket::take(bucket, limit, 1_000).unwrap());
        }
        assert_eq!(Bucket::take(bucket, limit, 1_000), Err(500));
        assert_eq!(Bucket::take(bucket, limit, 1_250), Err(250));
        let refilled = Bucket::take(bucket, limit, 1_500).unwrap();
        assert!(refilled.tokens.abs() < 1e-9);
        // A long idle time refills to the burst, not beyond.
        let after_idle = Bucket::take(Some(refilled), limit, 100_000).unwrap();
        assert!((after_idle.tokens - 2.0).abs() < 1e-9);
    }
}
