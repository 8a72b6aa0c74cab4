//! Delivery attempts of a page of messages: the adapter around `messaging_domain::delivery`.
//! Reads go in batches, decisions are the domain's (`prepare.rs` before the provider call,
//! `finish.rs` after), and a page's outcomes are written together.

use crate::attempt::{Outcome, store_error};
use crate::cell;
use crate::govstack_messaging::sender::sender;
use crate::govstack_messaging::types::types::{OutboundMessage, SendOutcome};
use crate::prepare::{self, ToSend};
use crate::receipt_urls::ReceiptUrls;
use message_store::writes::Writes;
use message_store::{self as store, now_ms};
use messaging_domain::{MessageId, keys};
use spin_sdk::key_value::Store;

/// A message being sent, with its index among the page's ids.
type Held = (usize, ToSend);

/// Attempts every message of a drain's page in one provider call: all are read in one
/// batch read and planned; those to send are marked as being sent (one `set-many`) and
/// read again (one batch read: a cancel may hold one, another attempt may have sent
/// one); those still to send go to the sender together (`send` for one, `send-batch` for
/// more, ordered by text so a provider with a bulk API sends runs of equal text in one
/// request); each is then finished with its own answer, and the page's writes are made
/// together. The outcomes are in the order of `ids`.
///
/// Only the drain that holds the cell's lease calls this, so no other attempt of this
/// cell runs at the same time; a message is in one cell's queue at a time.
pub async fn attempt_all(cell: &str, ids: &[MessageId]) -> Vec<Outcome> {
    let mut outcomes = vec![Outcome::Skipped; ids.len()];
    let read = async {
        Ok::<_, store::StoreError>((store::open().await?, prepare::read_views(ids).await?))
    };
    let (kv, views) = match read.await {
        Ok(read) => read,
        Err(e) => return ids.iter().map(|id| store_error(id, e.clone())).collect(),
    };
    let mut planned = Vec::new();
    for (i, (id, view)) in ids.iter().zip(views).enumerate() {
        match prepare::plan(cell, id, view).await {
            Ok(Ok(to_send)) => planned.push((i, to_send)),
            Ok(Err(outcome)) => outcomes[i] = outcome,
            Err(e) => outcomes[i] = store_error(id, e),
        }
    }
    let held = mark_and_look_again(planned, &mut outcomes);
    let receipt_urls = ReceiptUrls::for_this_cell().await;
    let mut ready = Vec::new();
    for (i, mut to_send) in held {
        match prepare::outbound(&kv, cell, &mut to_send, receipt_urls.as_ref()).await {
            Ok(Ok(message)) => ready.push(((i, to_send), message)),
            Ok(Err(outcome)) => outcomes[i] = outcome,
            Err(e) => outcomes[i] = store_error(&ids[i], e),
        }
    }
    let ready = within_send_rate(cell, ready, &mut outcomes).await;
    let sent = send(ready).await;
    finish_all(&kv, cell, sent, &mut outcomes).await;
    outcomes
}

/// Marks the planned messages as being sent, then reads them again in one batch read
/// (with their count of attempts), and keeps those still to send; the others' marks are
/// erased.
fn mark_and_look_again(planned: Vec<Held>, outcomes: &mut [Outcome]) -> Vec<Held> {
    let ids: Vec<MessageId> = planned.iter().map(|(_, c)| c.record.id.clone()).collect();
    let marked = store::mark_sending(&ids, now_ms() + prepare::SENDING_MS);
    let views = match marked.and_then(|()| store::held_views(&ids)) {
        Ok(views) => views,
        Err(e) => {
            for ((i, _), id) in planned.iter().zip(&ids) {
                outcomes[*i] = store_error(id, e.clone());
            }
            return Vec::new();
        }
    };
    let mut needed = Vec::with_capacity(planned.len());
    let mut unmark = Vec::new();
    for ((i, mut to_send), view) in planned.into_iter().zip(views) {
        if prepare::still_needed(&mut to_send, &view) {
            needed.push((i, to_send));
        } else {
            unmark.push(keys::sending(&to_send.record.id));
        }
    }
    if let Err(e) = store::many::delete_many("default", &unmark) {
        // The marks run out by themselves; a cancel meanwhile is refused as too early.
        println!(
            "{}",
            serde_json::json!({"event": "dispatch.store_error", "detail": e.to_string()})
        );
    }
    needed
}

