//! Service tokens as a calling system makes them (GOV.UK Notify's manner): an HS256 JWT
//! whose `iss` is the service, signed with its secret. Signed here with HMAC directly,
//! independently of the gateway's JWT library.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac;
use serde_json::Value;

/// A token with these claims, signed with `secret`.
pub fn sign(secret: &str, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// Seconds since the epoch, for `iat`.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}
