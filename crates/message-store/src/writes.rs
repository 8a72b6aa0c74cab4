//! Writes gathered from many decisions and written together: a dispatcher's hand-over
//! decides the outcome of each of its messages, then writes every attempt, status,
//! notification and trail entry in one `set-many` and erases what is done with in one
//! `delete-many` per store, instead of about eight calls per message (each a transaction,
//! and on Spin's SQLite store a sync of the disk).
//!
//! The order of the calls is what keeps a crash harmless:
//! 1. the trail's slots are numbered (one increment for the whole batch);
//! 2. one `set-many` of the default store: attempts, statuses, notifications, provider
//!    mappings and trail entries, together (one SQLite transaction, one Redis `MULTI`);
//! 3. the log lines of the trail's events (only once their entries are written);
//! 4. the notifier's pending entries, then a poke per notification;
//! 5. one `delete-many` of the default store, one of the pending store.
//!
//! A crash before 2 leaves the claims and pending entries in place, so the work is tried
//! again (at least once: a message whose provider took it may be sent twice). A crash
//! after 2 leaves statuses that a new attempt reads and respects. A crash between 2 and 4
//! loses callbacks, never a status: the caller can still read it.

use crate::{StoreResult, audit, many, notifications, now_ms, pending_key, queue};
use messaging_domain::NotificationId;
use messaging_domain::audit::AuditStatus;

/// Writes to make together. Deletes are applied after sets, so a key both set and
/// deleted in one batch ends deleted.
#[derive(Default)]
pub struct Writes {
    sets: Vec<(String, Vec<u8>)>,
    deletes: Vec<String>,
    pending_deletes: Vec<String>,
    trail: Vec<audit::Pending>,
    notifications: Vec<NotificationId>,
}

impl Writes {
    pub fn new() -> Writes {
        Writes::default()
    }

    /// Sets `key` of the default store.
    pub fn set(&mut self, key: String, value: impl Into<Vec<u8>>) {
        self.sets.push((key, value.into()));
    }

    /// Deletes `key` of the default store.
    pub fn delete(&mut self, key: String) {
        self.deletes.push(key);
    }

    /// Settles `id`'s pending work in `cell` (as [`crate::clear_pending`]).
    pub fn clear_pending(&mut self, cell: &str, id: &impl std::fmt::Display) {
        self.pending_deletes.push(pending_key(cell, id));
    }

    /// Keeps an event in the audit trail and logs it once written (as
    /// [`audit::emit`]).
    pub fn trail(
        &mut self,
        status: AuditStatus,
        source: &str,
        destination: Option<&str>,
        line: serde_json::Value,
    ) {
        self.trail
            .push(audit::Pending::new(status, source, destination, line));
    }

    /// A notification whose sealed row is among the sets: it becomes due, and the
    /// notifier is poked, once the sets are written.
    pub(crate) fn notify(&mut self, id: NotificationId) {
        self.notifications.push(id);
    }

    /// Takes on every write of `other`, after this batch's own.
    pub fn append(&mut self, other: Writes) {
        self.sets.extend(other.sets);
        self.deletes.extend(other.deletes);
        self.pending_deletes.extend(other.pending_deletes);
        self.trail.extend(other.trail);
        self.notifications.extend(other.notifications);
    }

    /// Writes everything, in the order the module describes.
    pub async fn commit(self) -> StoreResult<()> {
        let Writes {
            mut sets,
            deletes,
            pending_deletes,
            trail,
            notifications,
        } = self;
        let now = now_ms();
        sets.extend(audit::rows(&trail, now)?);
        many::set_many("default", &sets)?;
        for event in &trail {
            event.log();
        }
        notifications::make_due(&notifications, now).await?;
        many::delete_many("default", &deletes)?;
        many::delete_many(queue::STORE, &pending_deletes)
    }
}
