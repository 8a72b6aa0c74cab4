//! SMS through Africa's Talking, against a double that answers with its recorded
//! payloads; the test plays its delivery reports and inbound messages.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::{africastalking, http, provider_fixture, wait_for};
use serde_json::json;

const TOKEN: &str = africastalking::WEBHOOK_TOKEN;

fn fixture(name: &str) -> String {
    provider_fixture("africastalking", name)
}

fn gateway_on(at: &Recorder) -> Gateway {
    Gateway::start_with_policies(
        &[
            africastalking::sms_vars(&at.url).as_slice(),
            &[("africastalking_from", "22384"), ("retry_base_ms", "300")],
        ]
        .concat(),
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    )
}

fn callback(gw: &Gateway, token: &str, kind: &str, form: &str) -> http::Response {
    http::request(
        "POST",
        &format!("{}/webhooks/africastalking/{token}/{kind}", gw.base),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    )
}

#[test]
fn an_sms_goes_out_in_africas_talkings_format_and_its_report_delivers_it() {
    let at = Recorder::start();
    at.answer_json(201, &fixture("send_response.json"));
    let gw = gateway_on(&at);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Karibu kliniki"}));
    gw.wait_status(&id, "sent");

    let sent = &at.received()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/version1/messaging");
    assert_eq!(sent.header("apikey"), Some("at-test-api-key"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        "username=sandbox&to=%2B254712345678&message=Karibu+kliniki&from=22384"
    );

    let report = fixture("delivery_report_success.form");
    assert_eq!(
        callback(&gw, "wrong-token", "delivery", &report).status,
        401
    );
    assert_eq!(gw.status(KEY, &id).json()["status"], "sent");
    let unknown = report.replace("ATXid_9d5b", "ATXid_0000");
    assert_eq!(callback(&gw, TOKEN, "delivery", &unknown).status, 404);
    let r = callback(&gw, TOKEN, "delivery", &report);
    assert_eq!(r.status, 200, "{}", r.body);
    gw.wait_status(&id, "delivered");
}

#[test]
fn refusals_fail_without_logging_the_number_and_outages_defer() {
    let refusing = Recorder::start();
    refusing.answer_json(201, &fixture("send_response_invalid_number.json"));
    let gw = gateway_on(&refusing);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"x"}));
    gw.wait_status(&id, "failed");
    let logs = gw.wait_log("dispatch.failed");
    assert!(logs.contains("InvalidPhoneNumber"));
    assert!(!logs.contains("25471234567"));

    let down = Recorder::start();
    down.answer_json(500, "{}");
    let gw = gateway_on(&down);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"x"}));
    wait_for(20, "two attempts", || {
        (down.received().len() >= 2).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
}

#[test]
fn an_inbound_sms_reaches_its_owner() {
    let at = Recorder::start();
    let gw = gateway_on(&at);
    let form = fixture("inbound_message.form");
    assert_eq!(callback(&gw, "wrong-token", "inbound", &form).status, 401);
    let r = callback(&gw, TOKEN, "inbound", &form);
    assert_eq!(r.status, 200, "{}", r.body);
    let inbound = http::request(
        "GET",
        &format!("{}/v1/inbound", gw.base),
        &[("authorization", &format!("Bearer {KEY}"))],
        None,
    );
    let items = inbound.json()["items"].as_array().cloned().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["from"], "+254712345678");
    assert_eq!(items[0]["text"], "Ndio nitakuja");
    // Africa's Talking retries a callback it thinks failed: the same id is kept once.
    assert_eq!(
        callback(&gw, TOKEN, "inbound", &form).json()["status"],
        "duplicate"
    );
}
