//! Web Push, as browsers and push services speak it: the push channel.
//!
//! - Encryption (RFC 8291, `aes128gcm` content coding of RFC 8188): for each message the
//!   gateway makes a fresh P-256 key pair and salt, agrees a secret with the subscriber's
//!   `p256dh` key (ECDH), mixes in the subscriber's `auth` secret (HKDF-SHA-256), and seals
//!   the payload with AES-128-GCM in one record. Only the subscriber's browser can read it;
//!   the push service sees only ciphertext.
//! - Authentication (RFC 8292, VAPID): `Authorization: vapid t=<JWT>, k=<public key>`, the
//!   JWT signed with ES256 by the deployment's VAPID key, naming the push service's origin
//!   (`aud`), an expiry within 24 hours (`exp`) and a contact (`sub`). Web apps subscribe
//!   with the matching public key as `applicationServerKey`.
//! - Delivery (RFC 8030): `POST <endpoint>` with `TTL`, `Content-Encoding: aes128gcm`;
//!   `201 Created` means the push service took it. 404 and 410 mean the subscription is gone.
//!   Push services give no delivery receipts: a message they took is `sent`.
//!
//! The payload the service worker receives is JSON: `{"id", "title"?, "body"}`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The one record's size, as RFC 8291 section 4 asks push services to accept.
const RECORD_SIZE: u32 = 4096;
/// salt (16) + record size (4) + key id length (1) + the gateway's public key (65).
const HEADER_LEN: usize = 86;
/// AES-GCM tag.
const TAG_LEN: usize = 16;
/// Largest plaintext one push message carries: the record less the header, the tag and
/// the padding delimiter (RFC 8291 section 4: 3993 octets).
pub const MAX_PLAINTEXT: usize = RECORD_SIZE as usize - HEADER_LEN - TAG_LEN - 1;
/// VAPID tokens may live at most 24 hours (RFC 8292 section 2); the gateway signs for 12.
pub const VAPID_LIFETIME_SECS: u64 = 12 * 3600;

/// The answer to a push request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAnswer {
    Accepted,
    Rejected(String),
    Deferred(String),
}

/// The JSON the subscriber's service worker receives.
pub fn notification(id: &str, title: Option<&str>, body: &str) -> Vec<u8> {
    let mut json = serde_json::json!({ "id": id, "body": body });
    if let Some(title) = title {
        json["title"] = title.into();
    }
    json.to_string().into_bytes()
}

/// Whether a notification with this title and body fits in one push message. Message ids
/// have one length, so any id stands in for the real one.
pub fn fits(title: Option<&str>, body: &str) -> bool {
    notification("msg_00000000000000000000000000", title, body).len() <= MAX_PLAINTEXT
}

/// The keys that derive one message's content key and nonce (RFC 8291 section 3.4).
fn content_key_and_nonce(
    ecdh_secret: &[u8],
    auth: &[u8; 16],
    ua_public: &[u8; 65],
    as_public: &[u8],
    salt: &[u8; 16],
) -> ([u8; 16], [u8; 12]) {
    let mut key_info = Vec::with_capacity(144);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), ecdh_secret)
        .expand(&key_info, &mut ikm)
        .expect("32 bytes is a valid HKDF-SHA-256 length");
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .expect("16 bytes is a valid HKDF-SHA-256 length");
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .expect("12 bytes is a valid HKDF-SHA-256 length");
    (cek, nonce)
}

