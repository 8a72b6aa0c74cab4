//! A broadcast batch in a delivery cell: which recipients to send to now, what the
//! provider's answers mean for them, and what becomes of the batch afterwards.
//!
//! The dispatcher's `batch.rs` reads the batch and its recipients' outcome rows, asks
//! [`settle_all`] and [`split_quiet`] whom to send to, sends, maps each answer with
//! [`outcome`], writes the outcome rows, and asks [`batch_end`] whether to erase the batch
//! or when to come back to it.

use super::Answer;
use crate::broadcast::Outcome;
use crate::quiet_hours::QuietHours;

/// Every open recipient of a batch is settled without sending when the broadcast was
/// cancelled (`cancelled`) or its validity (`expires_ms`) has passed; `None` when the
/// batch is to be sent.
pub fn settle_all(cancelled: bool, now_ms: u64, expires_ms: u64) -> Option<Outcome> {
    if cancelled {
        Some(Outcome::Cancelled)
    } else if now_ms >= expires_ms {
        Some(Outcome::Expired)
    } else {
        None
    }
}

/// The open recipients split by the broadcast's quiet hours.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct QuietSplit {
    /// Positions in the batch to send to now.
    pub ready: Vec<usize>,
    /// How many are in their quiet hours.
    pub quiet: usize,
    /// The earliest end of those quiet hours (unix ms), when the batch is to come back.
    pub until_ms: Option<u64>,
}

/// Splits `open`, pairs of a recipient's position and its own UTC offset (minutes), by
/// `quiet_hours` at `now_ms`; a recipient without an offset is at `default_offset_min`.
pub fn split_quiet(
    open: impl IntoIterator<Item = (usize, Option<i16>)>,
    quiet_hours: Option<QuietHours>,
    now_ms: u64,
    default_offset_min: i16,
) -> QuietSplit {
    let mut split = QuietSplit::default();
    for (i, offset) in open {
        let ends =
            quiet_hours.and_then(|q| q.ends_at(now_ms, offset.unwrap_or(default_offset_min)));
        match ends {
            Some(until) => {
                split.quiet += 1;
                split.until_ms = Some(split.until_ms.map_or(until, |u| u.min(until)));
            }
            None => split.ready.push(i),
        }
    }
    split
}

/// A recipient's outcome row after the provider's `answer`; `None` when it was deferred:
/// it stays in the batch, without a row, for the batch's retry.
pub fn outcome(answer: Answer) -> Option<Outcome> {
    match answer {
        Answer::Accepted => Some(Outcome::Sent),
        Answer::Delivered => Some(Outcome::Delivered),
        Answer::Rejected => Some(Outcome::Failed),
        Answer::Deferred => None,
    }
}

/// What a batch call left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Left {
    /// Recipients the provider deferred.
    pub deferred: usize,
    /// The provider's send rate was spent: the wait (ms) it asked for before more.
    pub throttled_for_ms: Option<u64>,
    /// Recipients in quiet hours wait until then (unix ms).
    pub quiet_until_ms: Option<u64>,
}

/// What becomes of a batch after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchEnd {
    /// Every recipient has an outcome row: erase the batch.
    Finish,
    /// Throttled or quiet only: back at `due_ms`, no attempt counted.
    Wait { due_ms: u64 },
    /// The provider deferred some: back after the backoff of one more attempt.
    Retry,
}

