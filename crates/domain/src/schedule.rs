//! Scheduling: `send_at` (RFC 3339) and `repeat` on messages and broadcasts.
//!
//! ```json
//! "send_at": "2026-12-01T08:00:00+03:00",
//! "repeat": {"every": "1d", "count": 3}
//! "repeat": {"rrule": "FREQ=WEEKLY;INTERVAL=2;COUNT=4"}
//! ```
//!
//! `repeat` needs `send_at` (the first occurrence) and makes `count` occurrences, `every`
//! apart; of RFC 5545 RRULEs, the subset `FREQ` (MINUTELY, HOURLY, DAILY, WEEKLY),
//! `INTERVAL` and `COUNT` is understood, which is what reminders need. A time in the past
//! means now.

use crate::api::invalid;
use crate::error::ApiError;
use crate::policy::parse_duration;
use serde::Deserialize;

/// How far ahead a message may be scheduled.
pub const HORIZON_MS: u64 = 366 * 86_400_000;
/// Most occurrences of one repeated request.
pub const MAX_OCCURRENCES: u32 = 100;
/// Shortest repeat interval.
pub const MIN_EVERY_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub send_at_ms: u64,
    /// Milliseconds between occurrences and how many there are (at least 2).
    pub repeat: Option<(u64, u32)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RepeatBody {
    every: Option<String>,
    count: Option<u32>,
    rrule: Option<String>,
}

impl Schedule {
    /// Parses `send_at` and `repeat` from a request body; `None` when neither is given.
    pub(crate) fn parse(
        send_at: Option<&str>,
        repeat: Option<RepeatBody>,
    ) -> Result<Option<Schedule>, ApiError> {
        let send_at_ms = match send_at {
            None if repeat.is_some() => {
                return Err(invalid("repeat needs send_at, the first occurrence"));
            }
            None => return Ok(None),
            Some(text) => parse_rfc3339(text).ok_or_else(|| {
                invalid("send_at must be an RFC 3339 time such as 2026-12-01T08:00:00+03:00")
            })?,
        };
        let repeat = match repeat {
            None => None,
            Some(RepeatBody {
                every: Some(every),
                count: Some(count),
                rrule: None,
            }) => Some((
                parse_duration(&every)
                    .ok_or_else(|| invalid("repeat.every must look like 30m, 12h or 7d"))?
                    * 1000,
                count,
            )),
            Some(RepeatBody {
                every: None,
                count: None,
                rrule: Some(rule),
            }) => Some(parse_rrule(&rule)?),
            Some(_) => {
                return Err(invalid("repeat is {\"every\", \"count\"} or {\"rrule\"}"));
            }
        };
        if let Some((every_ms, count)) = repeat
            && (every_ms < MIN_EVERY_MS || !(2..=MAX_OCCURRENCES).contains(&count))
        {
            return Err(invalid(format!(
                "repeat: at least a minute apart, 2 to {MAX_OCCURRENCES} occurrences"
            )));
        }
        Ok(Some(Schedule { send_at_ms, repeat }))
    }

    /// When each occurrence is due, the earliest no sooner than `now_ms`; refused if the
    /// last is beyond the horizon.
    pub fn occurrences(&self, now_ms: u64) -> Result<Vec<u64>, ApiError> {
        let first = self.send_at_ms.max(now_ms);
        let (every, count) = self.repeat.unwrap_or((0, 1));
        let times: Vec<u64> = (0..u64::from(count)).map(|i| first + i * every).collect();
        if times.last().is_some_and(|&last| last > now_ms + HORIZON_MS) {
            return Err(invalid("a message can be scheduled at most a year ahead"));
        }
        Ok(times)
    }
}