/// The messages the provider's send rate lets through now (`send_rate`); the others come
/// back when a token is there, without counting an attempt.
async fn within_send_rate(
    cell: &str,
    mut ready: Vec<(Held, OutboundMessage)>,
    outcomes: &mut [Outcome],
) -> Vec<(Held, OutboundMessage)> {
    if ready.is_empty() {
        return ready;
    }
    let granted = match cell::granted(cell, ready.len() as u64).await {
        Ok(Ok(granted)) => granted as usize,
        Ok(Err(_)) => 0,
        Err(e) => {
            for ((i, to_send), _) in ready {
                outcomes[i] = store_error(&to_send.record.id, e.clone());
            }
            return Vec::new();
        }
    };
    if granted >= ready.len() {
        return ready;
    }
    let wait_ms = cell::throttled(cell, 1)
        .await
        .ok()
        .flatten()
        .unwrap_or(1000);
    for ((i, to_send), _) in ready.split_off(granted) {
        let id = &to_send.record.id;
        let postponed = async {
            prepare::postpone(cell, id, now_ms() + wait_ms).await?;
            Ok::<_, store::StoreError>(store::open().await?.delete(keys::sending(id)).await?)
        };
        outcomes[i] = match postponed.await {
            Ok(()) => Outcome::Throttled,
            Err(e) => store_error(id, e),
        };
    }
    ready
}

/// Gives the ready messages to the sender in one call, and pairs each with its answer.
/// Their marks are renewed while the call lasts (`store::keep_marked_during`).
async fn send(mut ready: Vec<(Held, OutboundMessage)>) -> Vec<(Held, SendOutcome)> {
    ready.sort_by(|(_, a), (_, b)| a.body.cmp(&b.body));
    let (held, messages): (Vec<_>, Vec<_>) = ready.into_iter().unzip();
    let wanted = messages.len();
    let ids: Vec<MessageId> = held.iter().map(|(_, c)| c.record.id.clone()).collect();
    let call = async {
        match wanted {
            0 => Vec::new(),
            1 => vec![sender::send(messages.into_iter().next().expect("one")).await],
            _ => sender::send_batch(messages).await,
        }
    };
    let mut answers = store::keep_marked_during(&ids, prepare::SENDING_MS, call).await;
    // A sender must answer each message; any it left out is tried again later.
    answers.resize_with(wanted, || {
        SendOutcome::Deferred("the sender gave no answer for this message".into())
    });
    held.into_iter().zip(answers).collect()
}

/// Decides what each answer means (histories read again in one batch read, since receipts
/// may have come meanwhile), and writes every outcome of the page together
/// (`message_store::writes`).
async fn finish_all(
    kv: &Store,
    cell: &str,
    sent: Vec<(Held, SendOutcome)>,
    outcomes: &mut [Outcome],
) {
    let ids: Vec<MessageId> = sent.iter().map(|((_, c), _)| c.record.id.clone()).collect();
    let histories = match store::histories(&ids) {
        Ok(histories) => histories,
        Err(e) => {
            for (((i, _), _), id) in sent.iter().zip(&ids) {
                outcomes[*i] = store_error(id, e.clone());
            }
            return;
        }
    };
    let mut writes = Writes::new();
    let mut decided = Vec::with_capacity(sent.len());
    for (((i, to_send), answer), history) in sent.into_iter().zip(histories) {
        let record = &to_send.record;
        let sent_as = crate::finish::Attempt {
            hop: to_send.hop,
            number: to_send.attempts + 1,
        };
        match crate::finish::finish(kv, cell, record, sent_as, &history, answer).await {
            Ok((outcome, theirs)) => {
                writes.append(theirs);
                decided.push((i, outcome));
            }
            Err(e) => outcomes[i] = store_error(&record.id, e),
        }
    }
    match writes.commit().await {
        Ok(()) => decided
            .into_iter()
            .for_each(|(i, outcome)| outcomes[i] = outcome),
        Err(e) => {
            for (i, _) in decided {
                outcomes[i] = Outcome::StoreError;
                println!(
                    "{}",
                    serde_json::json!({"event": "dispatch.store_error", "detail": e.to_string()})
                );
            }
        }
    }
}
