//! Signed tokens as credentials: what auth-check accepts besides API keys.
//!
//! - **OIDC access tokens** (the Identity Building Block, Keycloak, any OpenID provider):
//!   a JWT signed with RS256, ES256 or EdDSA, verified against the issuer's JWKS; `iss` and
//!   `aud` must be the configured ones, `exp` in the future and `nbf` in the past (30 s
//!   skew). The caller is a configured claim (`azp` by default: the client the token was
//!   issued to); its roles come from a configured claim path (`roles`, or Keycloak's
//!   `realm_access.roles`), a list or a space-separated string.
//! - **Service tokens**, in the manner of GOV.UK Notify, for systems without an identity
//!   provider: an HS256 JWT whose `iss` is the service id and whose `iat` is within 30 s of
//!   now, signed with that service's secret (`service_keys`: `service:role+role:secret`),
//!   and used once: a repeat inside the window is a replay.
//!
//! Only these algorithms are accepted, each only with its own key type, so `alg: none`,
//! HS256 signed with a public key, and other confusions fail. Verification is
//! jsonwebtoken's (RustCrypto backend); the policy around it is here, pure and tested.

use crate::caller_entries::CallerEntry;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

/// Clock skew allowed on `exp`, `nbf` and a service token's `iat`.
pub const SKEW_SECS: u64 = 30;

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub id: String,
    pub roles: Vec<String>,
}

/// Why a token is refused. The text is for logs: it never contains the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The JWKS has no key with the token's `kid`: refetch the JWKS (rotation), then refuse.
    UnknownKey,
    Invalid(String),
}

/// Whether a bearer credential is a JWT rather than an API key: three base64url parts, the
/// first a JSON object (`eyJ`).
pub fn looks_like_jwt(credential: &str) -> bool {
    credential.starts_with("eyJ")
        && credential.split('.').count() == 3
        && credential
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The header's algorithm, if the token has a readable header.
pub fn algorithm(token: &str) -> Option<Algorithm> {
    decode_header(token).ok().map(|h| h.alg)
}

/// What a deployment trusts: one issuer, one audience, and where caller and roles are.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub audience: String,
    /// Claim naming the calling system (`azp` by default).
    pub caller_claim: String,
    /// Dot path of the roles claim (`roles`, `realm_access.roles`).
    pub roles_claim: String,
}

fn invalid(e: impl std::fmt::Display) -> TokenError {
    TokenError::Invalid(e.to_string())
}

/// Verifies an OIDC access token against the issuer's keys.
pub fn verify_oidc(
    token: &str,
    jwks: &JwkSet,
    settings: &OidcSettings,
) -> Result<TokenCaller, TokenError> {
    let header = decode_header(token).map_err(invalid)?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(invalid(format!("{:?} is not accepted", header.alg)));
    }
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid).ok_or(TokenError::UnknownKey)?,
        // Without a kid, only an unambiguous JWKS will do.
        None if jwks.keys.len() == 1 => &jwks.keys[0],
        None => return Err(TokenError::UnknownKey),
    };
    let claims = verify_with(token, jwk, header.alg, settings)?;
    let id = claims
        .get(&settings.caller_claim)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("no {} claim", settings.caller_claim)))?;
    Ok(TokenCaller {
        id: id.to_string(),
        roles: roles_at(&claims, &settings.roles_claim),
    })
}

fn verify_with(
    token: &str,
    jwk: &Jwk,
    alg: Algorithm,
    settings: &OidcSettings,
) -> Result<Value, TokenError> {
    // A key that names its algorithm is used for that algorithm only.
    if let Some(key_alg) = jwk.common.key_algorithm
        && format!("{key_alg:?}") != format!("{alg:?}")
    {
        return Err(invalid("the key is for another algorithm"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(invalid)?;
    let mut validation = Validation::new(alg);
    validation.leeway = SKEW_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(invalid)
}

/// Roles at a dot path: a list of strings or one space-separated string (OAuth `scope`).
fn roles_at(claims: &Value, path: &str) -> Vec<String> {
    let value = path.split('.').fold(claims, |v, part| &v[part]);
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Value::String(s) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// One service allowed to sign its own tokens: its id (`caller`), roles and secret
/// (`credential`).
pub type ServiceKey<'a> = CallerEntry<'a>;

/// Reads `service_keys`: `service:role+role:secret`, comma-separated. Secrets shorter than
/// 32 characters are skipped: they make HS256 guessable.
pub fn parse_service_keys(config: &str) -> Vec<ServiceKey<'_>> {
    crate::caller_entries::parse(config)
        .filter(|k| k.credential.len() >= 32)
        .collect()
}

/// Whether a cached copy made at `fetched_ms` may still be used at `now_ms` for up to
/// `max_age_ms`. A copy dated in the future is not fresh: it would be fresh for ever.
pub fn cache_is_fresh(fetched_ms: u64, now_ms: u64, max_age_ms: u64) -> bool {
    fetched_ms <= now_ms && now_ms - fetched_ms < max_age_ms
}

/// How long a service token is remembered after its first use: its `iat` lets it pass
/// for `2 × SKEW_SECS` at most, so a repeat within this time is a replay.
pub const SERVICE_TOKEN_MEMORY_MS: u64 = (2 * SKEW_SECS + 1) * 1000;

/// The `seen/` key that remembers a service token's first use (its keyed hash, never the
/// token): a second use within [`SERVICE_TOKEN_MEMORY_MS`] is refused. The whole token is
/// hashed, not its `jti`, so tokens without one are covered too.
pub fn service_token_seen_key(token: &str) -> String {
    format!(
        "seen/service-token/{}",
        crate::hashing::keyed_hash(b"service-token", token.as_bytes())
    )
}

/// Verifies a service token at `now` (seconds since the epoch). The caller also refuses a
/// token it has seen before ([`service_token_seen_key`]).
pub fn verify_service_token(
    token: &str,
    keys: &[ServiceKey<'_>],
    now: u64,
) -> Result<TokenCaller, TokenError> {
    let header = decode_header(token).map_err(invalid)?;
    if header.alg != Algorithm::HS256 {
        return Err(invalid("a service token is HS256"));
    }
    // Which service claims to have signed it; the signature decides whether it did.
    let claimed = jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .map_err(invalid)?
        .claims;
    let service = claimed["iss"].as_str().ok_or_else(|| invalid("no iss"))?;
    let key = keys
        .iter()
        .find(|k| k.caller == service)
        .ok_or_else(|| invalid("unknown service"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["iss"]);
    validation.set_issuer(&[service]);
    let claims = decode::<Value>(
        token,
        &DecodingKey::from_secret(key.credential.as_bytes()),
        &validation,
    )
    .map_err(invalid)?
    .claims;
    let iat = claims["iat"].as_u64().ok_or_else(|| invalid("no iat"))?;
    if iat.abs_diff(now) > SKEW_SECS {
        return Err(invalid("iat is not within 30 seconds of now"));
    }
    Ok(TokenCaller {
        id: key.caller.to_string(),
        roles: key.roles.iter().map(|r| r.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests;
