//! What a drain has read of one queue's due index in its run, so it reads each slot about
//! once instead of every bucket again on every page.
//!
//! A drain is the one worker that holds a queue's drain lease (`message_store::drain`).
//! It reads the buckets of the due index (`crate::due`) from the queue's cursor up to now,
//! hands what is due to its worker, and reads on as producers append. Under load the
//! current bucket keeps growing; re-reading it from its first slot for every page would
//! cost the square of its length. [`Progress`] remembers, per bucket, how far the run has
//! read and which slots it must read again:
//! - a slot numbered but not written yet (its writer is between its increment and its
//!   write): read again until written, or until [`due::WRITE_GRACE_MS`] has passed;
//! - a slot whose work is waiting (due later within the bucket): read again once due;
//! - a slot whose work was handed to the worker: read again, to see it settled (entry
//!   gone) or moved to a later bucket. If it is still due (the worker could not take it:
//!   a store error, a claim another attempt holds), it is handed again only
//!   [`REHAND_MS`] later, so a drain never spins on work it cannot do.
//!
//! A bucket is done (the cursor may pass it) once it has ended and nothing in it is left
//! to read again: the same rule as [`due::passable`]. Everything here is the run's memory;
//! the store's entries stay the truth, so a drain that dies loses nothing but its place.

use crate::due::{self, Entry, Slot};
use std::collections::BTreeMap;

/// How long a drain leaves work it handed over and found still due before handing it
/// again in the same run.
pub const REHAND_MS: u64 = 5_000;

/// What the run knows of the buckets from the cursor on.
#[derive(Debug, Default)]
pub struct Progress {
    buckets: BTreeMap<u64, Bucket>,
}

#[derive(Debug, Default)]
struct Bucket {
    /// Slots `1..=read` were read at least once.
    read: u64,
    /// Slots read that must be read again, and why.
    again: BTreeMap<u64, Again>,
}

/// Why a slot already read must be read again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Again {
    /// Numbered but not written when read.
    Unwritten,
    /// Its work waits until `due_ms` (as the reader counts it: `Entry::due_for_tick_ms`).
    Waiting { id: String, due_ms: u64 },
    /// Handed to the worker at `at_ms`.
    Handed { id: String, at_ms: u64 },
}

