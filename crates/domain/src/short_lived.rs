//! When keys that serve for a while are past use (the sweeper's `message_store::short_lived`
//! erases them): each judged by the time its own value carries, at `now` with the
//! retention cut-off `cutoff` (both Unix ms). A value that does not read is kept.

use crate::govstack::RequestRecord;
use crate::idempotency::Reservation;

/// An idempotency or duplicate-request reservation (`idem/`, `mhash/`) made before the
/// cut-off: the message it names is erased by then. The claim that decided its creation
/// (`<reservation>/claim/<window>`, a counter) is tracked in the same write as the
/// reservation, which decides alone from then on: the claim is past use whenever the sweep
/// finds it.
pub fn reservation_past_use(value: &[u8], _now: u64, cutoff: u64) -> bool {
    match Reservation::decode(value) {
        Some(r) => r.reserved_ms < cutoff,
        None => crate::counter::decode(value).is_some(),
    }
}

/// A seen provider id (`seen/`) whose lease ended (`crate::lease`).
pub fn lease_past_use(value: &[u8], now: u64, _cutoff: u64) -> bool {
    crate::lease::until(value).is_some_and(|until| until < now)
}

/// A GovStack email request (`govstack/request/`) made before the cut-off.
pub fn request_past_use(value: &[u8], _now: u64, cutoff: u64) -> bool {
    serde_json::from_slice::<RequestRecord>(value).is_ok_and(|r| r.created_ms < cutoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_is_judged_by_its_own_time() {
        let reservation = Reservation {
            id: "msg_x".into(),
            reserved_ms: 1_000,
        }
        .encode();
        assert!(reservation_past_use(reservation.as_bytes(), 0, 1_001));
        assert!(!reservation_past_use(reservation.as_bytes(), 0, 1_000));
        assert!(
            reservation_past_use(b"2", 0, 0),
            "a reservation's claim goes with it"
        );
        assert!(!reservation_past_use(b"garbage", 0, u64::MAX));
        assert!(lease_past_use(b"5000", 5_001, 0));
        assert!(lease_past_use(b"5000/a1b2c3", 5_001, 0));
        assert!(!lease_past_use(b"5000/a1b2c3", 4_999, 0));
        assert!(!lease_past_use(b"5000", 4_999, 0));
        assert!(
            !lease_past_use(b"garbage", 9_999, 9_999),
            "unknown values are kept"
        );
        let request = serde_json::to_vec(&RequestRecord {
            ids: vec![],
            callback_uri: None,
            created_ms: 7,
        })
        .unwrap();
        assert!(request_past_use(&request, 0, 8));
        assert!(!request_past_use(&request, 0, 7));
    }
}
