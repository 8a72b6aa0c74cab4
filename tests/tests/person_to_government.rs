//! Person to government over SMS: a real Kannel whose fake SMSC plays the citizen's phone.
//! STOP and START, answers to reminders, and messages routed to the owning system by
//! callback or for polling.

use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use integration_tests::http;
use integration_tests::kannel::{self, Kannel};
use integration_tests::recorder::Recorder;
use integration_tests::{free_port, wait_for};
use serde_json::{Value, json};

const TOKEN: &str = "kannel-inbound-test-token";
const PHONE: &str = "+254712345678";

/// Kannel delivering phones' SMS to the gateway, and the gateway sending through Kannel.
fn setup(policies: &[(&str, &str)]) -> (Kannel, Gateway) {
    let port = free_port();
    let kannel = Kannel::start_with_inbound(&format!(
        "http://127.0.0.1:{port}/webhooks/kannel/inbound/{TOKEN}"
    ));
    let gw = Gateway::start_on(
        port,
        &[
            ("sms_provider", "kannel"),
            ("kannel_url", &kannel.sendsms_url),
            ("kannel_username", kannel::USERNAME),
            ("kannel_password", kannel::PASSWORD),
            ("kannel_inbound_token", TOKEN),
            ("callback_hosts", "http://127.0.0.1:*"),
            ("callback_private_networks", "true"),
            ("retry_base_ms", "300"),
        ],
        policies,
    );
    (kannel, gw)
}

/// Waits until the phone got a message containing `text`.
fn phone_receives(kannel: &Kannel, text: &str) {
    wait_for(20, &format!("the phone to receive {text:?}"), || {
        kannel
            .received()
            .iter()
            .any(|(to, body)| to.ends_with("712345678") && body.contains(text))
            .then_some(())
    });
}

fn sms(body: &str) -> Value {
    json!({"channel": "sms", "to": PHONE, "body": body})
}

const ALERTS: &str = r#"
description = "Emergency alerts"
roles = ["*"]
validity = "1h"
priority = "emergency"

[channels.sms]
cell = "deliver-sms"
"#;

#[test]
fn stop_suppresses_everyday_messages_but_not_alerts_and_start_resubscribes() {
    let (mut kannel, gw) = setup(&[("alerts.toml", ALERTS)]);
    kannel.phone_sends(PHONE, "Stop");
    phone_receives(&kannel, "Reply START");
    // The gateway's own acknowledgement is in the audit trail, as a caller's message is.
    let acknowledged = gw.stored_rows().iter().any(|(_, key, value)| {
        key.starts_with("audit/")
            && serde_json::from_slice::<Value>(value)
                .is_ok_and(|e| e["event"] == "message.accepted" && e["source"] == "caller:gateway")
    });
    assert!(acknowledged, "the acknowledgement's acceptance is audited");

    let r = gw.send(KEY, &sms("Your clinic visit is tomorrow"), &[]);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["status"], "suppressed");
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(gw.status(KEY, &id).json()["status"], "suppressed");

    let mut alert = sms("Flood warning: move to high ground");
    alert["policy"] = "alerts".into();
    let alert_id = gw.accept(alert);
    gw.wait_status(&alert_id, "delivered");
    phone_receives(&kannel, "Flood warning");
    assert!(
        !kannel
            .received()
            .iter()
            .any(|(_, body)| body.contains("clinic visit")),
        "a suppressed message never reaches the phone"
    );

    kannel.phone_sends(PHONE, "START");
    phone_receives(&kannel, "subscribed again");
    let id = gw.accept(sms("Your clinic visit is on Friday"));
    gw.wait_status(&id, "delivered");
    phone_receives(&kannel, "clinic visit is on Friday");
    assert!(
        !gw.logs().contains("712345678"),
        "the logs never hold the number"
    );
}

#[test]
fn an_answer_to_a_reminder_is_recorded_and_sent_to_the_caller() {
    let (mut kannel, gw) = setup(&[]);
    let callback = Recorder::start();
    let mut reminder = sms("Vaccination on Monday 9:00. Will you come? Reply YES or NO");
    reminder["reference"] = "vacc-2031".into();
    reminder["callback_url"] = callback.url.clone().into();
    reminder["expects_reply"] = json!({"options": ["YES", "NO"], "expires_in": "48h"});
    let id = gw.accept(reminder);
    gw.wait_status(&id, "delivered");

    kannel.phone_sends(PHONE, "Ndio, nitakuja");
    let view = wait_for(20, "the answer on the message", || {
        let view = gw.status(KEY, &id).json();
        view.get("reply").is_some().then_some(view)
    });
    assert_eq!(view["reply"]["answer"], "YES");
    let replies = wait_for(20, "the reply callback", || {
        let got: Vec<Value> = callback
            .received()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .filter(|b: &Value| b["event"] == "message.reply")
            .collect();
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(replies[0]["id"], id.as_str());
    assert_eq!(replies[0]["reference"], "vacc-2031");
    assert_eq!(replies[0]["answer"], "YES");
    // The recipient's reminders are one value (one reminder per caller); the answered one
    // leaves it at once, the emptied value goes with the sweep at the reminder's expiry.
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, v)| k.starts_with("conv/") && v.as_slice() != b"[]"),
        "the conversation ends with the answer"
    );
    let reply_key = format!("msg/{id}/reply");
    let stored = gw.stored_rows();
    let (_, _, sealed) = stored
        .iter()
        .find(|(_, k, _)| *k == reply_key)
        .expect("the answer is kept on the reminder");
    assert!(
        !String::from_utf8_lossy(sealed).contains("YES"),
        "the answer is sealed at rest"
    );
}

