//! Before the provider call: read (a page's views in one batch read), decide with
//! [`delivery::plan`], mark as being sent, look again, and make each message the sender
//! takes.

use crate::attempt::{Outcome, log};
use crate::cell;
use crate::finish::settle;
use crate::govstack_messaging::types::types::{EmailDetails, OutboundMessage};
use crate::receipt_urls::ReceiptUrls;
use message_store::notifications::reach_and_notify;
use message_store::{self as store, DispatchView, PendingEntry, delivery_watch, now_ms};
use messaging_domain::delivery::{self, Look, Plan};
use messaging_domain::record::{AttemptRecord, DeliveryWatch};
use messaging_domain::{MessageId, MessageRecord, Status, keys};
use spin_sdk::key_value::Store;

/// How long a drain's mark that it is sending a message holds off a cancel
/// (`keys::sending`). A drain that dies leaves its marks to run out.
pub const SENDING_MS: u64 = 60_000;

/// A message this cell's drain sends now: planned, then marked as being sent.
pub struct ToSend {
    pub record: MessageRecord,
    /// The route position it is sent on.
    pub hop: usize,
    /// Attempts numbered so far, read after the mark (this drain numbers the next ones:
    /// `message_store::attempt_rows`).
    pub attempts: u64,
    /// The first channel's provider has it, undelivered: the route moves to the fallback.
    fallback_due: bool,
    watch: Option<DeliveryWatch>,
    /// The route position the message was on when read.
    read_hop: usize,
    sealed_payload: Option<Vec<u8>>,
}

/// Pauses before reading again a page's messages whose pending entry was there but whose
/// record was not: their producer writes the entry first and the message a moment later
/// (`message_store::inserts`), and a drain that reads the queue's head often meets one in
/// between. Left to the drain's next pass, such a message would wait seconds
/// (`messaging_domain::drain::REHAND_MS`); an entry whose message never comes (a producer
/// that crashed) is dropped after the write grace.
const UNWRITTEN_WAITS_MS: [u64; 3] = [5, 20, 50];

/// The [`DispatchView`]s of a drain's page, in one batch read, with those found without
/// their record read again after each of [`UNWRITTEN_WAITS_MS`] until they have one.
pub async fn read_views(ids: &[MessageId]) -> store::StoreResult<Vec<DispatchView>> {
    let mut views = store::dispatch_views(ids)?;
    for wait_ms in UNWRITTEN_WAITS_MS {
        let unwritten: Vec<usize> = (0..views.len())
            .filter(|&i| views[i].record.is_none())
            .collect();
        if unwritten.is_empty() {
            break;
        }
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(wait_ms * 1_000_000).await;
        let again: Vec<MessageId> = unwritten.iter().map(|&i| ids[i].clone()).collect();
        for (i, view) in unwritten.into_iter().zip(store::dispatch_views(&again)?) {
            views[i] = view;
        }
    }
    Ok(views)
}

/// Decides with [`delivery::plan`] whether this cell sends the message of `view` now.
/// `Ok(Err(outcome))`: nothing to send now, and why (what that decision writes is
/// written).
pub async fn plan(
    cell: &str,
    id: &MessageId,
    view: DispatchView,
) -> store::StoreResult<Result<ToSend, Outcome>> {
    let Some(record) = view.record else {
        let entry = store::pending(cell, id).await?;
        if messaging_domain::due::orphan_expired(entry.map(|e| e.due_ms), now_ms()) {
            store::clear_pending(cell, id).await?;
        }
        return Ok(Err(Outcome::Skipped));
    };
    let utc_offset_min = match (record.quiet_hours, record.utc_offset_min) {
        (Some(_), None) => cell::default_utc_offset().await,
        (_, offset) => offset.unwrap_or(0),
    };
    let look = Look {
        cell,
        record: &record,
        hop: view.hop,
        watch: view.watch.as_ref(),
        status: Status::current(&view.history),
        now_ms: now_ms(),
        utc_offset_min,
    };
    let (hop, fallback_due) = match act_on(cell, &record, delivery::plan(look)).await? {
        Ok(send) => send,
        Err(outcome) => return Ok(Err(outcome)),
    };
    Ok(Ok(ToSend {
        record,
        hop,
        attempts: 0,
        fallback_due,
        watch: view.watch,
        read_hop: view.hop,
        sealed_payload: view.sealed_payload,
    }))
}

/// Whether a marked message, as read again after the mark (`held`), is still to send: no
/// cancel holds its claim, and no other attempt sent it between the first look and the
/// mark. Keeps the count of attempts read with it.
pub fn still_needed(to_send: &mut ToSend, held: &store::HeldView) -> bool {
    to_send.attempts = held.attempts;
    !held.cancelling
        && delivery::needs_sending(
            Status::current(&held.history),
            to_send.fallback_due,
            to_send.watch.as_ref(),
            to_send.read_hop,
        )
}

