//! Quiet hours: a policy's window of the recipient's local day in which nothing but
//! emergencies is sent (`quiet_hours = "21:00-07:00"`). Local time comes from the
//! recipient's UTC offset (`"timezone": "+03:00"` on a message or a member), else the
//! deployment's `default_timezone`. Fixed offsets only: a component has no time-zone
//! database, and an hour's error at a daylight-saving change is harmless here.

use serde::{Deserialize, Serialize};

const DAY_MS: u64 = 86_400_000;

/// A window of the local day, in minutes after midnight; it may wrap past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start_min: u16,
    pub end_min: u16,
}

fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = hhmm.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl QuietHours {
    /// Parses `"21:00-07:00"`.
    pub fn parse(text: &str) -> Option<QuietHours> {
        let (start, end) = text.split_once('-')?;
        let (start_min, end_min) = (minutes(start)?, minutes(end)?);
        (start_min != end_min).then_some(QuietHours { start_min, end_min })
    }

    /// If `now_ms` falls in the window at `offset_min` from UTC, when the window ends
    /// (Unix milliseconds); `None` when sending is allowed now.
    pub fn ends_at(&self, now_ms: u64, offset_min: i16) -> Option<u64> {
        let offset_ms = i64::from(offset_min) * 60_000;
        let local = (now_ms as i64 + offset_ms).rem_euclid(DAY_MS as i64) as u64;
        let (start, end) = (
            u64::from(self.start_min) * 60_000,
            u64::from(self.end_min) * 60_000,
        );
        let quiet = if start < end {
            (start..end).contains(&local)
        } else {
            local >= start || local < end
        };
        if !quiet {
            return None;
        }
        let until_end = (end + DAY_MS - local) % DAY_MS;
        Some(now_ms + until_end)
    }
}

/// Parses a fixed UTC offset, `"+03:00"`, `"-05:30"` or `"Z"`, into minutes.
pub fn parse_offset(text: &str) -> Option<i16> {
    if text == "Z" || text == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let minutes = minutes(rest)?;
    (minutes <= 14 * 60).then(|| sign * minutes as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn a_window_past_midnight_in_the_recipients_time() {
        let q = QuietHours::parse("21:00-07:00").unwrap();
        let nairobi = parse_offset("+03:00").unwrap();
        // 19:00 UTC is 22:00 in Nairobi: quiet until 07:00 local, 04:00 UTC next day.
        assert_eq!(q.ends_at(19 * H, nairobi), Some(28 * H));
        // 10:00 UTC is 13:00 there: send now.
        assert_eq!(q.ends_at(10 * H, nairobi), None);
        // 02:00 UTC is 05:00 there: quiet for two more hours.
        assert_eq!(q.ends_at(2 * H, nairobi), Some(4 * H));
        // The same instant in UTC-5 is 21:00 the day before: quiet too.
        assert_eq!(
            q.ends_at(2 * H, parse_offset("-05:00").unwrap()),
            Some(12 * H)
        );
    }

    #[test]
    fn a_window_within_the_day_and_bad_input() {
        let q = QuietHours::parse("12:00-14:00").unwrap();
        assert_eq!(q.ends_at(13 * H, 0), Some(14 * H));
        assert_eq!(q.ends_at(14 * H, 0), None);
        assert!(QuietHours::parse("21:00").is_none());
        assert!(QuietHours::parse("25:00-07:00").is_none());
        assert!(QuietHours::parse("07:00-07:00").is_none());
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("Z"), Some(0));
        assert!(parse_offset("+15:00").is_none());
        assert!(parse_offset("Africa/Nairobi").is_none());
    }
}
