//! The push channel: Web Push to a double of a push service that checks the VAPID
//! signature as a push service does and decrypts the payload as the subscriber's browser
//! does (with the subscription's private key, which only the test holds).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::{Recorded, Recorder};
use integration_tests::wait_for;
use messaging_domain::providers::webpush;
use serde_json::{Value, json};

/// The gateway's VAPID key (a key made for these tests with `cargo xtask vapid-keys`).
const VAPID_PRIVATE: &str = "2TmavWXUlcUNmG0MKZm17kdkYzydt_ZzJTaB1T5b5KM";
const VAPID_PUBLIC: &str =
    "BLH2LFKTnAZpwRxpiXy_hVSRtq2AKze4CvKB5pw9tCd9RY4uUsMWSARdaBLhzLXWQbWo2wMUx4u02DvyTQ-XbH8";
const CONTACT: &str = "mailto:ops@health.gov.example";
/// The subscriber (the browser): the receiving key pair and auth secret of RFC 8291's
/// example.
const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

fn gateway_on(push_service: &Recorder) -> Gateway {
    Gateway::start_with(&[
        ("push_provider", "webpush"),
        ("push_hosts", &push_service.url),
        ("vapid_private_key", VAPID_PRIVATE),
        ("vapid_subject", CONTACT),
        ("push_ttl_seconds", "3600"),
        ("retry_base_ms", "300"),
    ])
}

fn subscription(push_service: &Recorder) -> Value {
    json!({"endpoint": format!("{}/wpush/v2/gAAAAABnSubscriber", push_service.url),
        "expirationTime": null, "keys": {"p256dh": UA_PUBLIC, "auth": AUTH}})
}

fn key<const N: usize>(b64: &str) -> [u8; N] {
    URL_SAFE_NO_PAD.decode(b64).unwrap().try_into().unwrap()
}

/// What the browser's service worker receives.
fn open(request: &Recorded) -> Value {
    let plain = webpush::decrypt(&key(UA_PRIVATE), &key(AUTH), &request.body)
        .expect("the subscriber can decrypt the message");
    serde_json::from_slice(&plain).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_push_message_reaches_only_its_subscriber_signed_with_the_deployments_key() {
    let push_service = Recorder::start();
    push_service.answer_with(201);
    let gw = gateway_on(&push_service);
    let body = "Your child's vaccination is due on Friday at Kibera clinic";
    let id = gw.accept(json!({"channel":"push","to":subscription(&push_service),
        "subject":"Vaccination reminder","body":body}));
    let view = gw.wait_status(&id, "sent");
    assert_eq!(view["channel"], "push");

    let request = &push_service.received()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/wpush/v2/gAAAAABnSubscriber");
    assert_eq!(request.header("content-encoding"), Some("aes128gcm"));
    assert_eq!(request.header("ttl"), Some("3600"));
    let endpoint = format!("{}{}", push_service.url, request.path);
    let (k, contact) = webpush::verify_authorization(
        request.header("authorization").expect("a VAPID header"),
        &endpoint,
        now(),
    )
    .expect("the push service accepts the VAPID signature");
    assert_eq!((k.as_str(), contact.as_str()), (VAPID_PUBLIC, CONTACT));
    assert!(
        !String::from_utf8_lossy(&request.body).contains("vaccination"),
        "the push service sees only ciphertext"
    );
    assert_eq!(
        open(request),
        json!({"id": id, "title": "Vaccination reminder", "body": body})
    );

    // Every message has its own key and salt: two sends never share a header.
    let again = gw.accept(json!({"channel":"push","to":subscription(&push_service),"body":body}));
    gw.wait_status(&again, "sent");
    let second = &push_service.received()[1];
    assert_ne!(request.body[..86], second.body[..86]);
    assert_eq!(open(second)["id"], again);
    assert!(
        !gw.logs().contains("gAAAAABnSubscriber"),
        "no endpoint in the logs"
    );
}

#[test]
fn a_gone_subscription_fails_the_message_and_an_overloaded_service_defers_it() {
    let push_service = Recorder::start();
    push_service.answer_with(410);
    let gw = gateway_on(&push_service);
    let id = gw.accept(json!({"channel":"push","to":subscription(&push_service),"body":"x"}));
    let view = gw.wait_status(&id, "failed");
    assert!(
        view.to_string().contains("subscription is gone"),
        "the caller learns why: {view}"
    );

    push_service.answer_with(429);
    let id = gw.accept(json!({"channel":"push","to":subscription(&push_service),"body":"y"}));
    wait_for(20, "two attempts", || {
        (push_service.received().len() >= 3).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
    push_service.answer_with(201);
    gw.wait_status(&id, "sent");
}

#[test]
fn bad_subscriptions_are_refused_and_nothing_is_stored() {
    let push_service = Recorder::start();
    let gw = gateway_on(&push_service);
    let rows = gw.stored_rows().len();
    let mut plain_http = subscription(&push_service);
    plain_http["endpoint"] = "http://push.example.org/wpush/v2/x".into();
    let mut short_key = subscription(&push_service);
    short_key["keys"]["p256dh"] = "BCVxsr7N".into();
    for to in [plain_http, short_key, json!("+254712345678")] {
        let r = gw.send(KEY, &json!({"channel":"push","to":to,"body":"x"}), &[]);
        assert_eq!(r.status, 422, "{to}");
        assert_eq!(r.error_code(), "invalid_push_subscription");
    }
    let r = gw.send(
        KEY,
        &json!({"channel":"push","to":subscription(&push_service),"body":"x".repeat(4000)}),
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(gw.stored_rows().len(), rows);
    assert!(push_service.received().is_empty());
}
