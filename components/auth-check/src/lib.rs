//! auth-check: turns a request's credentials into a caller with roles, or a refusal.
//!
//! API keys are configured through the `api_keys` variable as a comma-separated list of
//! `caller-id:role+role:sha256-hex-of-key` entries, so only hashes of keys are ever stored
//! or configured. A bearer credential that is a JWT is a signed token instead
//! (`tokens.rs`): an OIDC access token or a service token. A deployment may require the
//! Information Mediator's client header to name the same caller (`im_client_must_match`).

mod tokens;

spin_sdk::wit_bindgen::generate!({
    path: "../../wit",
    world: "auth-check",
    runtime_path: "::spin_sdk::wit_bindgen::rt",
    generate_all,
});

use exports::govstack_messaging::auth::auth::{Credentials, Guest, Refusal};
use govstack_messaging::types::types::Caller;
use messaging_domain::caller_entries;
use messaging_domain::hashing::{constant_time_eq, secret_digest};

struct AuthCheck;

impl Guest for AuthCheck {
    async fn authenticate(credentials: Credentials) -> Result<Caller, Refusal> {
        let Some(presented) = credentials.api_key.filter(|k| !k.is_empty()) else {
            return Err(Refusal::MissingCredentials);
        };
        let caller = if messaging_domain::tokens::looks_like_jwt(&presented) {
            let caller = tokens::authenticate(&presented).await?;
            Caller {
                id: caller.id,
                roles: caller.roles,
            }
        } else {
            api_key_caller(&presented).await?
        };
        let must_match = message_store::config::get("im_client_must_match")
            .await
            .is_ok_and(|v| v == "true");
        if must_match && credentials.im_client.as_deref() != Some(caller.id.as_str()) {
            println!(
                "{}",
                serde_json::json!({"event": "auth.refused", "reason": "the IM client header does not name the caller"})
            );
            return Err(Refusal::InvalidCredentials);
        }
        Ok(caller)
    }
}

async fn api_key_caller(key: &str) -> Result<Caller, Refusal> {
    let config = message_store::config::get("api_keys")
        .await
        .map_err(|e| Refusal::Unavailable(format!("api_keys variable: {e}")))?;
    let digest = secret_digest(key);
    // Compare against every entry, without stopping early, so timing says nothing about
    // which entry (if any) matched.
    let mut found = None;
    // Only SHA-256 hex digests are keys; anything else in the list matches nothing.
    for entry in caller_entries::parse(&config).filter(|e| e.credential.len() == 64) {
        if constant_time_eq(entry.credential, &digest) && found.is_none() {
            found = Some(Caller {
                id: entry.caller.to_string(),
                roles: entry.roles.iter().map(|r| r.to_string()).collect(),
            });
        }
    }
    found.ok_or(Refusal::InvalidCredentials)
}

export!(AuthCheck);
