//! Slots numbered ahead: an instance that appends to a sweep index's minute list takes
//! more slot numbers than it needs with one increment and hands the spare ones to the next
//! appends of the same minute, so a busy instance pays about one increment per 32 appends
//! instead of one each.
//!
//! Only for lists whose readers do not care about order and treat a slot never written as
//! done once its minute is over: the sweep indexes (`message_store::time_index`), never a
//! queue (an unwritten slot holds a queue's bucket open) nor the audit trail (its readers
//! page by slot, in the order entries were recorded). A spare slot left unused when the
//! instance ends is such a hole; there are at most [`MAX_SPARE`] per index and instance.
//!
//! The spare grows while an instance keeps appending within one minute (none for the
//! minute's first append, then 1, 2, 4, ... up to [`MAX_SPARE`]), so an instance that
//! appends once and goes idle leaves no hole.

/// The most slots a block keeps ahead.
pub const MAX_SPARE: u64 = 32;

/// The slots of one list (one minute of one index) that this instance numbered and has
/// not used yet.
#[derive(Debug, Default, Clone)]
pub struct SlotBlock {
    minute: u64,
    /// The next slot to hand out.
    next: u64,
    /// The first slot past the block.
    end: u64,
    /// The spare taken with the last increment.
    spare: u64,
}

/// What an append of `count` slots must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// The block holds them: slots `first..first + count`, no store call.
    Ready { first: u64 },
    /// Increment the list's counter by `by`, then call [`SlotBlock::numbered`].
    Increment { by: u64 },
}

impl SlotBlock {
    /// Takes `count` slots of `minute`'s list from the block, or says how far to count.
    pub fn take(&mut self, minute: u64, count: u64) -> Take {
        if self.minute == minute && self.end - self.next >= count {
            let first = self.next;
            self.next += count;
            return Take::Ready { first };
        }
        let spare = if self.minute == minute && self.end > 0 {
            (self.spare * 2).clamp(1, MAX_SPARE)
        } else {
            0
        };
        Take::Increment { by: count + spare }
    }

    /// An increment of `by` for `count` slots of `minute` numbered `first..first + by`:
    /// the first `count` are the caller's (from `first`), the rest are kept.
    pub fn numbered(&mut self, minute: u64, count: u64, by: u64, first: u64) {
        *self = SlotBlock {
            minute,
            next: first + count,
            end: first + by,
            spare: by - count,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays `counts` appends in `minute` against a counter starting at `counter`; returns
    /// the first slot of each and the increments made.
    fn appends(
        block: &mut SlotBlock,
        counter: &mut u64,
        minute: u64,
        counts: &[u64],
    ) -> (Vec<u64>, usize) {
        let mut firsts = Vec::new();
        let mut increments = 0;
        for &count in counts {
            let first = match block.take(minute, count) {
                Take::Ready { first } => first,
                Take::Increment { by } => {
                    increments += 1;
                    let first = *counter + 1;
                    *counter += by;
                    block.numbered(minute, count, by, first);
                    first
                }
            };
            firsts.push(first);
        }
        (firsts, increments)
    }

    #[test]
    fn a_minutes_first_append_numbers_only_what_it_needs() {
        let mut block = SlotBlock::default();
        assert_eq!(block.take(7, 1), Take::Increment { by: 1 });
        block.numbered(7, 1, 1, 1);
        assert_eq!(
            block.take(7, 1),
            Take::Increment { by: 2 },
            "the second gets a spare"
        );
    }

    #[test]
    fn the_spare_grows_to_the_maximum_while_appends_keep_coming() {
        let mut block = SlotBlock::default();
        let mut counter = 0;
        let (firsts, increments) = appends(&mut block, &mut counter, 3, &[1; 200]);
        assert_eq!(
            firsts,
            (1..=200).collect::<Vec<_>>(),
            "each slot once, in order"
        );
        // 1 + (1+1) + (1+2) + (1+4) + ... : 200 slots in 11 increments, not 200.
        assert_eq!(increments, 11);
        assert!(
            counter - 200 <= MAX_SPARE,
            "at most the spare is left unused"
        );
    }

    #[test]
    fn two_instances_never_hand_out_the_same_slot() {
        let (mut a, mut b) = (SlotBlock::default(), SlotBlock::default());
        let mut counter = 0;
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..100 {
            let block = if round % 3 == 0 { &mut a } else { &mut b };
            let (firsts, _) = appends(block, &mut counter, 1, &[1 + round % 4]);
            for slot in firsts[0]..firsts[0] + 1 + round % 4 {
                assert!(seen.insert(slot), "slot {slot} handed out twice");
            }
        }
    }

    #[test]
    fn another_minute_starts_again_without_spare() {
        let mut block = SlotBlock::default();
        let mut counter = 0;
        appends(&mut block, &mut counter, 5, &[1, 1, 1]);
        assert_eq!(block.take(6, 1), Take::Increment { by: 1 });
    }

    #[test]
    fn an_append_larger_than_the_block_numbers_anew() {
        let mut block = SlotBlock::default();
        let mut counter = 0;
        appends(&mut block, &mut counter, 5, &[1, 1]);
        // Block: slot 3 spare. Ten slots do not fit: ten plus a spare of 2.
        assert_eq!(block.take(5, 10), Take::Increment { by: 12 });
        block.numbered(5, 10, 12, 4);
        assert_eq!(block.take(5, 2), Take::Ready { first: 14 });
    }
}
