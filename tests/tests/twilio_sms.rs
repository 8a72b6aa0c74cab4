//! SMS through Twilio's Messages API, against a double that answers with Twilio's recorded
//! payloads; the test plays Twilio's signed status callbacks and inbound messages.

use base64::Engine;
use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio::{self, form_body, form_pairs, post as twilio_posts};
use integration_tests::{provider_fixture, wait_for};
use serde_json::json;

use integration_tests::twilio::{ACCOUNT_SID as SID, AUTH_TOKEN};

fn fixture(name: &str) -> String {
    provider_fixture("twilio", name)
}

fn gateway_on(twilio: &Recorder) -> Gateway {
    Gateway::start_with(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[("retry_base_ms", "300")],
        ]
        .concat(),
    )
}

fn twilio_signature(url: &str, params: &[(String, String)]) -> String {
    twilio::signature(AUTH_TOKEN, url, params)
}

#[test]
fn an_sms_goes_out_in_twilios_format_and_its_signed_callback_delivers_it() {
    let twilio = Recorder::start();
    twilio.answer_json(201, &fixture("message_created.json"));
    let gw = gateway_on(&twilio);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Karibu: 9:00 & 10:00"}));
    gw.wait_status(&id, "sent");

    let sent = &twilio.received()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.path,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{AUTH_TOKEN}"));
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = form_pairs(&String::from_utf8_lossy(&sent.body));
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("To"), "+254712345678");
    assert_eq!(get("From"), "+15005550006");
    assert_eq!(get("Body"), "Karibu: 9:00 & 10:00");
    let callback = get("StatusCallback");
    assert!(callback.starts_with(&format!("{}/webhooks/receipts/{id}/", gw.base)));

    // Twilio reports delivery: the recorded callback, for this message.
    let mut params = form_pairs(&fixture("status_callback_delivered.form"));
    params.retain(|(k, _)| k != "MessageStatus");
    params.push(("MessageStatus".into(), "delivered".into()));
    let body = form_body(&params);
    let forged = twilio_posts(&callback, &body, "bm90IGEgc2lnbmF0dXJl");
    assert_eq!(forged.status, 401);
    assert_eq!(
        gw.status(KEY, &id).json()["status"],
        "sent",
        "a forged callback changes nothing"
    );
    let signed = twilio_posts(&callback, &body, &twilio_signature(&callback, &params));
    assert_eq!(signed.status, 200, "{}", signed.body);
    gw.wait_status(&id, "delivered");

    // Replayed, or contradicted by a late report, the receipt changes nothing.
    let replayed = twilio_posts(&callback, &body, &twilio_signature(&callback, &params));
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    params.retain(|(k, _)| k != "MessageStatus");
    params.push(("MessageStatus".into(), "undelivered".into()));
    let late = form_body(&params);
    let contradicting = twilio_posts(&callback, &late, &twilio_signature(&callback, &params));
    assert!(contradicting.status < 500, "{}", contradicting.body);
    let view = gw.status(KEY, &id).json();
    assert_eq!(view["status"], "delivered", "{view}");
    let history = integration_tests::gateway::steps(&view);
    assert_eq!(
        history.iter().filter(|s| *s == "delivered").count(),
        1,
        "{history:?}"
    );
    assert!(!history.iter().any(|s| s == "failed"), "{history:?}");
}

#[test]
fn twilio_refusals_fail_and_its_outages_defer() {
    let refusing = Recorder::start();
    refusing.answer_json(400, &fixture("error_21211.json"));
    let gw = gateway_on(&refusing);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"x"}));
    gw.wait_status(&id, "failed");
    let logs = gw.wait_log("dispatch.failed");
    assert!(
        logs.contains("21211"),
        "the reason names Twilio's error code"
    );
    assert!(
        !logs.contains("25471234567"),
        "Twilio's message quotes the number; the log must not"
    );

    let down = Recorder::start();
    down.answer_json(503, "{}");
    let gw = gateway_on(&down);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"x"}));
    wait_for(20, "two attempts", || {
        (down.received().len() >= 2).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
}

#[test]
fn a_signed_inbound_twilio_sms_is_handled_and_answered_with_empty_twiml() {
    let twilio = Recorder::start();
    twilio.answer_json(201, &fixture("message_created.json"));
    let gw = gateway_on(&twilio);
    let url = format!("{}/webhooks/twilio/inbound", gw.base);
    let mut params = form_pairs(&fixture("inbound_message.form"));
    for (k, v) in params.iter_mut() {
        if k == "Body" {
            *v = "STOP".into();
        }
    }
    let body = form_body(&params);
    let unsigned = twilio_posts(&url, &body, "");
    assert_eq!(unsigned.status, 401);
    let r = twilio_posts(&url, &body, &twilio_signature(&url, &params));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml"));
    assert!(r.body.contains("<Response/>"));

    // The citizen opted out: an everyday message is suppressed.
    let r = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"x"}),
        &[],
    );
    assert_eq!(r.json()["status"], "suppressed");
}