#[test]
fn an_unanswered_reminder_is_reported_unconfirmed_at_expiry() {
    let callback = Recorder::start();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
    ]);
    let mut reminder = sms("Please confirm your appointment: YES or NO");
    reminder["callback_url"] = callback.url.clone().into();
    reminder["expects_reply"] = json!({"options": ["YES", "NO"], "expires_in": "2s"});
    let id = gw.accept(reminder);
    let event = wait_for(20, "the unconfirmed callback", || {
        callback
            .received()
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .find(|b| b["event"] == "message.unconfirmed")
    });
    assert_eq!(event["id"], id.as_str());
    assert!(gw.status(KEY, &id).json().get("reply").is_none());
}

const ROUTES: &str = r#"
[[route]]
keyword = "REGISTER"
owner = "registry"

[[route]]
keyword = "HELP"
owner = "clinic"
callback_url = "CALLBACK"
"#;

#[test]
fn keyword_routes_deliver_for_polling_or_by_callback_to_their_owner_only() {
    let callback = Recorder::start();
    let routes = ROUTES.replace("CALLBACK", &callback.url);
    let (mut kannel, gw) = setup(&[("inbound/routes.toml", &routes)]);

    kannel.phone_sends(PHONE, "register Amina 2024-03-01");
    let inbound = |key: &str| {
        http::request(
            "GET",
            &format!("{}/v1/inbound", gw.base),
            &[("authorization", &format!("Bearer {key}"))],
            None,
        )
    };
    let items = wait_for(20, "the registry's inbound message", || {
        let items = inbound(KEY).json()["items"].as_array().cloned().unwrap();
        (!items.is_empty()).then_some(items)
    });
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["from"], PHONE);
    assert_eq!(items[0]["text"], "register Amina 2024-03-01");
    assert_eq!(items[0]["keyword"], "REGISTER");
    assert_eq!(
        inbound(OTHER_KEY).json()["items"],
        json!([]),
        "another caller never sees it"
    );
    let id = items[0]["id"].as_str().unwrap();
    let delete = |key: &str| {
        http::request(
            "DELETE",
            &format!("{}/v1/inbound/{id}", gw.base),
            &[("authorization", &format!("Bearer {key}"))],
            None,
        )
    };
    assert_eq!(delete(OTHER_KEY).status, 404);
    assert_eq!(delete(KEY).status, 204);
    assert_eq!(inbound(KEY).json()["items"], json!([]));

    kannel.phone_sends(PHONE, "help my child has fever");
    let got = wait_for(20, "the clinic's callback", || {
        callback.received().into_iter().next()
    });
    assert_eq!(got.header("x-messaging-event"), Some("inbound.message"));
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["text"], "help my child has fever");
    assert_eq!(body["from"], PHONE);
    wait_for(10, "the delivered message to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, _, v)| String::from_utf8_lossy(v).contains("child has fever")))
        .then_some(())
    });
}

#[test]
fn forged_malformed_and_repeated_reports_change_nothing() {
    let gw = Gateway::start_with_policies(
        &[("kannel_inbound_token", TOKEN)],
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    );
    let report = |token: &str, query: &str| {
        http::request(
            "GET",
            &format!("{}/webhooks/kannel/inbound/{token}?{query}", gw.base),
            &[],
            None,
        )
    };
    let stored = || {
        gw.stored_rows()
            .iter()
            .filter(|(_, k, _)| k.starts_with("inbound/") || k.starts_with("optout/"))
            // Records only, not the owner's numbered list of them.
            .filter(|(_, k, _)| !k.contains("/~"))
            .count()
    };
    assert_eq!(
        report("wrong-token", "from=254712345678&text=STOP").status,
        401
    );
    assert_eq!(report(TOKEN, "text=STOP").status, 400);
    assert_eq!(report(TOKEN, "from=not-a-number&text=hi").status, 400);
    assert_eq!(stored(), 0);

    let first = report(TOKEN, "from=254712345678&to=12345&text=hello&id=k-1");
    assert_eq!(first.status, 200, "{}", first.body);
    let again = report(TOKEN, "from=254712345678&to=12345&text=hello&id=k-1");
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "duplicate");
    assert_eq!(stored(), 1, "a repeated report is kept once");
}
