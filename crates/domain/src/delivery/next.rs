//! After the provider call: what its answer means for the message.

use crate::MessageRecord;
use crate::retry::{MAX_RETRY_MS, Schedule};

/// A provider's answer, without its details (the provider's id and reason stay with the
/// adapter, which records them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Taken; a receipt may follow.
    Accepted,
    /// Taken and delivered at once (the development outbox, push services).
    Delivered,
    /// Not now (a timeout, a 5xx, a rate limit): worth trying again.
    Deferred,
    /// Never from this provider (a bad number, a route it lacks).
    Rejected,
}

/// What the message's state becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// `sent`. `watch`: its route falls back to another channel unless a receipt says
    /// delivered in time, so what the fallback needs is kept until then.
    Sent { watch: bool },
    /// `sent`, then `delivered`.
    Delivered,
    /// Try this cell again at `due_ms`, its `deferrals`-th deferral.
    Retry { due_ms: u64, deferrals: u32 },
    /// Hand the message to the next cell of its route. `deferred`: this provider kept
    /// deferring it (else it refused it).
    FailOver { next_cell: String, deferred: bool },
    /// `failed`. `gave_up`: the policy's retries ran out (else the last provider of the
    /// route refused it).
    Fail { gave_up: bool },
}

impl Next {
    /// The attempt's outcome in the message's history.
    pub fn attempt_outcome(&self) -> &'static str {
        match self {
            Next::Sent { .. } => "sent",
            Next::Delivered => "delivered",
            Next::Retry { .. } | Next::FailOver { deferred: true, .. } => "deferred",
            Next::FailOver {
                deferred: false, ..
            }
            | Next::Fail { gave_up: false } => "refused",
            Next::Fail { gave_up: true } => "gave_up",
        }
    }
}

