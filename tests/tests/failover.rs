//! Failover between SMS providers (policy `cells`): Twilio's double deferring or refusing,
//! Africa's Talking's double as the backup. The message reaches exactly one provider
//! that takes it, and its attempt history shows the way.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use serde_json::{Value, json};

const FAST_FAILOVER: &str = r#"
roles = ["*"]
validity = "1h"

[channels.sms]
cells = ["deliver-sms", "deliver-sms-backup"]
failover_after = 2
"#;

fn fixture(provider: &str, name: &str) -> String {
    integration_tests::provider_fixture(provider, name)
}

fn gateway(twilio: &Recorder, africastalking: &Recorder) -> Gateway {
    Gateway::start_with_policies(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[
                ("sms_backup_provider", "africastalking"),
                ("africastalking_url", &africastalking.url),
                ("africastalking_username", "sandbox"),
                ("africastalking_api_key", "key"),
                ("retry_base_ms", "300"),
            ],
        ]
        .concat(),
        &[("fast-failover.toml", FAST_FAILOVER)],
    )
}

fn outcomes(view: &Value) -> Vec<(String, String)> {
    view["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["cell"].as_str().unwrap().to_string(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(cell: &str, outcome: &str) -> (String, String) {
    (cell.to_string(), outcome.to_string())
}

#[test]
fn a_deferring_provider_fails_over_to_the_backup_which_sends_once() {
    let twilio = Recorder::start();
    twilio.answer_json(503, "{}");
    let africastalking = Recorder::start();
    africastalking.answer_json(201, &fixture("africastalking", "send_response.json"));
    let gw = gateway(&twilio, &africastalking);
    let id = gw
        .accept(json!({"channel":"sms","to":"+254712345678","body":"x","policy":"fast-failover"}));
    let view = gw.wait_status(&id, "sent");
    assert_eq!(
        outcomes(&view),
        [
            pair("deliver-sms", "deferred"),
            pair("deliver-sms", "deferred"),
            pair("deliver-sms-backup", "sent")
        ]
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        twilio.received().len(),
        2,
        "no attempt on the first provider after failover"
    );
    assert_eq!(
        africastalking.received().len(),
        1,
        "the backup sent it once"
    );
    assert!(!gw.holds_payload());
}

#[test]
fn a_refusal_fails_over_at_once_and_the_last_refusal_fails_the_message() {
    let twilio = Recorder::start();
    twilio.answer_json(400, &fixture("twilio", "error_21211.json"));
    let africastalking = Recorder::start();
    africastalking.answer_json(
        201,
        &fixture("africastalking", "send_response_invalid_number.json"),
    );
    let gw = gateway(&twilio, &africastalking);
    let id = gw
        .accept(json!({"channel":"sms","to":"+254712345678","body":"x","policy":"fast-failover"}));
    let view = gw.wait_status(&id, "failed");
    assert_eq!(
        outcomes(&view),
        [
            pair("deliver-sms", "refused"),
            pair("deliver-sms-backup", "refused")
        ]
    );
    assert!(
        view["attempts"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("21211")
    );
    assert_eq!(twilio.received().len(), 1);
    assert_eq!(africastalking.received().len(), 1);
    assert_eq!(gw.status(KEY, &id).json()["status"], "failed");
}

const SMS_THEN_EMAIL: &str = r#"
roles = ["*"]
validity = "1h"

[channels.sms]
cell = "deliver-sms"
fallback = "email"

[channels.email]
cell = "deliver-email"
"#;

#[test]
fn when_every_sms_provider_refuses_the_message_falls_back_to_email() {
    let twilio = Recorder::start();
    twilio.answer_json(400, &fixture("twilio", "error_21211.json"));
    let gw = Gateway::start_with_policies(
        &twilio::sms_vars(&twilio.url),
        &[("sms-then-email.toml", SMS_THEN_EMAIL)],
    );
    let id = gw.accept(json!({
        "channel": "sms", "to": "+254712345678", "body": "Your results are ready",
        "policy": "sms-then-email",
        "fallback": {"channel": "email", "to": "amina@example.org", "subject": "Clinic results"}
    }));
    let view = gw.wait_status(&id, "delivered");
    assert_eq!(
        outcomes(&view),
        [
            pair("deliver-sms", "refused"),
            pair("deliver-email", "delivered")
        ]
    );
    let outbox = gw.outbox_entries();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["channel"], "email");
    assert_eq!(outbox[0]["to"], "amina@example.org");
    assert_eq!(outbox[0]["subject"], "Clinic results");
    assert_eq!(outbox[0]["body"], "Your results are ready");
    assert!(
        !gw.holds_payload(),
        "both addresses are erased once delivered"
    );

    // The default policy has no fallback: such a request is refused and stores nothing.
    let before = gw.data_rows().len();
    let r = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345678", "body": "x",
                "fallback": {"channel": "email", "to": "amina@example.org"}}),
        &[],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(gw.data_rows().len(), before);
}

