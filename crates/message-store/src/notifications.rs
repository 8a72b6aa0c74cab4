//! Notifications in the store: the notification itself under `ntf/<id>` in the default
//! store, and its due time in the pending store under the notifier's cell, so the
//! notifier's tick finds what to retry the way a delivery cell does.

use crate::writes::Writes;
use crate::{PendingEntry, StoreResult, clear_pending, now_ms, set_pending};
use messaging_domain::notification::{self, Notification};
use messaging_domain::{MessageRecord, NotificationId, Status, keys};
use spin_sdk::key_value::Store;

/// The notifier's cell in the pending store (its Spin component id).
pub const CELL: &str = "notifier";

/// Stores a notification and marks it due now. The notification is written first, so a
/// pending entry always has something to deliver.
pub async fn enqueue(store: &Store, notification: &Notification) -> StoreResult<()> {
    enqueue_at(store, notification, now_ms()).await
}

/// Stores a notification due at `due_ms` (a reminder's `message.unconfirmed` at its
/// expiry); [`remove`] cancels it.
pub async fn enqueue_at(
    store: &Store,
    notification: &Notification,
    due_ms: u64,
) -> StoreResult<()> {
    // Sealed: a callback's body may carry a citizen's words (a reply, an inbound message).
    crate::put_sealed(store, &keys::notification(&notification.id), notification).await?;
    set_pending(
        CELL,
        &notification.id,
        PendingEntry {
            due_ms,
            attempts: 0,
            scheduled: false,
        },
    )
    .await
}

pub async fn load(store: &Store, id: &NotificationId) -> StoreResult<Option<Notification>> {
    crate::get_sealed(store, &keys::notification(id)).await
}

/// Forgets a notification (delivered or expired): its body may hold personal data.
pub async fn remove(store: &Store, id: &NotificationId) -> StoreResult<()> {
    store.delete(keys::notification(id)).await?;
    store.delete(keys::notification_claim(id)).await?;
    clear_pending(CELL, id).await
}

/// Asks the notifier to deliver a stored notification now, after the current response.
/// If this is lost, the notifier's tick delivers it.
pub fn poke(id: NotificationId) {
    crate::work::post_after_response(
        format!("http://{CELL}.spin.internal/deliver"),
        serde_json::json!({ "id": id }),
    );
}

/// A fresh notification id from `wasi:random`.
pub fn new_id() -> NotificationId {
    NotificationId::from_random(crate::random_16())
}

/// How long callbacks are retried: `callback_retry_hours` of the calling component (24 by
/// default, the specification's retry period).
pub async fn validity_ms() -> u64 {
    let hours: u64 = spin_sdk::variables::get("callback_retry_hours")
        .await
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    hours * 3_600_000
}

/// Records that a message reached `status` (see [`crate::reach`]) and, if that is new and
/// the caller gave a `callback_url` wanting this status (`callback_events`: the final one
/// unless it asked for all), queues a signed `message.status` callback; written at once.
pub async fn reach_and_notify(record: &MessageRecord, status: Status) -> StoreResult<bool> {
    let mut writes = Writes::new();
    let reached = reach_and_notify_in(&mut writes, record, status).await?;
    writes.commit().await?;
    Ok(reached)
}

/// [`reach_and_notify`] into `writes`, which write the status and its notifications in one
/// `set-many` and make the notifications due afterwards: a crash in between loses the
/// callback, never the status, which the caller can still read. Returns whether the
/// status is new; it reads the store as it was before `writes`.
pub async fn reach_and_notify_in(
    writes: &mut Writes,
    record: &MessageRecord,
    status: Status,
) -> StoreResult<bool> {
    let id = &record.id;
    // The first final status is the message's outcome; a later report (Twilio's
    // `undelivered` after `delivered`, a repeated failure after a fallback delivered) must
    // not tell the caller otherwise.
    let reached = if status.is_final() {
        crate::history(id)?.iter().any(|(s, _)| s.is_final())
    } else {
        crate::many::get_one("default", &keys::status(id, status))?.is_some()
    };
    if reached {
        return Ok(false);
    }
    let now = now_ms();
    writes.set(keys::status(id, status), now.to_string());
    if let Some(url) = &record.callback_url
        && record.callback_events.includes(status)
    {
        let notification = Notification {
            id: new_id(),
            event: notification::MESSAGE_STATUS.into(),
            url: url.clone(),
            body: notification::status_body(record, status, now),
            headers: Vec::new(),
            owner: Some(record.owner.clone()),
            created_ms: now,
            expires_ms: now + validity_ms().await,
        };
        queue_in(writes, notification).await?;
    }
    if let Some(notification) = im_notification(
        notification::IM_MESSAGE_STATUS,
        notification::im_status_event(record, status, now),
    )
    .await
    {
        queue_in(writes, notification).await?;
    }
    Ok(true)
}

/// Adds a notification to `writes`: sealed (a callback's body may carry a citizen's words),
/// due once the writes are made.
async fn queue_in(writes: &mut Writes, notification: Notification) -> StoreResult<()> {
    let id = notification.id.clone();
    for (key, sealed) in crate::many::seal_all([(keys::notification(&id), notification)]).await? {
        writes.set(key, sealed);
    }
    writes.notify(id);
    Ok(())
}

/// Makes stored notifications due at `due_ms` in the notifier's queue, and asks the
/// notifier to deliver each now.
pub(crate) async fn make_due(ids: &[NotificationId], due_ms: u64) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let entry = PendingEntry {
        due_ms,
        attempts: 0,
        scheduled: false,
    };
    let entry = serde_json::to_vec(&entry).expect("json");
    let rows: Vec<(String, Vec<u8>)> = ids
        .iter()
        .map(|id| (crate::pending_key(CELL, id), entry.clone()))
        .collect();
    crate::many::set_many(crate::queue::STORE, &rows)?;
    let names: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    crate::queue::index(CELL, &names, due_ms).await?;
    for id in ids {
        poke(id.clone());
    }
    Ok(())
}

/// Publishes an event to the Information Mediator's Pub/Sub room, where the deployment
/// configured one (see [`im_notification`]). Delivered by the notifier, with its retries.
pub async fn publish_to_im(store: &Store, event_type: &str, body: String) -> StoreResult<()> {
    let Some(notification) = im_notification(event_type, body).await else {
        return Ok(());
    };
    enqueue(store, &notification).await?;
    poke(notification.id);
    Ok(())
}

/// The notification that publishes an event to the Information Mediator's Pub/Sub room;
/// none where the deployment configured no room (`im_pubsub_url`: the room's base,
/// `.../r1/{instance}/{memberClass}/{memberCode}/{applicationCode}`; `im_client`: this
/// gateway's `X-GovStack-Client`).
async fn im_notification(event_type: &str, body: String) -> Option<Notification> {
    let room = spin_sdk::variables::get("im_pubsub_url")
        .await
        .unwrap_or_default();
    if room.is_empty() {
        return None;
    }
    let client = spin_sdk::variables::get("im_client")
        .await
        .unwrap_or_default();
    let now = now_ms();
    Some(Notification {
        id: new_id(),
        event: format!("im.{event_type}"),
        url: format!("{}/pub/v1/{event_type}", room.trim_end_matches('/')),
        body,
        headers: vec![("X-GovStack-Client".into(), client)],
        // The deployment's own room, not a caller's receiver.
        owner: None,
        created_ms: now,
        expires_ms: now + validity_ms().await,
    })
}
