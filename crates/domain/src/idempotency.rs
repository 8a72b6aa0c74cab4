//! Idempotency reservations: what the store keeps under an idempotency key.
//!
//! A request with an `Idempotency-Key` first reserves the key for its new message id with
//! an atomic compare-and-swap, then persists the message. A later request with the same key
//! finds the reservation and answers with the same id. A reservation whose message never
//! appeared (its request crashed between reserving and persisting) may be taken over once
//! it is older than [`STALE_AFTER_MS`].

use crate::MessageId;

/// Age after which a reservation without a persisted message is abandoned.
pub const STALE_AFTER_MS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: MessageId,
    pub reserved_ms: u64,
}

impl Reservation {
    pub fn encode(&self) -> String {
        format!("{} {}", self.id, self.reserved_ms)
    }

    pub fn decode(bytes: &[u8]) -> Option<Reservation> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (id, ms) = text.split_once(' ')?;
        Some(Reservation {
            id: MessageId::parse(id)?,
            reserved_ms: ms.parse().ok()?,
        })
    }

    /// Whether a reservation whose message does not exist may be replaced at `now_ms`.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.reserved_ms) >= STALE_AFTER_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ages() {
        let r = Reservation {
            id: MessageId::from_random([3; 16]),
            reserved_ms: 1_000,
        };
        assert_eq!(Reservation::decode(r.encode().as_bytes()), Some(r.clone()));
        assert!(!r.is_stale(1_000 + STALE_AFTER_MS - 1));
        assert!(r.is_stale(1_000 + STALE_AFTER_MS));
        assert_eq!(Reservation::decode(b"garbage"), None);
    }
}
