//! The value of a lease (`message_store::work::Lease`; cancel claims, drain leases and
//! their marks on messages being sent, fan-out leases, `seen/` provider ids):
//! `<until>/<nonce>`. The time says when it runs out; the nonce tells its holder's value
//! from the next holder's, so a renewal moves only its own.

/// The value of a lease running until `until_ms`, held by the holder that chose `nonce`.
pub fn value(until_ms: u64, nonce: &str) -> String {
    format!("{until_ms}/{nonce}")
}

/// When a lease value runs out (values without a nonce, from earlier versions, too).
pub fn until(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value)
        .ok()?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Whether a lease value is still held at `now_ms` (an unreadable value holds nothing).
pub fn is_held(value: &[u8], now_ms: u64) -> bool {
    until(value).is_some_and(|until| until > now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_held_until_its_time_and_not_at_it() {
        let v = value(5_000, "a1b2c3");
        assert!(is_held(v.as_bytes(), 4_999));
        assert!(!is_held(v.as_bytes(), 5_000));
        assert!(!is_held(b"0/unheld", 1));
        assert!(!is_held(b"garbage", 1));
    }

    #[test]
    fn a_value_tells_its_time_with_or_without_a_nonce() {
        assert_eq!(until(value(5_000, "a1b2c3").as_bytes()), Some(5_000));
        assert_eq!(until(b"5000"), Some(5_000));
        assert_eq!(until(b"garbage"), None);
        assert_ne!(value(5_000, "a1"), value(5_000, "b2"));
    }
}
