//! New messages gathered and persisted together: a batch request (or a scheduled series)
//! writes its messages with about six store calls in all instead of about six per message
//! (each a transaction, and on Spin's SQLite store a sync of the disk).
//!
//! The order of the calls is what keeps a crash harmless:
//! 1. the pending entries with their slots in the due index, one increment and one
//!    `set-many` of the pending store per cell and bucket of due time (`crate::queue::put`);
//! 2. (nothing more for the pending store: entry and slot appear together);
//! 3. the slots of the retention index (one increment per minute of acceptance) and of the
//!    audit trail (one increment);
//! 4. one `set-many` of the default store: every payload (sealed), record, first status,
//!    delivery claim, retention slot and trail entry;
//! 5. the log lines of the acceptances, once their entries are written.
//!
//! A message is whole or absent: everything of it but its pending entry and slots is in
//! the one `set-many` of 4. The pending entries come first because a message without one
//! is never sent; an entry whose message was never written (a crash before 4) is what the
//! dispatcher drops once `messaging_domain::due::WRITE_GRACE_MS` has passed
//! (`messaging_domain::due::orphan_expired`). Numbered slots that were never written are
//! holes, which every reader of a numbered list passes over (`crate::log`).

use crate::time_index::MINUTE_MS;
use crate::{PendingEntry, StoreResult, audit, claims, many, now_ms, queue, retention};
use messaging_domain::record::Payload;
use messaging_domain::{MessageRecord, Status, keys};
use std::collections::BTreeMap;

/// One message to persist: its record, its sealed part and the trail's entry of its
/// acceptance.
struct NewMessage {
    record: MessageRecord,
    payload: Payload,
    accepted: audit::Pending,
    /// Rows of the default store written with it: its request's idempotency reservation.
    with: Vec<(String, Vec<u8>)>,
}

/// Messages to persist together, with [`Inserts::commit`].
#[derive(Default)]
pub struct Inserts {
    messages: Vec<NewMessage>,
}

impl Inserts {
    pub fn new() -> Inserts {
        Inserts::default()
    }

    /// Adds a message; `accepted` is the trail's event of its acceptance, kept and logged
    /// once the message is written; `with` are rows of the default store written in the
    /// same write as the message (its request's idempotency reservation: it exists exactly
    /// when the message does).
    pub fn push(
        &mut self,
        record: MessageRecord,
        payload: Payload,
        accepted: audit::Pending,
        with: Vec<(String, Vec<u8>)>,
    ) {
        self.messages.push(NewMessage {
            record,
            payload,
            accepted,
            with,
        });
    }

    /// How many messages wait for the next commit.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Persists every message added since the last commit, in the order the module
    /// describes, and empties the batch (also when it fails: the caller answers those
    /// messages as not accepted).
    pub async fn commit(&mut self) -> StoreResult<()> {
        let mut messages = std::mem::take(&mut self.messages);
        if messages.is_empty() {
            return Ok(());
        }
        write_pending(&messages).await?;
        let mut rows = many::seal_all(
            messages
                .iter()
                .map(|m| (keys::payload(&m.record.id), &m.payload)),
        )
        .await?;
        for m in &mut messages {
            rows.extend(message_rows(&m.record));
            rows.append(&mut m.with);
        }
        rows.extend(retention_rows(&messages)?);
        let events: Vec<audit::Pending> = messages.into_iter().map(|m| m.accepted).collect();
        rows.extend(audit::rows(&events, now_ms())?);
        many::set_many("default", &rows)?;
        for event in &events {
            event.log();
        }
        Ok(())
    }
}

/// Persists one message as [`Inserts::commit`] does.
pub async fn insert(
    record: MessageRecord,
    payload: Payload,
    accepted: audit::Pending,
) -> StoreResult<()> {
    let mut one = Inserts::new();
    one.push(record, payload, accepted, Vec::new());
    one.commit().await
}

/// The message's rows of the default store but its payload and retention slot.
fn message_rows(record: &MessageRecord) -> [(String, Vec<u8>); 4] {
    let id = &record.id;
    let at = record.created_ms.to_string().into_bytes();
    [
        (
            keys::message(id),
            serde_json::to_vec(record).expect("record serialises"),
        ),
        (keys::status(id, Status::Accepted), at.clone()),
        (keys::status(id, Status::Queued), at),
        // Its cancel claim exists from the start, so taking it is a compare-and-swap.
        (keys::claim(id), claims::unheld()),
    ]
}

/// When a new message is first due: at its `send_at`, else now.
fn first_entry(record: &MessageRecord) -> PendingEntry {
    PendingEntry {
        due_ms: record.send_at_ms.unwrap_or(record.created_ms),
        attempts: 0,
        scheduled: record.send_at_ms.is_some(),
    }
}

/// Writes the pending entries with their slots in the due index: one increment and one
/// `set-many` per cell and bucket of due time (`queue::put`).
async fn write_pending(messages: &[NewMessage]) -> StoreResult<()> {
    type Entries = Vec<(String, Vec<u8>)>;
    let mut by_bucket: BTreeMap<(&str, u64), (u64, Entries)> = BTreeMap::new();
    for m in messages {
        let entry = first_entry(&m.record);
        let bucket = messaging_domain::due::bucket_of(entry.due_ms);
        by_bucket
            .entry((m.record.cell.as_str(), bucket))
            .or_insert_with(|| (entry.due_ms, Vec::new()))
            .1
            .push((
                m.record.id.as_str().to_string(),
                serde_json::to_vec(&entry).expect("json"),
            ));
    }
    for ((cell, _), (due_ms, entries)) in by_bucket {
        queue::put(cell, &entries, due_ms).await?;
    }
    Ok(())
}

/// Each message's slot in the retention index (`retention::ACCEPTED`), numbered with one
/// increment per minute of acceptance.
fn retention_rows(messages: &[NewMessage]) -> StoreResult<Vec<(String, Vec<u8>)>> {
    let mut by_minute: BTreeMap<u64, Vec<&MessageRecord>> = BTreeMap::new();
    for m in messages {
        by_minute
            .entry(m.record.created_ms / MINUTE_MS)
            .or_default()
            .push(&m.record);
    }
    let mut rows = Vec::with_capacity(messages.len());
    for records in by_minute.into_values() {
        let slots =
            retention::ACCEPTED.reserve_many(records[0].created_ms, records.len() as u64)?;
        rows.extend(
            slots
                .into_iter()
                .zip(records)
                .map(|(slot, r)| (slot, r.id.as_str().as_bytes().to_vec())),
        );
    }
    Ok(rows)
}
