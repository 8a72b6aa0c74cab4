//! Notifications in the store: the notification itself under `ntf/<id>` in the default
//! store, and its due time in the pending store under the notifier's cell, so the
//! notifier's tick finds what to retry the way a delivery cell does.

use crate::{PendingEntry, StoreResult, clear_pending, now_ms, set_pending};
use messaging_domain::notification::Notification;
use messaging_domain::{NotificationId, keys};
use spin_sdk::key_value::Store;

/// The notifier's cell in the pending store (its Spin component id).
pub const CELL: &str = "notifier";

/// Stores a notification and marks it due now. The notification is written first, so a
/// pending entry always has something to deliver.
pub async fn enqueue(store: &Store, notification: &Notification) -> StoreResult<()> {
    store
        .set(
            keys::notification(&notification.id),
            serde_json::to_vec(notification).expect("json"),
        )
        .await?;
    set_pending(
        CELL,
        &notification.id,
        PendingEntry {
            due_ms: now_ms(),
            attempts: 0,
        },
    )
    .await
}

pub async fn load(store: &Store, id: &NotificationId) -> StoreResult<Option<Notification>> {
    Ok(store
        .get(keys::notification(id))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Forgets a notification (delivered or expired): its body may hold personal data.
pub async fn remove(store: &Store, id: &NotificationId) -> StoreResult<()> {
    store.delete(keys::notification(id)).await?;
    store.delete(keys::notification_claim(id)).await?;
    clear_pending(CELL, id).await
}
