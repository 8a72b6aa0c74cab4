//! Keyed hashes: how the gateway recognises a value again without keeping it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `value` under `key`, lowercase hex.
pub fn keyed_hash(key: &[u8], value: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time check of a hex HMAC produced by [`keyed_hash`].
pub fn verify_keyed_hash(key: &[u8], value: &[u8], expected_hex: &str) -> bool {
    let Ok(expected) = hex::decode(expected_hex) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value);
    mac.verify_slice(&expected).is_ok()
}

/// SHA-256 of a high-entropy secret (API keys), lowercase hex. Unsalted is right here: API
/// keys are random 256-bit strings, not passwords, and the hash must be a lookup key.
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hash_matches_rfc4231_case_2() {
        assert_eq!(
            keyed_hash(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verification_refuses_other_values_and_garbage() {
        let tag = keyed_hash(b"k", b"msg_1");
        assert!(verify_keyed_hash(b"k", b"msg_1", &tag));
        assert!(!verify_keyed_hash(b"k", b"msg_2", &tag));
        assert!(!verify_keyed_hash(b"other", b"msg_1", &tag));
        assert!(!verify_keyed_hash(b"k", b"msg_1", "zz"));
    }

    #[test]
    fn digest_and_equality() {
        assert_eq!(
            secret_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
