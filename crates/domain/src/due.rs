//! When queued work is due, and when a reader may move past a bucket of the due index.
//!
//! Every queue of pending work (a delivery cell's messages, its broadcast batches, the
//! broadcaster's fan-outs, the notifier's callbacks) is indexed by due time: a numbered
//! list per bucket of [`BUCKET_MS`], holding ids. The pending entry of an id stays the one
//! truth about it (absent: settled; its due time: which bucket holds it now). A tick reads
//! the buckets from its cursor up to now and moves the cursor past the buckets it has
//! emptied. These are the decisions, pure; `message_store::queue` does the reading and
//! writing.

/// The width of a due bucket. Wider buckets mean fewer empty ones to read after an idle
/// spell; narrower ones, fewer entries not yet due read again by each tick.
pub const BUCKET_MS: u64 = 10_000;

/// How long past its end a bucket may still get a slot written: a writer numbers its slot
/// (an increment), then writes it (the next store call). A slot numbered but not written
/// keeps its bucket open this long; after that the slot's writer is taken for dead. A
/// writer alive after all still loses nothing: it reads the cursor after writing and
/// appends again past it.
pub const WRITE_GRACE_MS: u64 = 60_000;

/// Whether a pending entry due at `due_ms` whose work has no record may be dropped. The
/// producer writes the entry just before the work itself (`message_store::insert`), so
/// the work of a young entry may still be on its way; an entry [`WRITE_GRACE_MS`] past due
/// lost its work to a crash. Absent (`None`): nothing to keep.
pub fn orphan_expired(due_ms: Option<u64>, now_ms: u64) -> bool {
    due_ms.is_none_or(|due| now_ms >= due.saturating_add(WRITE_GRACE_MS))
}

/// The bucket of a due time.
pub fn bucket_of(due_ms: u64) -> u64 {
    due_ms / BUCKET_MS
}

/// When an entry is due for a tick. Work not yet tried once that nobody scheduled is its
/// producer's to hand over at once; the tick takes it only `grace_ms` later, so a tick
/// never races a hand-over in flight and still finds work whose hand-over was lost.
pub fn due_for_tick_ms(due_ms: u64, attempts: u32, scheduled: bool, grace_ms: u64) -> u64 {
    if attempts == 0 && !scheduled {
        due_ms.saturating_add(grace_ms)
    } else {
        due_ms
    }
}

/// What a tick makes of one slot of bucket `bucket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Its work is due: hand it to its worker.
    Due,
    /// Its work is here but not due yet: the bucket stays open.
    Waiting,
    /// Nothing to do here: settled (no pending entry), or moved to a later bucket.
    Stale,
    /// Numbered, not written yet: the bucket stays open for [`WRITE_GRACE_MS`].
    Unwritten,
}

/// The pending entry as a tick sees it: its stored due time, and when it is due for the
/// tick ([`due_for_tick_ms`]).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub due_ms: u64,
    pub due_for_tick_ms: u64,
}

/// Classifies a slot of `bucket` holding an id whose pending entry is `entry` (`None`:
/// settled), at `now_ms`.
pub fn classify(bucket: u64, entry: Option<Entry>, now_ms: u64) -> Slot {
    match entry {
        None => Slot::Stale,
        Some(entry) if bucket_of(entry.due_ms) > bucket => Slot::Stale,
        Some(entry) if entry.due_for_tick_ms <= now_ms => Slot::Due,
        Some(_) => Slot::Waiting,
    }
}

/// Whether a reader may move its cursor past `bucket`, whose slots it classified as
/// `slots`, at `now_ms`: the bucket has ended, nothing in it waits or is due, and any slot
/// numbered but not written is older than [`WRITE_GRACE_MS`].
pub fn passable(bucket: u64, slots: &[Slot], now_ms: u64) -> bool {
    let end = (bucket + 1) * BUCKET_MS;
    if now_ms < end {
        return false;
    }
    slots.iter().all(|slot| match slot {
        Slot::Stale => true,
        Slot::Unwritten => now_ms >= end + WRITE_GRACE_MS,
        Slot::Due | Slot::Waiting => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_without_its_work_is_kept_for_the_write_grace_then_dropped() {
        let due = 1_000_000;
        assert!(
            !orphan_expired(Some(due), due),
            "its work may still be written"
        );
        assert!(!orphan_expired(Some(due), due + WRITE_GRACE_MS - 1));
        assert!(orphan_expired(Some(due), due + WRITE_GRACE_MS));
        assert!(orphan_expired(None, 0), "no entry: nothing to keep");
        // Scheduled for later: kept until well past its own time.
        assert!(!orphan_expired(Some(due + 3_600_000), due));
    }

    const B: u64 = 1_000;
    const START: u64 = B * BUCKET_MS;

    fn entry(due_ms: u64) -> Option<Entry> {
        Some(Entry {
            due_ms,
            due_for_tick_ms: due_ms,
        })
    }

    #[test]
    fn fresh_work_waits_for_its_hand_over_scheduled_and_retried_work_does_not() {
        assert_eq!(due_for_tick_ms(100, 0, false, 10), 110);
        assert_eq!(due_for_tick_ms(100, 0, true, 10), 100);
        assert_eq!(due_for_tick_ms(100, 2, false, 10), 100);
        assert_eq!(due_for_tick_ms(u64::MAX, 0, false, 10), u64::MAX);
    }

    #[test]
    fn a_slot_is_due_waiting_or_stale_by_its_pending_entry() {
        assert_eq!(classify(B, None, START), Slot::Stale);
        assert_eq!(classify(B, entry(START + 5), START + 5), Slot::Due);
        assert_eq!(classify(B, entry(START + 5), START + 4), Slot::Waiting);
        // Rescheduled into a later bucket: the later bucket has it now.
        assert_eq!(
            classify(B, entry(START + BUCKET_MS), START + BUCKET_MS),
            Slot::Stale
        );
        // Due earlier than its bucket (appended again past a moved cursor): due here.
        assert_eq!(classify(B, entry(START - BUCKET_MS), START), Slot::Due);
    }

    #[test]
    fn a_bucket_is_passed_once_ended_and_empty_of_work() {
        let end = START + BUCKET_MS;
        assert!(!passable(B, &[Slot::Stale], end - 1), "not ended");
        assert!(passable(B, &[Slot::Stale, Slot::Stale], end));
        assert!(passable(B, &[], end));
        assert!(!passable(B, &[Slot::Stale, Slot::Waiting], end + 1));
        assert!(!passable(B, &[Slot::Due], end + 1));
    }

    #[test]
    fn an_unwritten_slot_keeps_its_bucket_open_for_the_write_grace() {
        let end = START + BUCKET_MS;
        assert!(!passable(B, &[Slot::Unwritten], end));
        assert!(!passable(B, &[Slot::Unwritten], end + WRITE_GRACE_MS - 1));
        assert!(passable(B, &[Slot::Unwritten], end + WRITE_GRACE_MS));
    }
}
