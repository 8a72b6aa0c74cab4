//! Status changes of `/v1` messages reach the caller's `callback_url`: signed, at least
//! once, without address or content, and only on hosts the deployment allows.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::verify_callback_signature;
use serde_json::{Value, json};

#[test]
fn each_status_a_message_reaches_is_posted_to_its_callback_url() {
    let callback = Recorder::start();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
    ]);
    let id = gw.accept(json!({
        "channel": "sms",
        "to": "+254712345678",
        "body": "Your clinic visit is tomorrow",
        "reference": "visit-17",
        "callback_url": format!("{}/status-updates", callback.url),
    }));
    gw.wait_status(&id, "delivered");
    let got = integration_tests::wait_for(10, "two status callbacks", || {
        let got = callback.received();
        (got.len() >= 2).then_some(got)
    });
    let mut statuses = Vec::new();
    let secret = gw.callback_secret(KEY);
    for request in &got {
        assert_eq!(request.path, "/status-updates");
        assert_eq!(request.header("x-messaging-event"), Some("message.status"));
        assert!(
            verify_callback_signature(
                &secret,
                request.header("x-messaging-signature").unwrap(),
                &request.body
            )
            .is_some()
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["reference"], "visit-17");
        assert_eq!(body["channel"], "sms");
        let text = String::from_utf8_lossy(&request.body);
        assert!(!text.contains("712345678") && !text.contains("clinic visit"));
        statuses.push(body["status"].as_str().unwrap().to_string());
    }
    statuses.sort();
    assert_eq!(statuses, ["delivered", "sent"]);
    integration_tests::wait_for(10, "delivered notifications to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")))
        .then_some(())
    });
}

#[test]
fn a_callback_url_outside_callback_hosts_is_dropped_not_retried() {
    let callback = Recorder::start();
    // Loopback callbacks are allowed here, but callback_hosts keeps its default: only
    // https on port 443.
    let gw = Gateway::start_with(&[("callback_private_networks", "true")]);
    let id = gw.accept(json!({
        "channel": "sms",
        "to": "+254712345678",
        "body": "x",
        "callback_url": callback.url,
    }));
    gw.wait_status(&id, "delivered");
    integration_tests::wait_for(10, "the notifier to refuse the host", || {
        (gw.logs().matches("notify.refused").count() >= 2).then_some(())
    });
    assert!(callback.received().is_empty());
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")),
        "nothing is left to retry"
    );
}

#[test]
fn statuses_and_inbound_messages_are_published_to_the_information_mediators_room() {
    let im = Recorder::start();
    im.answer_json(201, r#"{"id":"3f6c0c1e-5b7a-4b61-9d3c-2a1f0e9b8c7d"}"#);
    let room = format!("{}/r1/DEV/GOV/1234/messaging", im.url);
    let gw = Gateway::start_with_policies(
        &[
            ("im_pubsub_url", &room),
            ("im_client", "DEV/GOV/1234/messaging"),
            ("im_hosts", "http://127.0.0.1:*"),
            ("kannel_inbound_token", "im-test-token"),
        ],
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    );
    let id =
        gw.accept(json!({"channel": "sms", "to": "+254712345678", "body": "Your clinic visit"}));
    gw.wait_status(&id, "delivered");
    let inbound = integration_tests::http::request(
        "GET",
        &format!(
            "{}/webhooks/kannel/inbound/im-test-token?from=254712345678&text=register+Amina",
            gw.base
        ),
        &[],
        None,
    );
    assert_eq!(inbound.status, 200, "{}", inbound.body);

    let events = integration_tests::wait_for(20, "three events in the room", || {
        let got = im.received();
        (got.len() >= 3).then_some(got)
    });
    let mut types = Vec::new();
    for event in &events {
        assert_eq!(event.method, "POST");
        assert_eq!(
            event.header("x-govstack-client"),
            Some("DEV/GOV/1234/messaging")
        );
        let body: Value = serde_json::from_slice(&event.body).unwrap();
        let event_type = body["eventType"].as_str().unwrap().to_string();
        assert_eq!(
            event.path,
            format!("/r1/DEV/GOV/1234/messaging/pub/v1/{event_type}")
        );
        let text = String::from_utf8_lossy(&event.body);
        assert!(!text.contains("712345678") && !text.contains("Amina") && !text.contains("clinic"));
        if event_type == "inboundMessage" {
            assert_eq!(body["event"]["owner"], "registry");
            assert_eq!(body["event"]["keyword"], "REGISTER");
        } else {
            assert_eq!(body["event"]["id"], id.as_str());
        }
        types.push(event_type);
    }
    types.sort();
    assert_eq!(types, ["inboundMessage", "messageStatus", "messageStatus"]);
}

#[test]
fn callback_urls_into_the_gateways_own_network_are_refused_at_once() {
    let gw = Gateway::start();
    let rows = gw.stored_rows().len();
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.1:6379/",
        "https://10.0.0.7/admin",
        "http://[::1]/",
        "http://localhost:3000/v1/messages",
        "http://2130706433/",
    ] {
        let r = gw.send(
            KEY,
            &json!({"channel": "sms", "to": "+254712345678", "body": "x", "callback_url": url}),
            &[],
        );
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert!(r.body.contains("private"), "{}", r.body);
    }
    assert_eq!(gw.stored_rows().len(), rows, "refusals store nothing");
    let ok = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345678", "body": "x",
                "callback_url": "https://registry.health.gov.example/callbacks"}),
        &[],
    );
    assert_eq!(ok.status, 202, "{}", ok.body);
}
