use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;

// RFC 7515 Appendix A.2 (RS256) and A.3 (ES256): the keys and the signed examples, whose
// payload `{"iss":"joe","exp":1300819380,...}` expired in 2011.
const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const A2_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const A3_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
const A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
// RFC 8037 Appendix A.4 (EdDSA, Ed25519); its payload is not JSON.
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const ED_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn jwks(keys: Value) -> JwkSet {
    serde_json::from_value(json!({ "keys": keys })).unwrap()
}

fn settings() -> OidcSettings {
    OidcSettings {
        issuer: "https://id.gov.example/realms/govstack".into(),
        audience: "messaging".into(),
        caller_claim: "azp".into(),
        roles_claim: "realm_access.roles".into(),
    }
}

fn error_of(token: &str, set: &JwkSet) -> String {
    match verify_oidc(token, set, &settings()) {
        Err(TokenError::Invalid(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn tamper(token: &str) -> String {
    let mut t = token.to_string();
    let last = t.pop().unwrap();
    t.push(if last == 'A' { 'B' } else { 'A' });
    t
}

#[test]
fn the_rfc_examples_verify_before_their_claims_are_judged() {
    let cases = [
        (
            A2_JWS,
            jwks(json!([{"kty": "RSA", "n": A2_N, "e": "AQAB"}])),
        ),
        (
            A3_JWS,
            jwks(json!([{"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y}])),
        ),
        (
            ED_JWS,
            jwks(json!([{"kty": "OKP", "crv": "Ed25519", "x": ED_X}])),
        ),
    ];
    for (token, set) in cases {
        // The signature is good, so the refusal is about the (2011, or not JSON) claims.
        let genuine = error_of(token, &set);
        assert!(!genuine.contains("InvalidSignature"), "{genuine}");
        let forged = error_of(&tamper(token), &set);
        assert!(forged.contains("InvalidSignature"), "{forged}");
    }
}

#[test]
fn a_key_of_another_type_or_algorithm_never_verifies() {
    let ec_only = jwks(json!([{"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y}]));
    let e = error_of(A2_JWS, &ec_only);
    assert!(!e.contains("ExpiredSignature"), "RS256 with an EC key: {e}");
    let rsa_for_ps = jwks(json!([{"kty": "RSA", "n": A2_N, "e": "AQAB", "alg": "PS256"}]));
    assert!(error_of(A2_JWS, &rsa_for_ps).contains("another algorithm"));
    // alg none, and HS256 keyed with the issuer's public key: refused before any key is used.
    let none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none"}"#),
        B64.encode(r#"{"azp":"x"}"#)
    );
    assert!(verify_oidc(&none, &ec_only, &settings()).is_err());
    let hs = format!(
        "{}.{}.{}",
        B64.encode(r#"{"alg":"HS256"}"#),
        B64.encode(r#"{"azp":"x"}"#),
        B64.encode([0u8; 32])
    );
    assert!(error_of(&hs, &ec_only).contains("not accepted"));
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An ES256 token signed with RFC 7515 A.3's private key.
fn es256(kid: &str, claims: Value) -> String {
    use p256::ecdsa::signature::Signer;
    let key = p256::ecdsa::SigningKey::from_slice(&B64.decode(A3_D).unwrap()).unwrap();
    let input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "ES256", "typ": "JWT", "kid": kid}).to_string()),
        B64.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

fn claims(overrides: Value) -> Value {
    let mut c = json!({
        "iss": "https://id.gov.example/realms/govstack", "aud": ["messaging", "account"],
        "azp": "health-registry", "sub": "service-account-health-registry",
        "exp": now() + 300, "iat": now(), "realm_access": {"roles": ["notify", "alerts"]}
    });
    for (k, v) in overrides.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[test]
fn a_fresh_token_names_its_caller_and_roles_and_every_claim_counts() {
    let set = jwks(json!([{"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y, "kid": "k1"}]));
    let caller = verify_oidc(&es256("k1", claims(json!({}))), &set, &settings()).unwrap();
    assert_eq!(
        caller,
        TokenCaller {
            id: "health-registry".into(),
            roles: vec!["notify".into(), "alerts".into()]
        }
    );
    assert_eq!(
        verify_oidc(&es256("k2", claims(json!({}))), &set, &settings()),
        Err(TokenError::UnknownKey),
        "an unknown kid asks for the JWKS again"
    );
    for bad in [
        json!({"aud": "another-service"}),
        json!({"iss": "https://evil.example"}),
        json!({"exp": now() - 120}),
        json!({"nbf": now() + 120}),
        json!({"azp": ""}),
    ] {
        assert!(
            verify_oidc(&es256("k1", claims(bad.clone())), &set, &settings()).is_err(),
            "{bad}"
        );
    }
    let within_skew = claims(json!({"exp": now() - 10}));
    assert!(verify_oidc(&es256("k1", within_skew), &set, &settings()).is_ok());
    let mut scoped = settings();
    scoped.roles_claim = "scope".into();
    let caller = verify_oidc(
        &es256("k1", claims(json!({"scope": "notify profile"}))),
        &set,
        &scoped,
    )
    .unwrap();
    assert_eq!(caller.roles, ["notify", "profile"]);
}

fn hs256(secret: &str, claims: Value) -> String {
    use hmac::Mac;
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

#[test]
fn service_tokens_need_their_secret_and_a_fresh_iat() {
    const SECRET: &str = "0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f";
    let config = format!("social-care:notify:{SECRET},weak:notify:short");
    let keys = parse_service_keys(&config);
    assert_eq!(keys.len(), 1, "a short secret is not accepted");
    let t = now();
    let token = hs256(SECRET, json!({"iss": "social-care", "iat": t}));
    assert!(looks_like_jwt(&token) && !looks_like_jwt("an-api-key"));
    assert_eq!(
        verify_service_token(&token, &keys, t).unwrap(),
        TokenCaller {
            id: "social-care".into(),
            roles: vec!["notify".into()]
        }
    );
    assert!(
        verify_service_token(&token, &keys, t + 31).is_err(),
        "replayed later"
    );
    let wrong = hs256(
        "another-secret-of-thirty-two-bytes",
        json!({"iss": "social-care", "iat": t}),
    );
    assert!(verify_service_token(&wrong, &keys, t).is_err());
    let stranger = hs256(SECRET, json!({"iss": "weak", "iat": t}));
    assert!(verify_service_token(&stranger, &keys, t).is_err());
    assert!(verify_service_token(&es256("k1", claims(json!({}))), &keys, t).is_err());
}

#[test]
fn a_cached_copy_is_fresh_for_its_age_and_never_from_the_future() {
    use super::cache_is_fresh;
    assert!(cache_is_fresh(1_000, 1_000, 10));
    assert!(cache_is_fresh(1_000, 1_009, 10));
    assert!(!cache_is_fresh(1_000, 1_010, 10));
    assert!(!cache_is_fresh(1_001, 1_000, 10), "dated in the future");
    assert!(!cache_is_fresh(u64::MAX, 1_000, u64::MAX));
}

#[test]
fn a_service_token_is_remembered_by_a_hash_for_its_whole_window() {
    use super::service_token_seen_key;
    let key = service_token_seen_key("aaa.bbb.ccc");
    assert!(
        key.starts_with("seen/"),
        "swept with the other seen/ leases"
    );
    assert!(!key.contains("ccc"));
    assert_ne!(key, service_token_seen_key("aaa.bbb.ccd"));
}
