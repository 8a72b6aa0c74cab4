//! How many requests a component instance serves, how many at once, and how long it may
//! sit idle or take over a request: Spin's flags, with Spin's names and defaults
//! (spinframework/spin, crates/trigger-http/src/lib.rs), so that the gateway behaves the
//! same on this host as on `spin up`.
//!
//! Each value is either one number or a range `a..b` (a included, b not), from which every
//! new instance picks at random, as Spin does: instances started together then do not all
//! end together.

use rand::distr::uniform::SampleUniform;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// Spin 4.1's default for WASI 0.3 components.
pub const DEFAULT_MAX_INSTANCE_REUSE_COUNT: usize = 128;
/// Spin 4.1's default for WASI 0.3 components.
pub const DEFAULT_MAX_INSTANCE_CONCURRENT_REUSE_COUNT: usize = 16;
/// Spin 4.1's default.
pub const DEFAULT_IDLE_INSTANCE_TIMEOUT: Duration = Duration::from_secs(1);

/// One value, or a range to pick one from per instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range<T> {
    Value(T),
    /// From the first, included, to the second, excluded; never empty (see the parsers).
    Bounds(T, T),
}

impl<T: SampleUniform + PartialOrd + Copy> Range<T> {
    /// The value for one new instance.
    pub fn pick(self) -> T {
        match self {
            Range::Value(value) => value,
            Range::Bounds(low, high) => rand::random_range(low..high),
        }
    }
}

fn parse_range<T: FromStr + PartialOrd>(s: &str) -> Result<Range<T>, String>
where
    T::Err: Display,
{
    let error = |e: T::Err| format!("expected a value or a range like 1..8; got {s:?}: {e}");
    match s.split_once("..") {
        Some((low, high)) => {
            let low = low.trim().parse().map_err(error)?;
            let high = high.trim().parse().map_err(error)?;
            if low < high {
                Ok(Range::Bounds(low, high))
            } else {
                Err(format!(
                    "the range {s:?} is empty: its start must be below its end"
                ))
            }
        }
        None => Ok(Range::Value(s.trim().parse().map_err(error)?)),
    }
}

/// A count of requests: a positive integer or a range of them (`1..8`).
pub fn parse_count_range(s: &str) -> Result<Range<usize>, String> {
    let range = parse_range::<usize>(s)?;
    match range {
        Range::Value(0) | Range::Bounds(0, _) => {
            Err(format!("{s:?}: an instance serves at least one request"))
        }
        _ => Ok(range),
    }
}

/// A duration as Spin writes it: seconds without a suffix or with `s`, else `ms`, `us`
/// (or `μs`) or `ns`; or a range of them (`1..8s`, each end with its own suffix or none).
pub fn parse_duration_range(s: &str) -> Result<Range<Duration>, String> {
    parse_range::<SpinDuration>(s).map(|range| match range {
        Range::Value(v) => Range::Value(v.0),
        Range::Bounds(a, b) => Range::Bounds(a.0, b.0),
    })
}

#[derive(PartialEq, PartialOrd)]
struct SpinDuration(Duration);

impl FromStr for SpinDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let error = || format!("expected a number with s, ms, us or ns; got {s:?}");
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(SpinDuration(Duration::from_secs(secs)));
        }
        let (number, unit): (&str, fn(u64) -> Duration) = if let Some(n) = s.strip_suffix("ms") {
            (n, Duration::from_millis)
        } else if let Some(n) = s.strip_suffix("us").or_else(|| s.strip_suffix("μs")) {
            (n, Duration::from_micros)
        } else if let Some(n) = s.strip_suffix("ns") {
            (n, Duration::from_nanos)
        } else if let Some(n) = s.strip_suffix('s') {
            (n, Duration::from_secs)
        } else {
            return Err(error());
        };
        number
            .parse()
            .map(|n| SpinDuration(unit(n)))
            .map_err(|_| error())
    }
}

