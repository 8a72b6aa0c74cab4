//! Before the provider call: whether this cell sends the message now.

use crate::record::DeliveryWatch;
use crate::{MessageRecord, Status};

/// What a cell knows about a message when its turn comes.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// The cell deciding (its Spin component id).
    pub cell: &'a str,
    pub record: &'a MessageRecord,
    /// The message's position on its route (`msg/<id>/hop`; 0: its first cell).
    pub hop: usize,
    /// The watch of a sent message whose route falls back on a missing receipt.
    pub watch: Option<&'a DeliveryWatch>,
    /// The message's status now (`Status::current` of its history).
    pub status: Option<Status>,
    pub now_ms: u64,
    /// The recipient's UTC offset in minutes: the request's, else the deployment's.
    pub utc_offset_min: i16,
}

/// What the cell does, in the order the cases are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// On another cell's route position now (its policy chose another provider, or it
    /// failed over): this cell forgets its pending entry.
    WrongCell { current: String },
    /// Sent, settled or cancelled already: this cell forgets its pending entry.
    NothingToSend,
    /// Scheduled for later: the pending entry brings it back when due.
    NotYet,
    /// The recipient's quiet hours: back when they end, without counting an attempt.
    QuietUntil { due_ms: u64 },
    /// Validity ran out before sending: `expired`.
    Expire,
    /// Send on route position `hop`. `fallback_due`: the first channel's provider has the
    /// message but no receipt said delivered in time, so the history first records it
    /// `undelivered` and the route moves to the fallback channel.
    Send { hop: usize, fallback_due: bool },
}

/// Decides whether this cell sends the message now.
pub fn plan(look: Look<'_>) -> Plan {
    let record = look.record;
    let current = record.cell_at(look.hop).unwrap_or(&record.cell);
    let fallback_due = current != look.cell
        && look.watch.is_some_and(|w| {
            !w.fired && record.cell_at(w.hop) == Some(look.cell) && look.now_ms >= w.due_ms
        });
    if current != look.cell && !fallback_due {
        return Plan::WrongCell {
            current: current.to_string(),
        };
    }
    if !needs_sending(look.status, fallback_due, look.watch, look.hop) {
        return Plan::NothingToSend;
    }
    if record.send_at_ms.is_some_and(|at| look.now_ms < at) {
        return Plan::NotYet;
    }
    if let Some(due_ms) = record
        .quiet_hours
        .and_then(|quiet| quiet.ends_at(look.now_ms, look.utc_offset_min))
    {
        return Plan::QuietUntil { due_ms };
    }
    if look.now_ms >= record.expires_ms {
        return Plan::Expire;
    }
    let hop = match (fallback_due, look.watch) {
        (true, Some(watch)) => watch.hop,
        _ => look.hop,
    };
    Plan::Send { hop, fallback_due }
}

