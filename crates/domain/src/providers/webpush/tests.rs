use super::*;

/// RFC 8291 section 5 and Appendix A: every input of the worked example.
const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
const UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

fn bytes<const N: usize>(b64: &str) -> [u8; N] {
    URL_SAFE_NO_PAD.decode(b64).unwrap().try_into().unwrap()
}

#[test]
fn encryption_matches_the_rfc_8291_worked_example() {
    let body = encrypt(
        &bytes(UA_PUBLIC),
        &bytes(AUTH),
        PLAINTEXT.as_bytes(),
        &bytes(AS_PRIVATE),
        &bytes(SALT),
    )
    .unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(body), BODY);
}

#[test]
fn the_subscriber_decrypts_the_worked_example() {
    let body = URL_SAFE_NO_PAD.decode(BODY).unwrap();
    let plain = decrypt(&bytes(UA_PRIVATE), &bytes(AUTH), &body).unwrap();
    assert_eq!(plain, PLAINTEXT.as_bytes());
    let mut tampered = body.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(decrypt(&bytes(UA_PRIVATE), &bytes(AUTH), &tampered).is_err());
    assert!(
        decrypt(&bytes(UA_PRIVATE), &[0u8; 16], &body).is_err(),
        "the wrong auth secret cannot read it"
    );
}

#[test]
fn the_largest_payload_fills_one_4096_byte_record_and_no_more() {
    let full = vec![b'a'; MAX_PLAINTEXT];
    let body = encrypt(
        &bytes(UA_PUBLIC),
        &bytes(AUTH),
        &full,
        &bytes(AS_PRIVATE),
        &bytes(SALT),
    )
    .unwrap();
    assert_eq!(body.len(), 4096);
    assert!(
        encrypt(
            &bytes(UA_PUBLIC),
            &bytes(AUTH),
            &[b'a'; MAX_PLAINTEXT + 1],
            &bytes(AS_PRIVATE),
            &bytes(SALT)
        )
        .is_err()
    );
    assert!(fits(Some("Clinic"), &"x".repeat(3900)));
    assert!(!fits(None, &"x".repeat(3990)));
}

#[test]
fn vapid_tokens_verify_against_their_key_and_audience() {
    let key = VapidKey::from_base64url(AS_PRIVATE).unwrap();
    let endpoint = "https://fcm.googleapis.com/fcm/send/dXNlcg";
    let now = 1_790_000_000;
    let header = key
        .authorization(
            endpoint,
            "mailto:ops@health.gov.example",
            now + VAPID_LIFETIME_SECS,
        )
        .unwrap();
    let (k, sub) = verify_authorization(&header, endpoint, now).unwrap();
    assert_eq!(k, key.public_key());
    assert_eq!(
        k,
        "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
        "the public key of RFC 8291's example sender key"
    );
    assert_eq!(sub, "mailto:ops@health.gov.example");
    assert!(
        verify_authorization(&header, "https://updates.push.services.mozilla.com/x", now).is_err(),
        "another push service is another audience"
    );
    assert!(
        verify_authorization(&header, endpoint, now + VAPID_LIFETIME_SECS).is_err(),
        "expired"
    );
    let other = VapidKey::from_base64url(UA_PRIVATE).unwrap();
    let forged = header.replace(&key.public_key(), &other.public_key());
    assert!(verify_authorization(&forged, endpoint, now).is_err());
    assert!(VapidKey::from_base64url("not-a-key").is_err());
}

#[test]
fn push_service_answers_map_to_outcomes() {
    assert_eq!(interpret(201), SendAnswer::Accepted);
    assert!(matches!(interpret(410), SendAnswer::Rejected(_)));
    assert!(matches!(interpret(404), SendAnswer::Rejected(_)));
    assert!(matches!(interpret(413), SendAnswer::Rejected(_)));
    assert!(matches!(interpret(429), SendAnswer::Deferred(_)));
    assert!(matches!(interpret(503), SendAnswer::Deferred(_)));
    assert!(matches!(interpret(403), SendAnswer::Deferred(_)));
    assert!(matches!(interpret(400), SendAnswer::Rejected(_)));
}