/// The batch's end once its call left `left` at `now_ms`.
pub fn batch_end(left: Left, now_ms: u64) -> BatchEnd {
    if left.deferred > 0 {
        return BatchEnd::Retry;
    }
    let throttled_due = left.throttled_for_ms.map(|wait| now_ms + wait);
    match throttled_due.into_iter().chain(left.quiet_until_ms).min() {
        None => BatchEnd::Finish,
        Some(due_ms) => BatchEnd::Wait { due_ms },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn a_cancelled_broadcast_settles_its_recipients_as_cancelled_even_when_expired() {
        assert_eq!(settle_all(true, NOW, NOW - 1), Some(Outcome::Cancelled));
        assert_eq!(settle_all(true, NOW, NOW + 1), Some(Outcome::Cancelled));
    }

    #[test]
    fn an_expired_broadcast_settles_its_recipients_as_expired_from_its_last_moment() {
        assert_eq!(settle_all(false, NOW, NOW), Some(Outcome::Expired));
        assert_eq!(settle_all(false, NOW, NOW + 1), None);
    }

    fn night() -> QuietHours {
        QuietHours::parse("22:00-07:00").unwrap()
    }

    /// 23:00 UTC on 2023-11-14.
    const LATE_UTC: u64 = 1_700_002_800_000;

    #[test]
    fn without_quiet_hours_every_open_recipient_is_ready() {
        let split = split_quiet([(0, None), (3, Some(60))], None, LATE_UTC, 0);
        assert_eq!(split.ready, vec![0, 3]);
        assert_eq!((split.quiet, split.until_ms), (0, None));
    }

    #[test]
    fn recipients_in_their_quiet_hours_wait_for_the_earliest_end() {
        // At 23:00 UTC: UTC+0 is at 23:00 (quiet until 07:00 UTC), UTC+1 at 00:00 (quiet
        // until 06:00 UTC), UTC-10 at 13:00 (ready).
        let split = split_quiet(
            [(0, Some(0)), (1, Some(60)), (2, Some(-600))],
            Some(night()),
            LATE_UTC,
            0,
        );
        assert_eq!(split.ready, vec![2]);
        assert_eq!(split.quiet, 2);
        let six_utc = LATE_UTC + 7 * 3_600_000;
        assert_eq!(split.until_ms, Some(six_utc));
        assert_eq!(night().ends_at(LATE_UTC, 60), Some(six_utc));
    }

    #[test]
    fn a_recipient_without_an_offset_is_at_the_deployments_default() {
        let at_default = |default| split_quiet([(0, None)], Some(night()), LATE_UTC, default);
        assert_eq!(at_default(0).quiet, 1);
        assert_eq!(at_default(-600).ready, vec![0]);
    }

    #[test]
    fn answers_map_to_rows_and_a_deferral_writes_none() {
        assert_eq!(outcome(Answer::Accepted), Some(Outcome::Sent));
        assert_eq!(outcome(Answer::Delivered), Some(Outcome::Delivered));
        assert_eq!(outcome(Answer::Rejected), Some(Outcome::Failed));
        assert_eq!(outcome(Answer::Deferred), None);
    }

    #[test]
    fn a_batch_with_nothing_left_is_finished() {
        assert_eq!(batch_end(Left::default(), NOW), BatchEnd::Finish);
    }

    #[test]
    fn a_deferral_counts_an_attempt_whatever_else_is_left() {
        let left = Left {
            deferred: 1,
            throttled_for_ms: Some(100),
            quiet_until_ms: Some(NOW + 5),
        };
        assert_eq!(batch_end(left, NOW), BatchEnd::Retry);
    }

    #[test]
    fn throttled_or_quiet_recipients_come_back_at_the_earlier_of_the_two() {
        let throttled = Left {
            throttled_for_ms: Some(250),
            ..Left::default()
        };
        assert_eq!(
            batch_end(throttled, NOW),
            BatchEnd::Wait { due_ms: NOW + 250 }
        );
        let quiet = Left {
            quiet_until_ms: Some(NOW + 60_000),
            ..Left::default()
        };
        assert_eq!(
            batch_end(quiet, NOW),
            BatchEnd::Wait {
                due_ms: NOW + 60_000
            }
        );
        let both = Left {
            throttled_for_ms: Some(250),
            quiet_until_ms: Some(NOW + 100),
            ..Left::default()
        };
        assert_eq!(batch_end(both, NOW), BatchEnd::Wait { due_ms: NOW + 100 });
    }
}