/// Whether a message at `status` still needs a provider: not yet sent, or sent on its
/// first channel and now due (or under way) on its fallback channel. Asked again once the
/// cell holds the message's claim, since another attempt may have sent it in between.
pub fn needs_sending(
    status: Option<Status>,
    fallback_due: bool,
    watch: Option<&DeliveryWatch>,
    hop: usize,
) -> bool {
    status.is_some_and(|s| {
        s.awaits_sending()
            || (s == Status::Sent
                && (fallback_due || watch.is_some_and(|w| w.fired && hop >= w.hop)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;
    use crate::quiet_hours::QuietHours;
    use crate::record::FallbackRoute;

    const NOW: u64 = 1_000_000_000;

    fn record() -> MessageRecord {
        let mut record = MessageRecord::example();
        record.cell = "deliver-sms".into();
        record.expires_ms = NOW + 60_000;
        record
    }

    fn look<'a>(record: &'a MessageRecord, cell: &'a str) -> Look<'a> {
        Look {
            cell,
            record,
            hop: 0,
            watch: None,
            status: Some(Status::Queued),
            now_ms: NOW,
            utc_offset_min: 0,
        }
    }

    /// An SMS that falls back to email unless delivered in time, watched since it was sent.
    fn watched() -> (MessageRecord, DeliveryWatch) {
        let mut record = record();
        record.fallback = Some(FallbackRoute {
            channel: Channel::Email,
            cells: vec!["deliver-email".into()],
            unless_delivered_within_ms: Some(60_000),
        });
        let watch = DeliveryWatch {
            hop: record.first_fallback_hop(),
            due_ms: NOW - 1,
            reason: "no receipt".into(),
            fired: false,
        };
        (record, watch)
    }

    #[test]
    fn a_queued_message_of_this_cell_is_sent_on_its_hop() {
        let record = record();
        assert_eq!(
            plan(look(&record, "deliver-sms")),
            Plan::Send {
                hop: 0,
                fallback_due: false
            }
        );
    }

    #[test]
    fn another_cells_message_is_left_to_it() {
        let record = record();
        assert_eq!(
            plan(look(&record, "deliver-email")),
            Plan::WrongCell {
                current: "deliver-sms".into()
            }
        );
        let mut failed_over = record.clone();
        failed_over.fallback_cells = vec!["deliver-sms-backup".into()];
        let at_backup = Look {
            hop: 1,
            ..look(&failed_over, "deliver-sms")
        };
        assert_eq!(
            plan(at_backup),
            Plan::WrongCell {
                current: "deliver-sms-backup".into()
            }
        );
    }

    #[test]
    fn sent_or_final_messages_need_nothing_more() {
        let record = record();
        for status in [
            Some(Status::Sent),
            Some(Status::Delivered),
            Some(Status::Failed),
            Some(Status::Cancelled),
            None,
        ] {
            let at = Look {
                status,
                ..look(&record, "deliver-sms")
            };
            assert_eq!(plan(at), Plan::NothingToSend, "{status:?}");
        }
    }

    #[test]
    fn a_scheduled_message_waits_for_its_time() {
        let mut record = record();
        record.send_at_ms = Some(NOW + 1);
        assert_eq!(plan(look(&record, "deliver-sms")), Plan::NotYet);
        record.send_at_ms = Some(NOW);
        assert!(matches!(
            plan(look(&record, "deliver-sms")),
            Plan::Send { .. }
        ));
    }

    #[test]
    fn quiet_hours_at_the_recipients_offset_postpone_without_an_attempt() {
        let mut record = record();
        // 22:00 to 07:00; NOW is 13:46 UTC, so quiet from UTC+9 (22:46) but not at UTC.
        record.quiet_hours = Some(QuietHours {
            start_min: 22 * 60,
            end_min: 7 * 60,
        });
        assert!(matches!(
            plan(look(&record, "deliver-sms")),
            Plan::Send { .. }
        ));
        let tokyo = Look {
            utc_offset_min: 9 * 60,
            ..look(&record, "deliver-sms")
        };
        let Plan::QuietUntil { due_ms } = plan(tokyo) else {
            panic!("quiet in Tokyo: {:?}", plan(tokyo));
        };
        assert!(due_ms > NOW && due_ms - NOW <= 9 * 3_600_000, "{due_ms}");
    }

    #[test]
    fn a_message_past_its_validity_expires_instead_of_going_out() {
        let mut record = record();
        record.expires_ms = NOW;
        assert_eq!(plan(look(&record, "deliver-sms")), Plan::Expire);
    }

    #[test]
    fn a_due_watch_sends_on_the_fallback_channel_from_its_first_cell() {
        let (record, watch) = watched();
        let at = Look {
            watch: Some(&watch),
            status: Some(Status::Sent),
            ..look(&record, "deliver-email")
        };
        assert_eq!(
            plan(at),
            Plan::Send {
                hop: watch.hop,
                fallback_due: true
            }
        );
        // Not yet due, or already fired: nothing for the fallback cell to begin.
        let later = DeliveryWatch {
            due_ms: NOW + 1,
            ..watch.clone()
        };
        assert_eq!(
            plan(Look {
                watch: Some(&later),
                ..at
            }),
            Plan::WrongCell {
                current: "deliver-sms".into()
            }
        );
        let fired = DeliveryWatch {
            fired: true,
            ..watch.clone()
        };
        assert_eq!(
            plan(Look {
                watch: Some(&fired),
                ..at
            }),
            Plan::WrongCell {
                current: "deliver-sms".into()
            }
        );
        // The first channel's cell never sends a sent message again.
        assert_eq!(
            plan(Look {
                cell: "deliver-sms",
                ..at
            }),
            Plan::NothingToSend
        );
    }

    #[test]
    fn a_fired_watch_lets_the_fallback_channel_retry_a_sent_message() {
        let (record, mut watch) = watched();
        watch.fired = true;
        let at = Look {
            hop: watch.hop,
            watch: Some(&watch),
            status: Some(Status::Sent),
            ..look(&record, "deliver-email")
        };
        assert_eq!(
            plan(at),
            Plan::Send {
                hop: watch.hop,
                fallback_due: false
            }
        );
        assert!(!needs_sending(
            Some(Status::Delivered),
            false,
            Some(&watch),
            watch.hop
        ));
    }
}