const SMS_THEN_TELEGRAM: &str = r#"
roles = ["*"]
validity = "1h"

[channels.sms]
cell = "deliver-sms"
fallback = "telegram"

[channels.telegram]
cell = "deliver-telegram"
"#;

#[test]
fn a_fallback_address_that_opted_out_is_never_used() {
    let twilio = Recorder::start();
    twilio.answer_json(400, &fixture("twilio", "error_21211.json"));
    let gw = Gateway::start_with_policies(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[("telegram_webhook_secret", "secret")],
        ]
        .concat(),
        &[("sms-then-telegram.toml", SMS_THEN_TELEGRAM)],
    );
    // The citizen sends STOP to the bot: the acknowledgement goes to the (outbox) chat.
    let stop = integration_tests::http::request(
        "POST",
        &format!("{}/webhooks/telegram", gw.base),
        &[("x-telegram-bot-api-secret-token", "secret")],
        Some(br#"{"update_id":9,"message":{"message_id":1,"chat":{"id":123456789,"type":"private"},"date":0,"text":"STOP"}}"#),
    );
    assert_eq!(stop.status, 200, "{}", stop.body);
    let id = gw.accept(json!({
        "channel": "sms", "to": "+254712345678", "body": "Your results are ready",
        "policy": "sms-then-telegram",
        "fallback": {"channel": "telegram", "to": "123456789"}
    }));
    let view = gw.wait_status(&id, "failed");
    assert_eq!(outcomes(&view), [pair("deliver-sms", "refused")]);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert!(
        gw.outbox_entries()
            .iter()
            .all(|e| e["body"] != "Your results are ready"),
        "nothing reaches the chat that said STOP"
    );
}

/// SMS first; email too when no receipt says the SMS was delivered in time.
fn sms_then_email_unless_delivered_within(within: &str) -> String {
    format!(
        "roles = [\"*\"]\nvalidity = \"1h\"\n\n[channels.sms]\ncell = \"deliver-sms\"\n\
         fallback = \"email\"\nfallback_unless_delivered_within = \"{within}\"\n\n\
         [channels.email]\ncell = \"deliver-email\"\n"
    )
}

const TWILIO_TOKEN: &str = twilio::AUTH_TOKEN;

fn twilio_gateway(twilio: &Recorder, within: &str) -> Gateway {
    twilio.answer_json(201, &fixture("twilio", "message_created.json"));
    Gateway::start_with_policies(
        &twilio::sms_vars(&twilio.url),
        &[(
            "sms-or-email.toml",
            &sms_then_email_unless_delivered_within(within),
        )],
    )
}

fn accept_with_email_fallback(gw: &Gateway) -> String {
    gw.accept(json!({
        "channel": "sms", "to": "+254712345678", "body": "Your results are ready",
        "policy": "sms-or-email",
        "fallback": {"channel": "email", "to": "amina@example.org", "subject": "Clinic results"}
    }))
}

