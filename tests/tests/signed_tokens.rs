//! Callers with signed tokens: OIDC access tokens verified against an identity provider's
//! JWKS (a double serving keys as Keycloak's certs endpoint does), service tokens signed
//! with a shared secret, and the Information Mediator header bound to the caller. The test
//! signs its tokens itself with p256 and HMAC, independently of the gateway's JWT library.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use serde_json::{Value, json};

const ISSUER: &str = "https://id.gov.example/realms/govstack";
const CERTS: &str = "/realms/govstack/protocol/openid-connect/certs";
/// Two P-256 keys of the identity provider: RFC 7515 A.3's and RFC 8291's example keys.
const K1_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
const K2_D: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const SERVICE_SECRET: &str = "5e1f0c9b7a3d4e2f8a6b0c1d9e7f5a3b";

fn signing_key(d: &str) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&B64.decode(d).unwrap()).unwrap()
}

/// The JWK of a key, as an identity provider publishes it.
fn jwk(kid: &str, d: &str) -> Value {
    let point = signing_key(d).verifying_key().to_encoded_point(false);
    json!({"kid": kid, "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
        "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())})
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(kid: &str, d: &str, overrides: Value) -> String {
    use p256::ecdsa::signature::Signer;
    let mut claims = json!({"iss": ISSUER, "aud": "messaging", "azp": "health-registry",
        "exp": now() + 300, "iat": now(), "realm_access": {"roles": ["notify"]}});
    for (k, v) in overrides.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string()),
        B64.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = signing_key(d).sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

fn service_token(secret: &str, iat: u64) -> String {
    integration_tests::service_token::sign(secret, &json!({"iss": "social-care", "iat": iat}))
}

const ALERTS: &str = "roles = [\"alerts\"]\nvalidity = \"1h\"\npriority = \"emergency\"\n[channels.sms]\ncell = \"deliver-sms\"\n";

fn gateway(idp: &Recorder, extra: &[(&str, &str)]) -> Gateway {
    let jwks_url = format!("{}{CERTS}", idp.url);
    let service_keys = format!("social-care:notify:{SERVICE_SECRET}");
    let mut vars = vec![
        ("oidc_issuer", ISSUER),
        ("oidc_jwks_url", jwks_url.as_str()),
        ("oidc_hosts", idp.url.as_str()),
        ("oidc_roles_claim", "realm_access.roles"),
        ("service_keys", service_keys.as_str()),
    ];
    vars.extend_from_slice(extra);
    Gateway::start_with_policies(&vars, &[("alerts.toml", ALERTS)])
}

fn message(policy: Option<&str>) -> Value {
    let mut m = json!({"channel": "sms", "to": "+254712345678", "body": "Clinic tomorrow"});
    if let Some(p) = policy {
        m["policy"] = p.into();
    }
    m
}

#[test]
fn an_identity_providers_token_is_a_caller_with_its_roles_and_its_own_messages() {
    let idp = Recorder::start();
    idp.answer_json(200, &json!({"keys": [jwk("k1", K1_D)]}).to_string());
    let gw = gateway(&idp, &[]);
    let good = token("k1", K1_D, json!({}));
    let r = gw.send(&good, &message(None), &[]);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(gw.status(&good, &id).status, 200);
    assert_eq!(
        gw.status(KEY, &id).status,
        404,
        "another caller cannot read it"
    );
    // Roles come from the token: `notify` may not use the emergency policy.
    assert_eq!(gw.send(&good, &message(Some("alerts")), &[]).status, 403);
    let alerter = token("k1", K1_D, json!({"realm_access": {"roles": ["alerts"]}}));
    let alert = gw.send(&alerter, &message(Some("alerts")), &[]);
    assert_eq!(alert.status, 202);
    // Both messages settle before the store is counted.
    for (token, id) in [
        (&good, id),
        (&alerter, alert.json()["id"].as_str().unwrap().to_string()),
    ] {
        integration_tests::wait_for(20, "delivery", || {
            (gw.status(token, &id).json()["status"] == "delivered").then_some(())
        });
    }

    let before = keys(&gw.settled_rows_but_auth_failures());
    let none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(
            json!({"iss": ISSUER, "aud": "messaging", "azp": "x", "exp": now() + 60}).to_string()
        )
    );
    let mut tampered = good.clone();
    tampered.insert(tampered.rfind('.').unwrap() + 1, 'A');
    for (what, bad) in [
        ("expired", token("k1", K1_D, json!({"exp": now() - 120}))),
        (
            "wrong audience",
            token("k1", K1_D, json!({"aud": "payments"})),
        ),
        (
            "wrong issuer",
            token("k1", K1_D, json!({"iss": "https://evil.example"})),
        ),
        (
            "not yet valid",
            token("k1", K1_D, json!({"nbf": now() + 120})),
        ),
        ("signed by a stranger", token("k1", K2_D, json!({}))),
        ("alg none", none),
        ("tampered", tampered),
    ] {
        let r = gw.send(&bad, &message(None), &[]);
        assert_eq!(r.status, 401, "{what}: {}", r.body);
    }
    assert_eq!(
        keys(&gw.rows_but_auth_failures()),
        before,
        "refusals store nothing but their count"
    );
    assert_eq!(
        idp.received().len(),
        1,
        "the JWKS is fetched once and cached"
    );
    assert!(!gw.logs().contains(&good[..40]), "tokens are never logged");
}

#[test]
fn a_rotated_key_is_fetched_when_a_token_first_names_it() {
    let idp = Recorder::start();
    idp.answer_json(200, &json!({"keys": [jwk("k1", K1_D)]}).to_string());
    let gw = gateway(&idp, &[]);
    assert_eq!(
        gw.send(&token("k1", K1_D, json!({})), &message(None), &[])
            .status,
        202
    );
    idp.answer_json(
        200,
        &json!({"keys": [jwk("k1", K1_D), jwk("k2", K2_D)]}).to_string(),
    );
    // Unknown kids refetch at most every ten seconds, so made-up kids cannot flood the
    // identity provider; after that the new key is found.
    std::thread::sleep(std::time::Duration::from_secs(11));
    let r = gw.send(&token("k2", K2_D, json!({})), &message(None), &[]);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(idp.received().len(), 2);
    let made_up = token("k9", K2_D, json!({}));
    assert_eq!(gw.send(&made_up, &message(None), &[]).status, 401);
    assert_eq!(gw.send(&made_up, &message(None), &[]).status, 401);
    assert_eq!(idp.received().len(), 2, "no refetch within ten seconds");
}

#[test]
fn service_tokens_and_a_bound_information_mediator_header() {
    let idp = Recorder::start();
    let gw = gateway(&idp, &[("im_client_must_match", "true")]);
    // Each request its own token (`iat` apart): a token is used once (`security.rs`).
    let fresh = |age: u64| service_token(SERVICE_SECRET, now() - age);
    let header = [("x-govstack-client", "social-care")];
    assert_eq!(gw.send(&fresh(0), &message(None), &header).status, 202);
    assert_eq!(
        gw.send(
            &fresh(1),
            &message(None),
            &[("x-govstack-client", "registry")]
        )
        .status,
        401,
        "the IM header names another system"
    );
    assert_eq!(gw.send(&fresh(2), &message(None), &[]).status, 401);
    assert_eq!(gw.send(&fresh(3), &message(None), &header).status, 202);
    let old = service_token(SERVICE_SECRET, now() - 120);
    assert_eq!(gw.send(&old, &message(None), &header).status, 401);
    let forged = service_token("a-different-secret-of-32-bytes-xx", now());
    assert_eq!(gw.send(&forged, &message(None), &header).status, 401);
    assert!(
        idp.received().is_empty(),
        "service tokens need no identity provider"
    );
}

/// The (store, key) of each row, so that a failed comparison names the rows that differ.
fn keys(rows: &[(String, String, Vec<u8>)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(s, k, _)| (s.clone(), k.clone()))
        .collect()
}
