//! After the provider call: ask [`delivery::next`] what the answer means, and gather the
//! writes of what was decided (written with the rest of the page's, `deliver.rs`).

use crate::attempt::{Outcome, log_in};
use crate::cell::answer_of;
use crate::govstack_messaging::types::types::SendOutcome;
use message_store::notifications::reach_and_notify_after;
use message_store::writes::Writes;
use message_store::{self as store, PendingEntry, delivery_watch, now_ms};
use messaging_domain::delivery::{self, Answer, Next};
use messaging_domain::record::AttemptRecord;
use messaging_domain::redact::provider_reason;
use messaging_domain::{MessageId, MessageRecord, Status, keys};
use spin_sdk::key_value::Store;

/// Which attempt a provider's answer is for.
pub struct Attempt {
    /// The route position it was sent on.
    pub hop: usize,
    /// Its number in the message's history.
    pub number: u64,
}

/// Decides what the provider's answer `sent` means for attempt `attempt` of a message
/// whose history (read after the provider call) is `history`, and gathers the writes of
/// the decision.
pub async fn finish(
    kv: &Store,
    cell: &str,
    record: &MessageRecord,
    attempt: Attempt,
    history: &[(Status, u64)],
    sent: SendOutcome,
) -> store::StoreResult<(Outcome, Writes)> {
    let hop = attempt.hop;
    let id = &record.id;
    let (answer, provider_id, reason) = answer_of(sent);
    // Only a deferral needs the count of earlier ones and the default schedule.
    let (deferrals, retry_base_ms) = match answer {
        Answer::Deferred => (
            store::pending(cell, id).await?.map_or(0, |p| p.attempts),
            store::work::retry_base_ms().await,
        ),
        _ => (0, 0),
    };
    let decided = Decided {
        next: delivery::next(answer, record, hop, deferrals, now_ms(), retry_base_ms),
        provider_id,
        reason,
    };
    let mut writes = Writes::new();
    let outcome = apply(kv, &mut writes, cell, record, attempt, history, decided).await?;
    log_in(&mut writes, "dispatch.attempt", id, outcome.as_str());
    Ok((outcome, writes))
}

/// What [`delivery::next`] decided, with the provider's details the writes need.
struct Decided {
    next: Next,
    /// The provider's own id of the message, for receipts that name only it.
    provider_id: Option<String>,
    /// Why the provider deferred or refused it.
    reason: Option<String>,
}

/// Gathers in `writes` what was decided: the attempt, the status, and what is erased.
/// What only rare routes need (a delivery watch, a retry's pending entry, the next cell of
/// a failover) is written at once, while the message is still marked as being sent.
async fn apply(
    kv: &Store,
    writes: &mut Writes,
    cell: &str,
    record: &MessageRecord,
    attempt_of: Attempt,
    history: &[(Status, u64)],
    decided: Decided,
) -> store::StoreResult<Outcome> {
    let hop = attempt_of.hop;
    let Decided {
        next,
        provider_id,
        reason,
    } = decided;
    let id = &record.id;
    let reason = reason.as_deref().map(provider_reason);
    let attempt = AttemptRecord {
        cell: cell.to_string(),
        outcome: next.attempt_outcome().to_string(),
        reason: reason.clone(),
        at_ms: now_ms(),
    };
    for (key, value) in store::attempt_rows(id, attempt_of.number, &attempt) {
        writes.set(key, value);
    }
    let reason = reason.unwrap_or_default();
    Ok(match next {
        Next::Sent { watch } => {
            // Providers whose reports name only their own id are matched back by it.
            if let Some(provider_id) = provider_id {
                let mapping = keys::provider_message(&provider_id);
                writes.set(keys::message_provider_mapping(id), mapping.as_str());
                writes.set(mapping, id.as_str());
            }
            reach_and_notify_after(writes, record, Status::Sent, history).await?;
            // A route that falls back on a missing receipt keeps what the fallback needs
            // until the receipt or the deadline; any other message is done with.
            if watch && delivery_watch::start(kv, record).await? {
                writes.delete(keys::sending(id));
                writes.clear_pending(cell, id);
            } else {
                settle_in(writes, cell, id);
            }
            Outcome::Sent
        }
        Next::Delivered => {
            reach_and_notify_after(writes, record, Status::Sent, history).await?;
            reach_and_notify_after(writes, record, Status::Delivered, history).await?;
            settle_in(writes, cell, id);
            Outcome::Delivered
        }
        Next::Retry { due_ms, deferrals } => {
            store::set_pending(
                cell,
                id,
                PendingEntry {
                    due_ms,
                    attempts: deferrals,
                    scheduled: false,
                },
            )
            .await?;
            writes.delete(keys::sending(id));
            log_in(writes, "dispatch.deferred", id, &reason);
            Outcome::Deferred
        }
        Next::FailOver { next_cell, .. } => {
            fail_over(kv, cell, id, hop, &next_cell).await?;
            log_in(writes, "dispatch.failover", id, &next_cell);
            Outcome::FailedOver
        }
        Next::Fail { gave_up } => {
            reach_and_notify_after(writes, record, Status::Failed, history).await?;
            settle_in(writes, cell, id);
            let event = if gave_up {
                "dispatch.gave_up"
            } else {
                "dispatch.failed"
            };
            log_in(writes, event, id, &reason);
            Outcome::Failed
        }
    })
}

/// Moves the message to the next cell of its route: the position is written while this
/// cell still marks it as being sent, the work is queued for the next cell, and that
/// cell's drain is asked for.
async fn fail_over(
    kv: &Store,
    cell: &str,
    id: &MessageId,
    hop: usize,
    next: &str,
) -> store::StoreResult<()> {
    kv.set(keys::hop(id), (hop + 1).to_string()).await?;
    store::set_pending(
        next,
        id,
        PendingEntry {
            due_ms: now_ms(),
            attempts: 0,
            scheduled: false,
        },
    )
    .await?;
    store::clear_pending(cell, id).await?;
    kv.delete(keys::sending(id)).await?;
    store::drain::poke_cell(next);
    Ok(())
}

/// The message needs no more attempts: forget the address, content, delivery watch, marks
/// and pending entry.
pub async fn settle(cell: &str, id: &MessageId) -> store::StoreResult<()> {
    let mut writes = Writes::new();
    settle_in(&mut writes, cell, id);
    writes.commit().await
}

/// [`settle`] as part of `writes`.
pub fn settle_in(writes: &mut Writes, cell: &str, id: &MessageId) {
    for key in [
        keys::payload(id),
        keys::delivery_watch(id),
        keys::sending(id),
        keys::claim(id),
    ] {
        writes.delete(key);
    }
    writes.clear_pending(cell, id);
}