fn parse_rrule(rule: &str) -> Result<(u64, u32), ApiError> {
    let bad = || {
        invalid(
            "repeat.rrule: FREQ=MINUTELY|HOURLY|DAILY|WEEKLY with INTERVAL and COUNT is understood",
        )
    };
    let (mut freq, mut interval, mut count) = (None, 1u64, None);
    for part in rule.trim().trim_start_matches("RRULE:").split(';') {
        let (name, value) = part.split_once('=').ok_or_else(bad)?;
        match name {
            "FREQ" => {
                freq = Some(match value {
                    "MINUTELY" => 60_000u64,
                    "HOURLY" => 3_600_000,
                    "DAILY" => 86_400_000,
                    "WEEKLY" => 7 * 86_400_000,
                    _ => return Err(bad()),
                })
            }
            "INTERVAL" => interval = value.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?,
            "COUNT" => count = Some(value.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    match (freq, count) {
        (Some(freq), Some(count)) => Ok((freq.saturating_mul(interval), count)),
        _ => Err(bad()),
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 time with seconds and an offset (`Z`, `+03:00`), as Unix milliseconds
/// (a fraction of a second counts to the millisecond).
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        // Milliseconds: the first three digits, padded ("5" is 500 ms); finer ones dropped.
        millis = format!("{:0<3}", &fraction[..digits.min(3)]).parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && tz.as_bytes()[3] == b':' => {
            let sign = match tz.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let n = |r: std::ops::Range<usize>| -> Option<i64> {
                let p = tz.get(r)?;
                p.bytes()
                    .all(|c| c.is_ascii_digit())
                    .then(|| p.parse().ok())?
            };
            sign * (n(1..3)? * 3600 + n(4..6)? * 60)
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    u64::try_from(secs).ok().map(|s| s * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(json: &str) -> Option<RepeatBody> {
        Some(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn times_follow_their_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T03:00:00+03:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.250Z"), Some(1250));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.123456789Z"), Some(1123));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00-00:00"),
            Some(951_868_800_000)
        );
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00"), None);
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00+3:00"), None);
    }

    #[test]
    fn repeats_by_interval_or_rrule() {
        let at = "2026-12-01T08:00:00Z";
        let t0 = parse_rfc3339(at).unwrap();
        let s = Schedule::parse(Some(at), repeat(r#"{"every":"1d","count":3}"#))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.occurrences(t0 - 1000).unwrap(),
            [t0, t0 + 86_400_000, t0 + 2 * 86_400_000]
        );
        let s = Schedule::parse(
            Some(at),
            repeat(r#"{"rrule":"FREQ=WEEKLY;INTERVAL=2;COUNT=4"}"#),
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.repeat, Some((14 * 86_400_000, 4)));
        // A past first occurrence means now.
        assert_eq!(
            Schedule::parse(Some(at), None)
                .unwrap()
                .unwrap()
                .occurrences(t0 + 5)
                .unwrap(),
            [t0 + 5]
        );
        assert_eq!(Schedule::parse(None, None).unwrap(), None);
    }

    #[test]
    fn bad_schedules_are_refused() {
        let at = Some("2026-12-01T08:00:00Z");
        for (send_at, r) in [
            (None, repeat(r#"{"every":"1d","count":3}"#)),
            (Some("tomorrow"), None),
            (at, repeat(r#"{"every":"10s","count":3}"#)),
            (at, repeat(r#"{"every":"1d","count":1}"#)),
            (at, repeat(r#"{"every":"1d","count":1000}"#)),
            (at, repeat(r#"{"rrule":"FREQ=YEARLY;COUNT=2"}"#)),
            (at, repeat(r#"{"rrule":"FREQ=DAILY"}"#)),
            (
                at,
                repeat(r#"{"every":"1d","count":2,"rrule":"FREQ=DAILY;COUNT=2"}"#),
            ),
        ] {
            assert!(Schedule::parse(send_at, r).is_err(), "{send_at:?}");
        }
        let far = Schedule::parse(Some("2099-01-01T00:00:00Z"), None)
            .unwrap()
            .unwrap();
        assert!(
            far.occurrences(parse_rfc3339("2026-01-01T00:00:00Z").unwrap())
                .is_err()
        );
    }
}
