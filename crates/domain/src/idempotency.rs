//! Idempotency reservations: what the store keeps under an idempotency key, or under a
//! request's hash (MHASH, GovStack spec 6.1.1/6.1.2: the same request from the same caller
//! within the duplicate window yields the first answer and sends nothing).
//!
//! A request with an `Idempotency-Key` first reserves the key for its new message id with
//! an atomic compare-and-swap, then persists the message. A later request with the same key
//! finds the reservation and answers with the same id. A reservation whose message never
//! appeared (its request crashed between reserving and persisting) may be taken over once
//! it is older than [`STALE_AFTER_MS`].

use sha2::{Digest, Sha256};

/// Age after which a reservation without a persisted message is abandoned.
pub const STALE_AFTER_MS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The id of what the first request created (a message or a broadcast).
    pub id: String,
    pub reserved_ms: u64,
}

impl Reservation {
    pub fn encode(&self) -> String {
        format!("{} {}", self.id, self.reserved_ms)
    }

    pub fn decode(bytes: &[u8]) -> Option<Reservation> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (id, ms) = text.split_once(' ')?;
        if id.is_empty() || id.contains(' ') {
            return None;
        }
        Some(Reservation {
            id: id.to_string(),
            reserved_ms: ms.parse().ok()?,
        })
    }

    /// Whether a reservation whose message does not exist may be replaced at `now_ms`.
    pub fn is_stale(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.reserved_ms) >= STALE_AFTER_MS
    }

    /// Whether the reservation is older than the window it holds for (`None`: forever).
    pub fn outlived(&self, now_ms: u64, window_ms: Option<u64>) -> bool {
        window_ms.is_some_and(|w| now_ms.saturating_sub(self.reserved_ms) >= w)
    }
}

/// The hash of a request (MHASH): the caller, the route and the body exactly as sent.
pub fn request_hash(caller: &str, route: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [caller.as_bytes(), b"\0", route.as_bytes(), b"\0", body] {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ages() {
        let r = Reservation {
            id: crate::MessageId::from_random([3; 16]).to_string(),
            reserved_ms: 1_000,
        };
        assert_eq!(Reservation::decode(r.encode().as_bytes()), Some(r.clone()));
        assert!(!r.is_stale(1_000 + STALE_AFTER_MS - 1));
        assert!(r.is_stale(1_000 + STALE_AFTER_MS));
        assert_eq!(Reservation::decode(b"garbage"), None);
        assert!(!r.outlived(1_000 + 5_000, None));
        assert!(!r.outlived(1_000 + 4_999, Some(5_000)));
        assert!(r.outlived(1_000 + 5_000, Some(5_000)));
    }

    #[test]
    fn the_request_hash_separates_callers_routes_and_bodies() {
        let h = request_hash("registry", "/v1/messages", b"{}");
        assert_eq!(h.len(), 64);
        assert_eq!(h, request_hash("registry", "/v1/messages", b"{}"));
        assert_ne!(h, request_hash("clinic", "/v1/messages", b"{}"));
        assert_ne!(h, request_hash("registry", "/v1/broadcasts", b"{}"));
        assert_ne!(h, request_hash("registry", "/v1/messages", b"{ }"));
    }
}
