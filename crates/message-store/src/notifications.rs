//! Notifications in the store: the notification itself under `ntf/<id>` in the default
//! store, and its due time in the pending store under the notifier's cell, whose drain
//! (`crate::drain`) delivers what is due, a page at a time.

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

/// The notifications `ids` (absent: `None`), in one batch read. A notification that does
/// not open (sealed under a key `storage_keys` lacks) is an error of its own: its work
/// waits for the key.
pub async fn load_many(
    ids: &[NotificationId],
) -> StoreResult<Vec<StoreResult<Option<Notification>>>> {
    let keys = ids.iter().map(keys::notification).collect();
    let mut loaded = Vec::with_capacity(ids.len());
    for (key, value) in crate::many::get_many("default", keys)? {
        loaded.push(match value {
            Some(sealed) => crate::open_sealed(&key, &sealed).await,
            None => Ok(None),
        });
    }
    Ok(loaded)
}

/// Forgets a notification (delivered or expired): its body may hold personal data.
pub async fn remove(store: &Store, id: &NotificationId) -> StoreResult<()> {
    store.delete(keys::notification(id)).await?;
    clear_pending(CELL, id).await
}

/// [`remove`] as part of `writes`.
pub fn remove_in(writes: &mut Writes, id: &NotificationId) {
    writes.delete(keys::notification(id));
    writes.clear_pending(CELL, id);
}

/// Asks for the notifier's drain after the current response, unless one is running: it
/// delivers every due notification, those just stored among them. Call it once the
/// notifications are due. If this is lost, the notifier's tick starts a drain.
pub fn poke() {
    crate::drain::poke(CELL, format!("http://{CELL}.spin.internal/drain"));
}

/// A fresh notification id from `wasi:random`.
pub fn new_id() -> NotificationId {
    NotificationId::from_random(crate::random_16())
}

/// How long callbacks are retried: `callback_retry_hours` of the calling component (24 by
/// default, the specification's retry period).
pub async fn validity_ms() -> u64 {
    let hours: u64 = crate::config::get("callback_retry_hours")
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
    let history = if status.is_final() {
        crate::history(id)?
    } else {
        match crate::many::get_one("default", &keys::status(id, status))? {
            Some(_) => vec![(status, 0)],
            None => Vec::new(),
        }
    };
    reach_and_notify_after(writes, record, status, &history).await
}

/// [`reach_and_notify_in`] for a caller that read the message's history itself (a drain
/// reads a page's histories in one batch read), after whatever else may write statuses.
pub async fn reach_and_notify_after(
    writes: &mut Writes,
    record: &MessageRecord,
    status: Status,
    history: &[(Status, u64)],
) -> StoreResult<bool> {
    let id = &record.id;
    // The first final status is the message's outcome; a later report (Twilio's
    // `undelivered` after `delivered`, a repeated failure after a fallback delivered) must
    // not tell the caller otherwise.
    let reached = if status.is_final() {
        history.iter().any(|(s, _)| s.is_final())
    } else {
        history.iter().any(|(s, _)| *s == status)
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

/// Makes stored notifications due at `due_ms` in the notifier's queue, and asks for the
/// notifier's drain.
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
    let entries: Vec<(String, Vec<u8>)> = ids
        .iter()
        .map(|id| (id.to_string(), entry.clone()))
        .collect();
    crate::queue::put(CELL, &entries, due_ms).await?;
    poke();
    Ok(())
}

/// Publishes an event to the Information Mediator's Pub/Sub room, where the deployment
/// configured one (see [`im_notification`]). Delivered by the notifier, with its retries.
pub async fn publish_to_im(store: &Store, event_type: &str, body: String) -> StoreResult<()> {
    let Some(notification) = im_notification(event_type, body).await else {
        return Ok(());
    };
    enqueue(store, &notification).await?;
    poke();
    Ok(())
}

/// The notification that publishes an event to the Information Mediator's Pub/Sub room;
/// none where the deployment configured no room (`im_pubsub_url`: the room's base,
/// `.../r1/{instance}/{memberClass}/{memberCode}/{applicationCode}`; `im_client`: this
/// gateway's `X-GovStack-Client`).
async fn im_notification(event_type: &str, body: String) -> Option<Notification> {
    let room = crate::config::get("im_pubsub_url")
        .await
        .unwrap_or_default();
    if room.is_empty() {
        return None;
    }
    let client = crate::config::get("im_client").await.unwrap_or_default();
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