/// Makes the message the sender takes from a marked message: begins its fallback if due,
/// and opens its payload. `Ok(Err(outcome))`: nothing to send (the payload is gone, or
/// the fallback channel has no address).
pub async fn outbound(
    kv: &Store,
    cell: &str,
    to_send: &mut ToSend,
    receipt_urls: Option<&ReceiptUrls>,
) -> store::StoreResult<Result<OutboundMessage, Outcome>> {
    let id = to_send.record.id.clone();
    if to_send.fallback_due
        && let Some(watch) = to_send.watch.clone()
    {
        to_send.attempts += 1;
        let n = to_send.attempts;
        begin_fallback(kv, cell, &id, &to_send.record, to_send.read_hop, watch, n).await?;
    }
    let payload = match &to_send.sealed_payload {
        None => None,
        Some(sealed) => match store::open_payload(&id, sealed).await {
            Ok(payload) => payload,
            Err(e) => {
                // Unreadable (a sealing key missing from storage_keys): it waits for the
                // key; a cancel need not wait for the mark to run out meanwhile.
                kv.delete(keys::sending(&id)).await?;
                return Err(e);
            }
        },
    };
    let Some(payload) = payload else {
        settle(cell, &id).await?;
        return Ok(Err(Outcome::Skipped));
    };
    let record = &to_send.record;
    // On the fallback channel the message goes to the fallback address, with the fallback
    // subject and none of the first channel's email details.
    let (channel, to, subject, email) = match (
        record.is_fallback_hop(to_send.hop),
        &record.fallback,
        payload.fallback,
    ) {
        (false, _, _) => (record.channel, payload.to, payload.subject, payload.email),
        (true, Some(route), Some(fallback)) => (route.channel, fallback.to, fallback.subject, None),
        (true, _, _) => {
            // Never send the first channel's address over another channel.
            reach_and_notify(record, Status::Failed).await?;
            settle(cell, &id).await?;
            log(
                "dispatch.failed",
                &id,
                "no fallback address for the fallback channel",
            );
            return Ok(Err(Outcome::Failed));
        }
    };
    Ok(Ok(OutboundMessage {
        id: id.to_string(),
        channel: cell::wit_channel(channel),
        to,
        subject,
        body: payload.body,
        receipt_url: receipt_urls.map(|urls| urls.message(&id)),
        email: email.map(|e| EmailDetails {
            cc: e.cc,
            bcc: e.bcc,
            reply_to: e.reply_to,
            sender_address: e.sender_address,
            sender_name: e.sender_name,
            recipient_name: e.recipient_name,
        }),
    }))
}

/// Writes what a plan other than [`Plan::Send`] decided, and returns its outcome; for
/// `Send`, the route position to send on and whether the fallback begins.
async fn act_on(
    cell: &str,
    record: &MessageRecord,
    plan: Plan,
) -> store::StoreResult<Result<(usize, bool), Outcome>> {
    let id = &record.id;
    Ok(Err(match plan {
        Plan::Send { hop, fallback_due } => return Ok(Ok((hop, fallback_due))),
        Plan::WrongCell { current } => {
            log("dispatch.wrong_cell", id, &current);
            store::clear_pending(cell, id).await?;
            Outcome::Skipped
        }
        Plan::NothingToSend => {
            store::clear_pending(cell, id).await?;
            Outcome::Skipped
        }
        Plan::NotYet => Outcome::Skipped,
        Plan::QuietUntil { due_ms } => {
            postpone(cell, id, due_ms).await?;
            log(
                "dispatch.quiet_hours",
                id,
                "waits for the recipient's morning",
            );
            Outcome::Skipped
        }
        Plan::Expire => {
            reach_and_notify(record, Status::Expired).await?;
            settle(cell, id).await?;
            log("dispatch.expired", id, "validity ran out before sending");
            Outcome::Expired
        }
    }))
}

/// Brings the message back at `due_ms` without counting an attempt (quiet hours, a spent
/// send rate).
pub async fn postpone(cell: &str, id: &MessageId, due_ms: u64) -> store::StoreResult<()> {
    let attempts = store::pending(cell, id).await?.map_or(0, |p| p.attempts);
    store::set_pending(
        cell,
        id,
        PendingEntry {
            due_ms,
            attempts,
            scheduled: true,
        },
    )
    .await
}

/// The first channel's provider has the message, undelivered: say so in the history (as
/// attempt number `n`) and continue on the fallback channel.
async fn begin_fallback(
    kv: &Store,
    cell: &str,
    id: &MessageId,
    record: &MessageRecord,
    hop: usize,
    mut watch: DeliveryWatch,
    n: u64,
) -> store::StoreResult<()> {
    let undelivered = AttemptRecord {
        cell: record.cell_at(hop).unwrap_or(&record.cell).to_string(),
        outcome: "undelivered".into(),
        reason: Some(watch.reason.clone()),
        at_ms: now_ms(),
    };
    store::many::set_many("default", &store::attempt_rows(id, n, &undelivered))?;
    kv.set(keys::hop(id), watch.hop.to_string()).await?;
    watch.fired = true;
    delivery_watch::set(kv, id, &watch).await?;
    log("dispatch.fallback_undelivered", id, cell);
    Ok(())
}
