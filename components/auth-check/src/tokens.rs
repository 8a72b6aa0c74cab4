//! Signed tokens: OIDC access tokens checked against the issuer's JWKS (fetched over HTTP
//! and cached in the key-value store, refetched on an unknown `kid`), and service tokens
//! checked against `service_keys` and refused when seen before (`seen/` leases, swept like
//! the other short-lived keys). The verification itself is `messaging_domain::tokens`.

use crate::exports::govstack_messaging::auth::auth::Refusal;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use message_store::short_lived::first_sight;
use messaging_domain::tokens::{
    OidcSettings, SERVICE_TOKEN_MEMORY_MS, TokenCaller, TokenError, cache_is_fresh,
    parse_service_keys, service_token_seen_key, verify_oidc, verify_service_token,
};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::key_value::Store;

/// A cached JWKS is used this long before it is fetched again.
const JWKS_FRESH_MS: u64 = 10 * 60 * 1000;
/// An unknown `kid` refetches the JWKS, at most this often (a flood of tokens with made-up
/// kids must not become a flood of requests to the identity provider).
const JWKS_REFETCH_MS: u64 = 10 * 1000;
const JWKS_CACHE_KEY: &str = "auth/jwks";

async fn var(name: &str) -> String {
    message_store::config::get(name).await.unwrap_or_default()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn refused(reason: &str) -> Refusal {
    // The reason names the failed check, never the token.
    println!(
        "{}",
        serde_json::json!({"event": "auth.refused", "reason": reason})
    );
    Refusal::InvalidCredentials
}

pub async fn authenticate(token: &str) -> Result<TokenCaller, Refusal> {
    if messaging_domain::tokens::algorithm(token) == Some(Algorithm::HS256) {
        let config = var("service_keys").await;
        let now = now_ms() / 1000;
        let caller = verify_service_token(token, &parse_service_keys(&config), now)
            .map_err(|e| refused(&reason(e)))?;
        return match first_sight(&service_token_seen_key(token), SERVICE_TOKEN_MEMORY_MS) {
            Ok(true) => Ok(caller),
            Ok(false) => Err(refused("the service token was used before")),
            Err(_) => Err(Refusal::Unavailable(
                "used service tokens cannot be checked now".into(),
            )),
        };
    }
    let issuer = var("oidc_issuer").await;
    if issuer.is_empty() {
        return Err(refused(
            "signed tokens from an identity provider are not configured",
        ));
    }
    let settings = OidcSettings {
        issuer,
        audience: var("oidc_audience").await,
        caller_claim: var("oidc_caller_claim").await,
        roles_claim: var("oidc_roles_claim").await,
    };
    let jwks = jwks().await?;
    match verify_oidc(token, &jwks, &settings) {
        Err(TokenError::UnknownKey) => {
            // The issuer may have rotated its keys since the cache was filled.
            let jwks = jwks_refetched().await?;
            verify_oidc(token, &jwks, &settings).map_err(|e| refused(&reason(e)))
        }
        other => other.map_err(|e| refused(&reason(e))),
    }
}

fn reason(e: TokenError) -> String {
    match e {
        TokenError::UnknownKey => "no key of the issuer has the token's kid".into(),
        TokenError::Invalid(why) => why,
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CachedJwks {
    fetched_ms: u64,
    jwks: JwkSet,
}

/// The cached JWKS, sealed like every value the gateway must trust: keys planted in the
/// store by someone without `storage_keys` do not open, so they never verify a token.
async fn cached() -> Option<CachedJwks> {
    let kv = Store::open_default().await.ok()?;
    message_store::get_sealed(&kv, JWKS_CACHE_KEY)
        .await
        .ok()
        .flatten()
}

/// The issuer's keys: from the cache while fresh, else fetched (falling back to a stale
/// cache if the identity provider is unreachable).
async fn jwks() -> Result<JwkSet, Refusal> {
    let cache = cached().await;
    if let Some(c) = &cache
        && cache_is_fresh(c.fetched_ms, now_ms(), JWKS_FRESH_MS)
    {
        return Ok(c.jwks.clone());
    }
    fetch_or(cache).await
}

async fn jwks_refetched() -> Result<JwkSet, Refusal> {
    let cache = cached().await;
    if let Some(c) = &cache
        && cache_is_fresh(c.fetched_ms, now_ms(), JWKS_REFETCH_MS)
    {
        return Ok(c.jwks.clone());
    }
    fetch_or(cache).await
}

async fn fetch_or(cache: Option<CachedJwks>) -> Result<JwkSet, Refusal> {
    match fetch().await {
        Ok(jwks) => {
            if let Ok(kv) = Store::open_default().await {
                let entry = CachedJwks {
                    fetched_ms: now_ms(),
                    jwks: jwks.clone(),
                };
                let _ = message_store::put_sealed(&kv, JWKS_CACHE_KEY, &entry).await;
            }
            Ok(jwks)
        }
        Err(why) => match cache {
            Some(stale) => Ok(stale.jwks),
            None => Err(Refusal::Unavailable(format!("issuer keys: {why}"))),
        },
    }
}

async fn fetch() -> Result<JwkSet, String> {
    let url = var("oidc_jwks_url").await;
    let request = http::Request::get(&url)
        .header("accept", "application/json")
        .body(spin_sdk::http::FullBody::new(bytes::Bytes::new()))
        .map_err(|_| "oidc_jwks_url is not a URL".to_string())?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|_| "the JWKS URL is unreachable".to_string())?;
    if !response.status().is_success() {
        return Err(format!("the JWKS URL answered {}", response.status()));
    }
    let body = response
        .into_body()
        .bytes()
        .await
        .map_err(|_| "the JWKS could not be read".to_string())?;
    serde_json::from_slice(&body).map_err(|_| "the JWKS is not a JWK set".to_string())
}