/// What `answer` from the provider at route position `hop` means, for a message deferred
/// `deferrals` times by this cell before. `default_retry_base_ms` is the deployment's
/// first retry delay for policies without a `[retry]` schedule: from it the delay doubles,
/// at most [`MAX_RETRY_MS`] apart, until the message's validity ends it ([`super::Plan::Expire`]).
pub fn next(
    answer: Answer,
    record: &MessageRecord,
    hop: usize,
    deferrals: u32,
    now_ms: u64,
    default_retry_base_ms: u64,
) -> Next {
    let next_cell = record.cell_at(hop + 1).map(String::from);
    match answer {
        Answer::Accepted => Next::Sent {
            watch: !record.is_fallback_hop(hop)
                && record
                    .fallback
                    .as_ref()
                    .is_some_and(|f| f.unless_delivered_within_ms.is_some()),
        },
        Answer::Delivered => Next::Delivered,
        Answer::Deferred => {
            let schedule = record.retry.unwrap_or(Schedule {
                first_ms: default_retry_base_ms,
                max_interval_ms: MAX_RETRY_MS,
                give_up_after_ms: None,
            });
            if schedule.gives_up(record.created_ms, now_ms) {
                // The policy's retries are spent: the spec's "then failed".
                return Next::Fail { gave_up: true };
            }
            let deferrals = deferrals + 1;
            match next_cell {
                Some(next_cell) if deferrals >= record.failover_after => Next::FailOver {
                    next_cell,
                    deferred: true,
                },
                _ => Next::Retry {
                    due_ms: now_ms + schedule.delay_ms(deferrals),
                    deferrals,
                },
            }
        }
        // This provider refuses; the next one may not (a route it lacks, a sender id it
        // does not know). Nothing was sent, so trying the next sends nothing twice.
        Answer::Rejected => match next_cell {
            Some(next_cell) => Next::FailOver {
                next_cell,
                deferred: false,
            },
            None => Next::Fail { gave_up: false },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;
    use crate::record::FallbackRoute;

    const NOW: u64 = 1_000_000_000;
    const BASE: u64 = 10_000;

    fn record() -> MessageRecord {
        let mut record = MessageRecord::example();
        record.created_ms = NOW - 1_000;
        record.failover_after = 3;
        record
    }

    fn with_backup() -> MessageRecord {
        let mut record = record();
        record.fallback_cells = vec!["deliver-sms-backup".into()];
        record
    }

    #[test]
    fn a_taken_message_is_sent_and_watched_only_where_its_route_says_so() {
        let mut record = record();
        assert_eq!(
            next(Answer::Accepted, &record, 0, 0, NOW, BASE),
            Next::Sent { watch: false }
        );
        record.fallback = Some(FallbackRoute {
            channel: Channel::Email,
            cells: vec!["deliver-email".into()],
            unless_delivered_within_ms: Some(60_000),
        });
        assert_eq!(
            next(Answer::Accepted, &record, 0, 0, NOW, BASE),
            Next::Sent { watch: true }
        );
        // Already on the fallback channel: nothing further to fall back to.
        let fallback_hop = record.first_fallback_hop();
        assert_eq!(
            next(Answer::Accepted, &record, fallback_hop, 0, NOW, BASE),
            Next::Sent { watch: false }
        );
        assert_eq!(
            next(Answer::Delivered, &record, 0, 0, NOW, BASE),
            Next::Delivered
        );
    }

    #[test]
    fn a_deferral_backs_off_doubling_up_to_the_cap() {
        let record = record();
        let delays: Vec<u64> = (0..12)
            .map(
                |deferrals| match next(Answer::Deferred, &record, 0, deferrals, NOW, BASE) {
                    Next::Retry {
                        due_ms,
                        deferrals: n,
                    } => {
                        assert_eq!(n, deferrals + 1);
                        due_ms - NOW
                    }
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert_eq!(&delays[..4], &[10_000, 20_000, 40_000, 80_000]);
        assert_eq!(*delays.last().unwrap(), MAX_RETRY_MS);
    }

    #[test]
    fn the_policys_schedule_replaces_the_default_and_gives_up_on_time() {
        let mut record = record();
        record.retry = Some(Schedule {
            first_ms: 1_000,
            max_interval_ms: 4_000,
            give_up_after_ms: Some(60_000),
        });
        assert_eq!(
            next(Answer::Deferred, &record, 0, 5, NOW, BASE),
            Next::Retry {
                due_ms: NOW + 4_000,
                deferrals: 6
            }
        );
        let late = record.created_ms + 60_000;
        let gave_up = next(Answer::Deferred, &record, 0, 0, late, BASE);
        assert_eq!(gave_up, Next::Fail { gave_up: true });
        assert_eq!(gave_up.attempt_outcome(), "gave_up");
    }

    #[test]
    fn repeated_deferrals_fail_over_to_the_next_cell_of_the_route() {
        let record = with_backup();
        assert!(matches!(
            next(Answer::Deferred, &record, 0, 1, NOW, BASE),
            Next::Retry { deferrals: 2, .. }
        ));
        let moved = next(Answer::Deferred, &record, 0, 2, NOW, BASE);
        assert_eq!(
            moved,
            Next::FailOver {
                next_cell: "deliver-sms-backup".into(),
                deferred: true
            }
        );
        assert_eq!(moved.attempt_outcome(), "deferred");
        // The last cell of the route keeps retrying: there is nowhere else to go.
        assert!(matches!(
            next(Answer::Deferred, &record, 1, 7, NOW, BASE),
            Next::Retry { deferrals: 8, .. }
        ));
    }

    #[test]
    fn a_refusal_moves_on_at_once_and_fails_at_the_end_of_the_route() {
        let record = with_backup();
        let moved = next(Answer::Rejected, &record, 0, 0, NOW, BASE);
        assert_eq!(
            moved,
            Next::FailOver {
                next_cell: "deliver-sms-backup".into(),
                deferred: false
            }
        );
        assert_eq!(moved.attempt_outcome(), "refused");
        let failed = next(Answer::Rejected, &record, 1, 0, NOW, BASE);
        assert_eq!(failed, Next::Fail { gave_up: false });
        assert_eq!(failed.attempt_outcome(), "refused");
    }

    #[test]
    fn a_refusal_on_the_first_channel_moves_to_the_fallback_channel() {
        let mut record = record();
        record.fallback = Some(FallbackRoute {
            channel: Channel::Email,
            cells: vec!["deliver-email".into()],
            unless_delivered_within_ms: None,
        });
        assert_eq!(
            next(Answer::Rejected, &record, 0, 0, NOW, BASE),
            Next::FailOver {
                next_cell: "deliver-email".into(),
                deferred: false
            }
        );
    }
}
