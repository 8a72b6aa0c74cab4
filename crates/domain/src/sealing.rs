//! Encryption at rest for what the gateway must keep readable for a while: a message's
//! address and content until a provider has them (and, for a fallback, until delivery).
//!
//! AES-256-GCM. Keys come from the `storage_keys` secret variable: comma-separated
//! secrets, the first seals, every one opens, so a key is rotated by putting a new secret
//! first and dropping the old one once no message sealed with it is left (after the
//! longest policy validity). Each secret is stretched into a key with HKDF-SHA-256, so any
//! long random string will do; the key's id, stored beside the ciphertext, is a digest of
//! the key and reveals nothing of it. The associated data binds a sealed value to its
//! context (the message id), so a value copied onto another message does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shortest secret accepted: 128 bits of base64 or hex randomness.
pub const MIN_SECRET_CHARS: usize = 22;

pub struct Keyring {
    /// (key id, key); the first seals.
    keys: Vec<(String, [u8; 32])>,
}

/// How a sealed value is stored.
#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The id of the key that sealed it.
    kid: String,
    nonce: String,
    ct: String,
}

impl Keyring {
    /// Reads `storage_keys`.
    pub fn parse(spec: &str) -> Result<Keyring, String> {
        let keys = spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|secret| {
                if secret.chars().count() < MIN_SECRET_CHARS {
                    return Err(format!(
                        "storage_keys: each key needs at least {MIN_SECRET_CHARS} characters"
                    ));
                }
                let mut key = [0u8; 32];
                Hkdf::<Sha256>::new(None, secret.as_bytes())
                    .expand(b"govstack-messaging storage key v1", &mut key)
                    .expect("32 bytes is a valid HKDF-SHA-256 length");
                let kid = hex::encode(&Sha256::digest(key)[..4]);
                Ok((kid, key))
            })
            .collect::<Result<Vec<_>, String>>()?;
        if keys.is_empty() {
            return Err("storage_keys is empty".into());
        }
        Ok(Keyring { keys })
    }

    /// The id of the sealing key (for logs and tests; not secret).
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plaintext` for `context` with a fresh random `nonce` (never reuse one with the
    /// same key; 96 random bits make a collision negligible below billions of values).
    pub fn seal(&self, context: &str, plaintext: &[u8], nonce: [u8; 12]) -> Vec<u8> {
        let (kid, key) = &self.keys[0];
        let ct = Aes256Gcm::new_from_slice(key)
            .expect("32-byte key")
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad(kid, context),
                },
            )
            .expect("AES-GCM seals any length the gateway stores");
        serde_json::to_vec(&Sealed {
            kid: kid.clone(),
            nonce: B64.encode(nonce),
            ct: B64.encode(ct),
        })
        .expect("serialises")
    }

    /// Opens a value sealed for `context` by any key of the ring. Bytes that are not a
    /// sealed value are refused like a tampered one: whoever can write the store without
    /// the keys must not be able to plant a payload or a credential in clear.
    pub fn open(&self, context: &str, stored: &[u8]) -> Result<Vec<u8>, String> {
        let Ok(sealed) = serde_json::from_slice::<Sealed>(stored) else {
            return Err("the value is not sealed".into());
        };
        let (kid, key) = self
            .keys
            .iter()
            .find(|(kid, _)| *kid == sealed.kid)
            .ok_or_else(|| format!("sealed with key {} which storage_keys lacks", sealed.kid))?;
        let (Ok(nonce), Ok(ct)) = (B64.decode(&sealed.nonce), B64.decode(&sealed.ct)) else {
            return Err("the sealed value is malformed".into());
        };
        if nonce.len() != 12 {
            return Err("the sealed value is malformed".into());
        }
        Aes256Gcm::new_from_slice(key)
            .expect("32-byte key")
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: &aad(kid, context),
                },
            )
            .map_err(|_| "the sealed value does not open (wrong context or tampered)".into())
    }
}

fn aad(kid: &str, context: &str) -> Vec<u8> {
    format!("{kid}\n{context}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "old-secret-0123456789abcdef";
    const NEW: &str = "new-secret-0123456789abcdef";

    #[test]
    fn sealed_values_open_only_in_their_context_and_hide_their_content() {
        let ring = Keyring::parse(NEW).unwrap();
        let sealed = ring.seal("msg_a", b"+254712345678 your results", [7; 12]);
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("254712345678") && !text.contains("results"));
        assert!(text.contains(ring.current_id()));
        assert_eq!(
            ring.open("msg_a", &sealed).unwrap(),
            b"+254712345678 your results"
        );
        assert!(ring.open("msg_b", &sealed).is_err(), "bound to its message");
        let tampered = text.replacen("\"ct\":\"", "\"ct\":\"A", 1);
        assert!(ring.open("msg_a", tampered.as_bytes()).is_err());
        assert_eq!(
            ring.open("msg_a", br#"{"to":"+254712345678"}"#),
            Err("the value is not sealed".to_string()),
            "a value in clear, written by someone without the keys, is refused"
        );
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_seals_with_the_new_key() {
        let old = Keyring::parse(OLD).unwrap();
        let sealed_before = old.seal("msg_a", b"x", [1; 12]);
        let rotated = Keyring::parse(&format!("{NEW}, {OLD}")).unwrap();
        assert_eq!(rotated.open("msg_a", &sealed_before).unwrap(), b"x");
        assert_ne!(rotated.current_id(), old.current_id());
        let sealed_after = rotated.seal("msg_a", b"y", [2; 12]);
        assert!(
            old.open("msg_a", &sealed_after).is_err(),
            "the old ring lacks the new key"
        );
        let dropped = Keyring::parse(NEW).unwrap();
        assert!(dropped.open("msg_a", &sealed_before).is_err());
    }

    #[test]
    fn short_or_empty_key_lists_are_refused() {
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("short").is_err());
        assert!(Keyring::parse(&format!("{NEW},short")).is_err());
    }
}