/// How instances of every component are reused.
#[derive(Clone, Copy, Debug)]
pub struct InstanceReuse {
    /// Requests one instance serves before it is dropped; 1 is a fresh instance per request.
    pub max_reuse_count: Range<usize>,
    /// Requests one instance serves at once (awaiting I/O in turn, not in parallel).
    pub max_concurrent_reuse_count: Range<usize>,
    /// The longest a request may take to answer, and an instance may work after its last
    /// answer; none, as in Spin, leaves it to the outbound and store timeouts.
    pub request_timeout: Option<Range<Duration>>,
    /// How long an idle instance is kept for the next request.
    pub idle_instance_timeout: Range<Duration>,
}

impl Default for InstanceReuse {
    fn default() -> Self {
        InstanceReuse {
            max_reuse_count: Range::Value(DEFAULT_MAX_INSTANCE_REUSE_COUNT),
            max_concurrent_reuse_count: Range::Value(DEFAULT_MAX_INSTANCE_CONCURRENT_REUSE_COUNT),
            request_timeout: None,
            idle_instance_timeout: Range::Value(DEFAULT_IDLE_INSTANCE_TIMEOUT),
        }
    }
}

/// What one instance was given from the ranges of [`InstanceReuse`].
#[derive(Clone, Copy, Debug)]
pub struct Picked {
    pub max_reuse_count: usize,
    pub max_concurrent_reuse_count: usize,
    /// `Duration::MAX` when there is no request timeout.
    pub request_timeout: Duration,
    pub idle_instance_timeout: Duration,
}

impl InstanceReuse {
    /// The values of one new instance.
    pub fn pick(&self) -> Picked {
        Picked {
            max_reuse_count: self.max_reuse_count.pick(),
            max_concurrent_reuse_count: self.max_concurrent_reuse_count.pick(),
            request_timeout: self.request_timeout.map_or(Duration::MAX, Range::pick),
            idle_instance_timeout: self.idle_instance_timeout.pick(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_a_value_or_a_non_empty_range_of_positive_integers() {
        assert_eq!(parse_count_range("128"), Ok(Range::Value(128)));
        assert_eq!(parse_count_range("1..8"), Ok(Range::Bounds(1, 8)));
        assert!(parse_count_range("0").is_err());
        assert!(parse_count_range("0..4").is_err());
        assert!(parse_count_range("8..8").is_err());
        assert!(parse_count_range("9..2").is_err());
        assert!(parse_count_range("many").is_err());
        assert!(parse_count_range("-1").is_err());
    }

    #[test]
    fn durations_read_as_spin_reads_them() {
        let secs = Duration::from_secs;
        let read = [
            ("1", Range::Value(secs(1))),
            ("1s", Range::Value(secs(1))),
            ("250ms", Range::Value(Duration::from_millis(250))),
            ("5us", Range::Value(Duration::from_micros(5))),
            ("5μs", Range::Value(Duration::from_micros(5))),
            ("1..8s", Range::Bounds(secs(1), secs(8))),
            (
                "500ms..2s",
                Range::Bounds(Duration::from_millis(500), secs(2)),
            ),
        ];
        for (text, expected) in read {
            assert_eq!(parse_duration_range(text), Ok(expected), "{text}");
        }
        for refused in ["2s..1s", "1h", ""] {
            assert!(parse_duration_range(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_range_picks_within_its_bounds_and_a_value_is_itself() {
        for _ in 0..1000 {
            let picked = Range::Bounds(3usize, 6).pick();
            assert!((3..6).contains(&picked), "{picked}");
        }
        assert_eq!(Range::Value(7usize).pick(), 7);
    }

    #[test]
    fn the_defaults_are_spins() {
        let picked = InstanceReuse::default().pick();
        assert_eq!(picked.max_reuse_count, 128);
        assert_eq!(picked.max_concurrent_reuse_count, 16);
        assert_eq!(picked.request_timeout, Duration::MAX);
        assert_eq!(picked.idle_instance_timeout, Duration::from_secs(1));
    }
}