/// One slot to read, and what is known of it: `id` is `None` for a slot whose value (the
/// id) must be read too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToRead {
    pub bucket: u64,
    pub slot: u64,
    pub id: Option<String>,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// The slots to read now, given how many each bucket has numbered (`numbered`, by
    /// bucket, from the cursor up to now's bucket): with `again`, those to read again that
    /// are due for it; then up to `new_limit` slots never read, oldest buckets first.
    pub fn to_read(
        &self,
        numbered: &[(u64, u64)],
        now_ms: u64,
        new_limit: u64,
        again: bool,
    ) -> Vec<ToRead> {
        let mut reads = Vec::new();
        let mut budget = new_limit;
        for &(bucket, count) in numbered {
            let known = self.buckets.get(&bucket);
            if let Some(known) = known.filter(|_| again) {
                for (&slot, again) in &known.again {
                    let id = match again {
                        Again::Unwritten => None,
                        Again::Waiting { id, due_ms } if *due_ms <= now_ms => Some(id.clone()),
                        Again::Waiting { .. } => continue,
                        Again::Handed { id, .. } => Some(id.clone()),
                    };
                    reads.push(ToRead { bucket, slot, id });
                }
            }
            let read = known.map_or(0, |b| b.read);
            let new = count.saturating_sub(read).min(budget);
            budget -= new;
            reads.extend((read + 1..=read + new).map(|slot| ToRead {
                bucket,
                slot,
                id: None,
            }));
        }
        reads
    }

    /// Records what reading `slot` of `bucket` found: its id (`None`: not written) and
    /// the id's pending entry (`None`: settled). Returns whether the work is due now and
    /// is to be handed to the worker (which this counts as handed at `now_ms`).
    pub fn found(
        &mut self,
        bucket: u64,
        slot: u64,
        id: Option<&str>,
        entry: Option<Entry>,
        now_ms: u64,
    ) -> bool {
        let known = self.buckets.entry(bucket).or_default();
        known.read = known.read.max(slot);
        let previous = known.again.remove(&slot);
        let Some(id) = id else {
            known.again.insert(slot, Again::Unwritten);
            return false;
        };
        match due::classify(bucket, entry, now_ms) {
            Slot::Stale => false,
            Slot::Unwritten => unreachable!("classify sees written slots only"),
            Slot::Waiting => {
                let due_ms = entry.map_or(now_ms, |e| e.due_for_tick_ms);
                known.again.insert(
                    slot,
                    Again::Waiting {
                        id: id.to_string(),
                        due_ms,
                    },
                );
                false
            }
            Slot::Due => {
                let hand = match previous {
                    Some(Again::Handed { at_ms, .. }) if now_ms < at_ms + REHAND_MS => {
                        known.again.insert(
                            slot,
                            Again::Handed {
                                id: id.to_string(),
                                at_ms,
                            },
                        );
                        return false;
                    }
                    _ => true,
                };
                known.again.insert(
                    slot,
                    Again::Handed {
                        id: id.to_string(),
                        at_ms: now_ms,
                    },
                );
                hand
            }
        }
    }

    /// The buckets from the first on that are done: ended, every numbered slot read, and
    /// nothing to read again (an unwritten slot only until the write grace has passed).
    /// Each with the count it was read up to, for `message_store::queue`'s cursor move.
    /// They are forgotten: the cursor moves past them.
    pub fn take_done(&mut self, numbered: &[(u64, u64)], now_ms: u64) -> Vec<(u64, u64)> {
        let mut done = Vec::new();
        for &(bucket, count) in numbered {
            let known = self.buckets.get(&bucket);
            let slots: Vec<Slot> = known
                .map(|b| {
                    b.again
                        .values()
                        .map(|again| match again {
                            Again::Unwritten => Slot::Unwritten,
                            Again::Waiting { .. } => Slot::Waiting,
                            Again::Handed { .. } => Slot::Due,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let all_read = known.map_or(0, |b| b.read) >= count;
            if !(all_read && due::passable(bucket, &slots, now_ms)) {
                break;
            }
            self.buckets.remove(&bucket);
            done.push((bucket, count));
        }
        done
    }

    /// How many numbered slots no reading has reached yet.
    pub fn unread(&self, numbered: &[(u64, u64)]) -> u64 {
        numbered
            .iter()
            .map(|&(bucket, count)| {
                count.saturating_sub(self.buckets.get(&bucket).map_or(0, |b| b.read))
            })
            .sum()
    }

    /// Whether anything read waits to be read again (work handed, waiting or unwritten).
    pub fn is_settled(&self) -> bool {
        self.buckets.values().all(|b| b.again.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::due::{BUCKET_MS, WRITE_GRACE_MS};

    const B: u64 = 1_000;
    const START: u64 = B * BUCKET_MS;

    fn due_at(ms: u64) -> Option<Entry> {
        Some(Entry {
            due_ms: ms,
            due_for_tick_ms: ms,
        })
    }

    fn new_slots(reads: &[ToRead]) -> Vec<(u64, u64)> {
        reads
            .iter()
            .filter(|r| r.id.is_none())
            .map(|r| (r.bucket, r.slot))
            .collect()
    }

    #[test]
    fn each_slot_is_read_once_as_the_bucket_grows() {
        let mut p = Progress::new();
        let now = START + 10;
        assert_eq!(
            new_slots(&p.to_read(&[(B, 2)], now, 100, true)),
            [(B, 1), (B, 2)]
        );
        assert!(p.found(B, 1, Some("a"), due_at(START), now));
        assert!(p.found(B, 2, Some("b"), due_at(START), now));
        // Two more appended: only they are new; the handed ones are read again.
        let reads = p.to_read(&[(B, 4)], now, 100, true);
        assert_eq!(new_slots(&reads), [(B, 3), (B, 4)]);
        let again: Vec<_> = reads.iter().filter_map(|r| r.id.clone()).collect();
        assert_eq!(again, ["a", "b"]);
    }

    #[test]
    fn work_handed_and_settled_is_not_read_again() {
        let mut p = Progress::new();
        let now = START + 10;
        p.to_read(&[(B, 1)], now, 100, true);
        assert!(p.found(B, 1, Some("a"), due_at(START), now));
        assert!(!p.is_settled());
        assert!(!p.found(B, 1, Some("a"), None, now + 1), "settled");
        assert!(p.is_settled());
        assert!(p.to_read(&[(B, 1)], now + 2, 100, true).is_empty());
    }

    #[test]
    fn work_still_due_after_its_hand_over_waits_before_it_is_handed_again() {
        let mut p = Progress::new();
        let now = START + 10;
        p.to_read(&[(B, 1)], now, 100, true);
        assert!(p.found(B, 1, Some("a"), due_at(START), now));
        assert!(!p.found(B, 1, Some("a"), due_at(START), now + 1));
        assert!(!p.found(B, 1, Some("a"), due_at(START), now + REHAND_MS - 1));
        assert!(p.found(B, 1, Some("a"), due_at(START), now + REHAND_MS));
    }

    #[test]
    fn waiting_work_is_read_again_once_due_and_unwritten_slots_every_time() {
        let mut p = Progress::new();
        let now = START + 10;
        p.to_read(&[(B, 2)], now, 100, true);
        assert!(!p.found(B, 1, Some("later"), due_at(START + 5_000), now));
        assert!(!p.found(B, 2, None, None, now));
        let reads = p.to_read(&[(B, 2)], now + 1, 100, true);
        assert_eq!(
            reads,
            [ToRead {
                bucket: B,
                slot: 2,
                id: None
            }]
        );
        let reads = p.to_read(&[(B, 2)], START + 5_000, 100, true);
        assert_eq!(reads.len(), 2);
        assert!(p.found(B, 1, Some("later"), due_at(START + 5_000), START + 5_000));
    }

    #[test]
    fn new_slots_are_read_up_to_the_limit_oldest_bucket_first() {
        let mut p = Progress::new();
        let numbered = [(B, 3), (B + 1, 3)];
        let now = START + BUCKET_MS;
        let reads = p.to_read(&numbered, now, 4, true);
        assert_eq!(new_slots(&reads), [(B, 1), (B, 2), (B, 3), (B + 1, 1)]);
        for r in &reads {
            p.found(r.bucket, r.slot, Some("x"), due_at(START), now);
        }
        assert_eq!(p.unread(&numbered), 2);
        // Without `again`, only what no reading reached: the handed slots wait.
        let reads = p.to_read(&numbered, now, 4, false);
        assert_eq!(new_slots(&reads), [(B + 1, 2), (B + 1, 3)]);
        assert_eq!(reads.len(), 2);
    }

    #[test]
    fn a_bucket_is_done_once_ended_read_and_settled() {
        let mut p = Progress::new();
        let end = START + BUCKET_MS;
        p.to_read(&[(B, 1), (B + 1, 1)], end, 100, true);
        assert!(p.found(B, 1, Some("a"), due_at(START), end));
        assert!(!p.found(B + 1, 1, Some("b"), None, end));
        assert!(
            p.take_done(&[(B, 1), (B + 1, 1)], end).is_empty(),
            "a handed"
        );
        assert!(!p.found(B, 1, Some("a"), None, end));
        // B is done; B + 1 has not ended.
        assert_eq!(p.take_done(&[(B, 1), (B + 1, 1)], end), [(B, 1)]);
        // A bucket with slots not read yet is not done.
        assert!(p.take_done(&[(B + 1, 2)], end + BUCKET_MS).is_empty());
    }

    #[test]
    fn an_unwritten_slot_holds_its_bucket_for_the_write_grace() {
        let mut p = Progress::new();
        let end = START + BUCKET_MS;
        p.to_read(&[(B, 1)], end, 100, true);
        assert!(!p.found(B, 1, None, None, end));
        assert!(p.take_done(&[(B, 1)], end).is_empty());
        assert_eq!(p.take_done(&[(B, 1)], end + WRITE_GRACE_MS), [(B, 1)]);
    }
}