/// The `StatusCallback` the gateway gave Twilio with the message.
fn status_callback(twilio: &Recorder) -> String {
    let sent = &twilio.received()[0];
    integration_tests::twilio::form_pairs(&String::from_utf8_lossy(&sent.body))
        .into_iter()
        .find_map(|(k, v)| (k == "StatusCallback").then_some(v))
        .expect("a StatusCallback")
}

fn stored_text(gw: &Gateway) -> String {
    gw.stored_rows()
        .iter()
        .map(|(_, _, v)| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn an_sms_not_reported_delivered_in_time_goes_by_email_too() {
    let twilio = Recorder::start();
    let gw = twilio_gateway(&twilio, "5s");
    let id = accept_with_email_fallback(&gw);
    gw.wait_status(&id, "sent");
    // While it waits for the receipt, the gateway keeps the content and the fallback
    // address, sealed, and no longer the phone number the provider has.
    assert!(gw.holds_payload(), "the fallback is kept");
    let held = stored_text(&gw);
    assert!(!held.contains("amina@example.org"), "sealed at rest");
    assert!(!held.contains("254712345678"), "the SMS address is erased");
    assert!(
        gw.outbox_entries().is_empty(),
        "no email before the deadline"
    );

    let view = gw.wait_status(&id, "delivered");
    assert_eq!(
        outcomes(&view),
        [
            pair("deliver-sms", "sent"),
            pair("deliver-sms", "undelivered"),
            pair("deliver-email", "delivered")
        ]
    );
    assert_eq!(view["attempts"][1]["reason"], "not delivered within 5s");
    let outbox = gw.outbox_entries();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0]["to"], "amina@example.org");
    assert_eq!(outbox[0]["body"], "Your results are ready");
    assert_eq!(twilio.received().len(), 1, "the SMS is not sent again");
    assert!(!gw.holds_payload());
}

#[test]
fn a_delivery_receipt_in_time_cancels_the_fallback() {
    let twilio = Recorder::start();
    let gw = twilio_gateway(&twilio, "3s");
    let id = accept_with_email_fallback(&gw);
    gw.wait_status(&id, "sent");
    let r = integration_tests::twilio::report_status(
        TWILIO_TOKEN,
        &status_callback(&twilio),
        "delivered",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    gw.wait_status(&id, "delivered");
    assert!(!gw.holds_payload(), "delivered: nothing readable is kept");
    // Past the deadline, the fallback cell's tick finds nothing to do.
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(
        gw.outbox_entries().is_empty(),
        "no email for a delivered SMS"
    );
    let view = gw.status(KEY, &id).json();
    assert_eq!(outcomes(&view), [pair("deliver-sms", "sent")]);
    assert_eq!(view["status"], "delivered");
}

#[test]
fn a_failure_report_starts_the_fallback_at_once() {
    let twilio = Recorder::start();
    let gw = twilio_gateway(&twilio, "1h");
    let id = accept_with_email_fallback(&gw);
    gw.wait_status(&id, "sent");
    let callback = status_callback(&twilio);
    let forged = integration_tests::twilio::report_status("not-the-token", &callback, "failed");
    assert_eq!(forged.status, 401);
    let r = integration_tests::twilio::report_status(TWILIO_TOKEN, &callback, "undelivered");
    assert_eq!(r.status, 200, "{}", r.body);
    let view = gw.wait_status(&id, "delivered");
    assert_eq!(
        outcomes(&view),
        [
            pair("deliver-sms", "sent"),
            pair("deliver-sms", "undelivered"),
            pair("deliver-email", "delivered")
        ]
    );
    assert_eq!(
        view["attempts"][1]["reason"],
        "the provider reported it undelivered"
    );
    assert_eq!(gw.outbox_entries().len(), 1);
    // Twilio repeats its callback: the fallback is not sent twice.
    integration_tests::twilio::report_status(TWILIO_TOKEN, &callback, "undelivered");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(gw.outbox_entries().len(), 1);
    let view = gw.status(KEY, &id).json();
    assert!(
        !integration_tests::gateway::steps(&view).contains(&"failed".to_string()),
        "a late failure report does not contradict the delivery: {view}"
    );
}
