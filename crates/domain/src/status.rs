//! Message statuses and their order.
//!
//! Each status a message reaches is stored under its own key (see [`crate::keys`]), and the
//! current status is the highest-ranked one reached. Writers therefore never read-modify-write
//! a shared record: a delivery receipt that overtakes the dispatcher's own `sent` write (Kannel
//! can report delivery before the HTTP call that submitted the message returns) still wins.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Persisted and acknowledged to the caller.
    Accepted,
    /// Planned and waiting for its delivery cell.
    Queued,
    /// Taken by the provider.
    Sent,
    /// Final: the provider reported delivery.
    Delivered,
    /// Final: the provider or the gateway gave up.
    Failed,
    /// Final: validity ran out before the message could be sent.
    Expired,
    /// Final: not sent, because the recipient opted out (STOP) of non-emergency messages
    /// on this channel.
    Suppressed,
    /// Final: not sent, because its caller cancelled it before it left (a scheduled
    /// message, most often).
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Accepted,
        Status::Queued,
        Status::Sent,
        Status::Delivered,
        Status::Failed,
        Status::Expired,
        Status::Suppressed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Expired => "expired",
            Status::Suppressed => "suppressed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Delivered
                | Status::Failed
                | Status::Expired
                | Status::Suppressed
                | Status::Cancelled
        )
    }

    /// Whether a provider has yet to take the message: neither sent nor settled.
    pub fn awaits_sending(self) -> bool {
        matches!(self, Status::Accepted | Status::Queued)
    }

    /// The current status given every status reached: the first final one reached wins
    /// (a late `failed` receipt cannot undo `delivered`), otherwise the furthest along.
    pub fn current(reached: &[(Status, u64)]) -> Option<Status> {
        let first_final = reached
            .iter()
            .filter(|(s, _)| s.is_final())
            .min_by_key(|(s, at)| (*at, *s))
            .map(|(s, _)| *s);
        first_final.or_else(|| reached.iter().map(|(s, _)| *s).max())
    }

    /// The history a reader is shown, oldest first, given every status reached with the
    /// time it was written. The steps before a final status (accepted, queued, sent) come
    /// in their own order and never after a final one: when a receipt overtakes the
    /// dispatcher, both write `sent`, and the later write's time would put `sent` after
    /// `delivered`. A step written after a later step is shown at that later step's time
    /// (the message was at least that far by then).
    pub fn timeline(reached: &[(Status, u64)]) -> Vec<(Status, u64)> {
        let (mut finals, mut steps): (Vec<_>, Vec<_>) =
            reached.iter().partition(|(s, _)| s.is_final());
        finals.sort_by_key(|&(status, at)| (at, status));
        steps.sort_by_key(|&(status, _)| status);
        // From the last step back: none is later than what follows it.
        let mut bound = finals.first().map_or(u64::MAX, |&(_, at)| at);
        for (_, at) in steps.iter_mut().rev() {
            *at = (*at).min(bound);
            bound = *at;
        }
        steps.extend(finals);
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn furthest_status_is_current() {
        assert_eq!(
            Status::current(&[(Accepted, 1), (Queued, 1), (Sent, 2)]),
            Some(Sent)
        );
        assert_eq!(Status::current(&[]), None);
    }

    #[test]
    fn receipt_that_overtakes_sent_still_counts() {
        assert_eq!(
            Status::current(&[(Queued, 1), (Delivered, 2), (Sent, 3)]),
            Some(Delivered)
        );
    }

    #[test]
    fn only_accepted_and_queued_await_sending() {
        for s in Status::ALL {
            assert_eq!(s.awaits_sending(), !(s.is_final() || s == Sent), "{s:?}");
        }
    }

    #[test]
    fn a_sent_written_after_the_receipt_is_shown_before_it() {
        // The dispatcher's `sent` (time 5) lands after Kannel's receipt wrote `sent` and
        // `delivered` (time 3).
        assert_eq!(
            Status::timeline(&[(Accepted, 1), (Queued, 1), (Sent, 5), (Delivered, 3)]),
            vec![(Accepted, 1), (Queued, 1), (Sent, 3), (Delivered, 3)]
        );
    }

    #[test]
    fn steps_come_in_their_order_and_finals_by_time() {
        assert_eq!(
            Status::timeline(&[(Failed, 9), (Sent, 2), (Delivered, 7), (Queued, 4)]),
            vec![(Queued, 2), (Sent, 2), (Delivered, 7), (Failed, 9)]
        );
        assert_eq!(
            Status::timeline(&[(Sent, 3), (Accepted, 1), (Queued, 2)]),
            vec![(Accepted, 1), (Queued, 2), (Sent, 3)]
        );
        assert_eq!(Status::timeline(&[]), vec![]);
    }

    #[test]
    fn first_final_status_wins() {
        assert_eq!(
            Status::current(&[(Sent, 1), (Delivered, 2), (Failed, 3)]),
            Some(Delivered)
        );
        assert_eq!(
            Status::current(&[(Sent, 1), (Failed, 2), (Delivered, 3)]),
            Some(Failed)
        );
    }
}
