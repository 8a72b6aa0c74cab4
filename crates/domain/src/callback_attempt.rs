//! What one attempt at delivering a notification to a caller's system means, decided
//! without I/O. The notifier reads a page of notifications, posts those still to post,
//! asks [`next`] what each answer means, and writes that.

use crate::retry::backoff_ms;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The receiver answered 2xx.
    Accepted,
    /// The platform will never let the call out (not a host the deployment allows, or an
    /// address it must not reach): retrying cannot help.
    Refused(String),
    /// Anything else (an error status, no answer): the receiver may answer later.
    Failed(String),
    /// Not posted: the notification's validity (`callback_retry_hours`) ran out first.
    TooLate,
}

/// What becomes of the notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Delivered: erased.
    Delivered,
    /// Refused for good: erased.
    Refused(String),
    /// Expired unposted: erased.
    Expired,
    /// Posted again at `due_ms`; `attempts` failed so far.
    Retry {
        due_ms: u64,
        attempts: u32,
        reason: String,
    },
}

/// Whether a notification that expires at `expires_ms` may still be posted at `now_ms`.
pub fn still_valid(expires_ms: u64, now_ms: u64) -> bool {
    now_ms < expires_ms
}

/// What `answer` means for a notification that had failed `attempts_before` times, with
/// the first retry after `retry_base_ms`, doubling per failure.
pub fn next(answer: Answer, attempts_before: u32, now_ms: u64, retry_base_ms: u64) -> Next {
    match answer {
        Answer::Accepted => Next::Delivered,
        Answer::Refused(reason) => Next::Refused(reason),
        Answer::TooLate => Next::Expired,
        Answer::Failed(reason) => {
            let attempts = attempts_before.saturating_add(1);
            Next::Retry {
                due_ms: now_ms.saturating_add(backoff_ms(retry_base_ms, attempts)),
                attempts,
                reason,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_refused_and_late_notifications_are_done_with() {
        assert_eq!(next(Answer::Accepted, 3, 0, 10), Next::Delivered);
        assert_eq!(
            next(Answer::Refused("not allowed".into()), 0, 0, 10),
            Next::Refused("not allowed".into())
        );
        assert_eq!(next(Answer::TooLate, 5, 0, 10), Next::Expired);
    }

    #[test]
    fn a_failure_is_retried_later_each_time() {
        let first = next(Answer::Failed("503".into()), 0, 1_000, 10_000);
        let third = next(Answer::Failed("503".into()), 2, 1_000, 10_000);
        match (first, third) {
            (
                Next::Retry {
                    due_ms: a,
                    attempts: 1,
                    ..
                },
                Next::Retry {
                    due_ms: b,
                    attempts: 3,
                    ..
                },
            ) => {
                assert_eq!(a, 1_000 + backoff_ms(10_000, 1));
                assert!(b > a, "backoff grows: {a} then {b}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validity_ends_at_its_instant() {
        assert!(still_valid(100, 99));
        assert!(!still_valid(100, 100));
    }
}