/// Encrypts `plaintext` for the subscriber whose keys are `ua_public` and `auth`.
/// `as_secret` (the one-message key pair's private half) and `salt` must be fresh random
/// bytes for every message; they are parameters so the RFC's worked example can be checked.
pub fn encrypt(
    ua_public: &[u8; 65],
    auth: &[u8; 16],
    plaintext: &[u8],
    as_secret: &[u8; 32],
    salt: &[u8; 16],
) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!("a push payload has at most {MAX_PLAINTEXT} bytes"));
    }
    let as_secret =
        SecretKey::from_slice(as_secret).map_err(|_| "the one-message key is not valid")?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let ua = PublicKey::from_sec1_bytes(ua_public).map_err(|_| "p256dh is not on P-256")?;
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua.as_affine());
    let (cek, nonce) = content_key_and_nonce(
        shared.raw_secret_bytes(),
        auth,
        ua_public,
        as_public.as_bytes(),
        salt,
    );
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    // The last (and only) record ends with 0x02 and no further padding.
    record.push(2);
    let sealed = Aes128Gcm::new_from_slice(&cek)
        .expect("16-byte key")
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| "AES-GCM refused the record")?;
    let mut body = Vec::with_capacity(HEADER_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Decrypts a push message as the subscriber's browser does, with the subscription's
/// private key. The gateway never needs this; the test doubles and anyone checking a
/// deployment by hand do.
pub fn decrypt(ua_secret: &[u8; 32], auth: &[u8; 16], body: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() < HEADER_LEN + TAG_LEN || body[20] != 65 {
        return Err("not an aes128gcm body with a P-256 key id".into());
    }
    let salt: [u8; 16] = body[..16].try_into().expect("16 bytes");
    let as_public = &body[21..HEADER_LEN];
    let ua_secret = SecretKey::from_slice(ua_secret).map_err(|_| "not a P-256 private key")?;
    let ua_public: [u8; 65] = ua_secret
        .public_key()
        .to_encoded_point(false)
        .as_bytes()
        .try_into()
        .expect("an uncompressed point has 65 bytes");
    let sender = PublicKey::from_sec1_bytes(as_public).map_err(|_| "key id is not on P-256")?;
    let shared = p256::ecdh::diffie_hellman(ua_secret.to_nonzero_scalar(), sender.as_affine());
    let (cek, nonce) = content_key_and_nonce(
        shared.raw_secret_bytes(),
        auth,
        &ua_public,
        as_public,
        &salt,
    );
    let mut record = Aes128Gcm::new_from_slice(&cek)
        .expect("16-byte key")
        .decrypt(Nonce::from_slice(&nonce), &body[HEADER_LEN..])
        .map_err(|_| "the record does not decrypt")?;
    while record.last() == Some(&0) {
        record.pop();
    }
    if record.pop() != Some(2) {
        return Err("the record lacks the last-record delimiter".into());
    }
    Ok(record)
}

/// The deployment's VAPID key: a P-256 private key, configured as 32 bytes in base64url
/// (the form `web-push generate-vapid-keys` and most libraries print).
pub struct VapidKey(SigningKey);

impl VapidKey {
    pub fn from_base64url(private_key: &str) -> Result<VapidKey, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(private_key.trim().trim_end_matches('='))
            .map_err(|_| "the VAPID private key is not base64url")?;
        SigningKey::from_slice(&bytes)
            .map(VapidKey)
            .map_err(|_| "the VAPID private key is not a P-256 private key".into())
    }

    /// The public key web apps pass as `applicationServerKey` (base64url, uncompressed).
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.verifying_key().to_encoded_point(false).as_bytes())
    }

    /// The `Authorization` header for a request to `endpoint`, valid until `expires`
    /// (seconds since the epoch).
    pub fn authorization(
        &self,
        endpoint: &str,
        subject: &str,
        expires: u64,
    ) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({ "aud": audience(endpoint)?, "exp": expires, "sub": subject })
                .to_string(),
        );
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.0.sign(signing_input.as_bytes());
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes()),
            self.public_key()
        ))
    }
}

/// The origin of a push endpoint: the JWT's audience.
pub fn audience(endpoint: &str) -> Result<String, String> {
    let url = url::Url::parse(endpoint).map_err(|_| "the endpoint is not a URL")?;
    Ok(url.origin().ascii_serialization())
}

/// What a push service checks in a VAPID `Authorization` header (RFC 8292 section 2 and
/// 3): the signature against `k`, the audience, and an expiry in the next 24 hours. Returns
/// the public key and the contact. The test double of a push service calls this.
pub fn verify_authorization(
    header: &str,
    endpoint: &str,
    now: u64,
) -> Result<(String, String), String> {
    let params = header
        .strip_prefix("vapid ")
        .ok_or("the scheme is not vapid")?;
    let mut token = None;
    let mut key = None;
    for part in params.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => token = Some(v),
            Some(("k", v)) => key = Some(v),
            _ => {}
        }
    }
    let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
    let key_bytes = URL_SAFE_NO_PAD
        .decode(key)
        .map_err(|_| "k is not base64url")?;
    let verifying = VerifyingKey::from_sec1_bytes(&key_bytes).map_err(|_| "k is not P-256")?;
    let (signing_input, signature) = token.rsplit_once('.').ok_or("t is not a JWT")?;
    let (header_part, claims_part) = signing_input.split_once('.').ok_or("t is not a JWT")?;
    let jwt_header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header_part)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the JWT header is unreadable")?;
    if jwt_header["alg"] != "ES256" {
        return Err("the JWT is not ES256".into());
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or("the JWT signature is malformed")?;
    verifying
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| "the JWT signature does not verify")?;
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(claims_part)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the JWT claims are unreadable")?;
    if claims["aud"].as_str() != Some(audience(endpoint)?.as_str()) {
        return Err("aud is not the push service's origin".into());
    }
    let exp = claims["exp"].as_u64().ok_or("no exp")?;
    if exp <= now || exp > now + 24 * 3600 {
        return Err("exp is not within the next 24 hours".into());
    }
    let subject = claims["sub"].as_str().unwrap_or_default().to_string();
    Ok((key.to_string(), subject))
}

/// Reads a push service's answer (RFC 8030 section 5, RFC 8292 section 4).
pub fn interpret(status: u16) -> SendAnswer {
    match status {
        200..=299 => SendAnswer::Accepted,
        // The subscriber unsubscribed or the subscription expired: it will never work again.
        404 | 410 => SendAnswer::Rejected(format!("push {status}: the subscription is gone")),
        413 => SendAnswer::Rejected("push 413: the payload is too large".into()),
        // 401/403: the VAPID key does not match the subscription's applicationServerKey,
        // which the deployment must fix; keep the message until then.
        401 | 403 => SendAnswer::Deferred(format!("push {status}: VAPID refused")),
        429 | 500..=599 => SendAnswer::Deferred(format!("push {status}")),
        _ => SendAnswer::Rejected(format!("push {status}")),
    }
}

#[cfg(test)]
mod tests;
