//! The value of a lease (`message_store::work::Lease`; delivery claims, fan-out leases,
//! `seen/` provider ids): `<until>/<nonce>`. The time says when it runs out; the nonce
//! tells its holder's value from the next holder's, so a renewal moves only its own.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_tells_its_time_with_or_without_a_nonce() {
        assert_eq!(until(value(5_000, "a1b2c3").as_bytes()), Some(5_000));
        assert_eq!(until(b"5000"), Some(5_000));
        assert_eq!(until(b"garbage"), None);
        assert_ne!(value(5_000, "a1"), value(5_000, "b2"));
    }
}
