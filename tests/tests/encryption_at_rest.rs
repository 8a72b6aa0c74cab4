//! Addresses and content at rest: sealed with `storage_keys` while a message waits, opened
//! only to send it, and still deliverable across a key rotation. A provider that is down
//! (Twilio's double answering 503) keeps the message waiting in the store.

use integration_tests::gateway::{Gateway, KEY, STORAGE_KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use integration_tests::wait_for;
use serde_json::json;

const NEW_KEY: &str = "rotated-storage-key-fedcba9876543210";
const NUMBER: &str = "+254712345678";
const BODY: &str = "HIV test result: please visit the clinic";

fn gateway(twilio: &Recorder) -> Gateway {
    Gateway::start_with(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[("retry_base_ms", "300")],
        ]
        .concat(),
    )
}

fn assert_nothing_readable(gw: &Gateway) {
    for (store, key, value) in gw.stored_rows() {
        let value = String::from_utf8_lossy(&value);
        for secret in ["254712345678", "HIV test", "clinic"] {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{store}/{key} holds {secret:?} in clear: {value}"
            );
        }
    }
}

fn sent_bodies(twilio: &Recorder) -> Vec<String> {
    twilio
        .received()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .filter(|b| b.contains("HIV"))
        .collect()
}

/// A message accepted while Twilio's double answers 503, after its first deferred attempt.
fn waiting_on_a_provider_that_is_down() -> (Recorder, Gateway, String) {
    let twilio = Recorder::start();
    twilio.answer_json(503, "{}");
    let gw = gateway(&twilio);
    let id = gw.accept(json!({"channel":"sms","to":NUMBER,"body":BODY}));
    wait_for(20, "a deferred attempt", || {
        (!twilio.received().is_empty()).then_some(())
    });
    (twilio, gw, id)
}

#[test]
fn a_waiting_message_is_sealed_at_rest_and_survives_a_key_rotation() {
    let (twilio, gw, id) = waiting_on_a_provider_that_is_down();
    assert!(gw.holds_payload(), "the message waits with its payload");
    assert_nothing_readable(&gw);

    // Rotation: the new key seals, the old one still opens what it sealed.
    let gw = gw.restart_with(&[("storage_keys", &format!("{NEW_KEY},{STORAGE_KEY}"))]);
    let later = gw.accept(json!({"channel":"sms","to":NUMBER,"body":BODY}));
    assert_nothing_readable(&gw);
    twilio.answer_json(
        201,
        &integration_tests::provider_fixture("twilio", "message_created.json"),
    );
    gw.wait_status(&id, "sent");
    gw.wait_status(&later, "sent");
    let bodies = sent_bodies(&twilio);
    assert!(
        bodies.iter().filter(|b| b.contains("254712345678")).count() >= 2,
        "both messages reach the provider readable: {bodies:?}"
    );
    assert!(!gw.holds_payload(), "erased once the provider has them");
}

#[test]
fn a_message_sealed_with_a_dropped_key_waits_for_it_and_is_not_lost() {
    let (twilio, gw, id) = waiting_on_a_provider_that_is_down();
    twilio.answer_json(
        201,
        &integration_tests::provider_fixture("twilio", "message_created.json"),
    );
    // The operator dropped the old key too early: the message cannot be opened, so it
    // is neither sent garbled nor dropped.
    let gw = gw.restart_with(&[("storage_keys", NEW_KEY)]);
    wait_for(20, "the store error", || {
        gw.logs().contains("dispatch.store_error").then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
    assert!(gw.holds_payload());
    let attempts_while_locked = sent_bodies(&twilio).len();
    assert_eq!(attempts_while_locked, 1, "only the first, deferred attempt");
    assert!(!gw.logs().contains("254712345678"));

    let gw = gw.restart_with(&[("storage_keys", &format!("{NEW_KEY},{STORAGE_KEY}"))]);
    gw.wait_status(&id, "sent");
    assert_eq!(sent_bodies(&twilio).len(), 2);
}
