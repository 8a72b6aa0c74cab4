//! Status changes of `/v1` messages reach the caller's `callback_url` (the final one, or
//! all with `callback_events`): signed, at least once, without address or content, and
//! only on hosts the deployment allows.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::verify_callback_signature;
use serde_json::{Value, json};

/// The final status reaches `callback_url` by default; `"callback_events": "all"` also
/// brings every step before it.
#[test]
fn the_final_status_is_posted_to_its_callback_url_and_every_status_when_asked() {
    let callback = Recorder::start();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
    ]);
    let send = |path: &str, extra: Value| {
        let mut body = json!({
            "channel": "sms",
            "to": "+254712345678",
            "body": "Your clinic visit is tomorrow",
            "reference": "visit-17",
            "callback_url": format!("{}/{path}", callback.url),
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        gw.accept(body)
    };
    // A misspelt choice, or a choice without a URL, is refused and stores nothing.
    let before = gw.data_rows();
    for (bad, names_the_field) in [
        (
            json!({"channel": "sms", "to": "+254712345678", "body": "x",
                   "callback_url": format!("{}/x", callback.url), "callback_events": "every"}),
            true,
        ),
        (
            json!({"channel": "sms", "to": "+254712345678", "body": "x", "callback_events": "all"}),
            true,
        ),
        (
            json!({"channel": "sms", "to": "+254712345678", "body": "x",
                   "callback_url": format!("{}/x", callback.url), "callback_events": ["all"]}),
            false,
        ),
    ] {
        let answer = gw.send(KEY, &bad, &[]);
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
        assert_eq!(answer.error_code(), "invalid_request", "{bad}");
        assert!(
            !names_the_field || answer.body.contains("callback_events"),
            "{}",
            answer.body
        );
    }
    assert_eq!(gw.data_rows(), before, "refused requests store nothing");
    let final_only = send("final", json!({}));
    let every = send("all", json!({"callback_events": "all"}));
    gw.wait_status(&final_only, "delivered");
    gw.wait_status(&every, "delivered");
    let got = integration_tests::wait_for(10, "three status callbacks", || {
        let got = callback.received();
        (got.len() >= 3).then_some(got)
    });
    let secret = gw.callback_secret(KEY);
    let mut statuses: Vec<(String, String)> = Vec::new();
    for request in &got {
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
        let id = if request.path == "/final" {
            &final_only
        } else {
            &every
        };
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["reference"], "visit-17");
        assert_eq!(body["channel"], "sms");
        let text = String::from_utf8_lossy(&request.body);
        assert!(!text.contains("712345678") && !text.contains("clinic visit"));
        statuses.push((
            request.path.clone(),
            body["status"].as_str().unwrap().to_string(),
        ));
    }
    // Both messages are delivered and every callback they queue is sent: none still
    // waits once the notifications are erased.
    integration_tests::wait_for(10, "delivered notifications to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")))
        .then_some(())
    });
    statuses.extend(callback.received()[got.len()..].iter().map(|r| {
        (
            r.path.clone(),
            serde_json::from_slice::<Value>(&r.body).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }));
    statuses.sort();
    let expected: Vec<(String, String)> = [
        ("/all", "delivered"),
        ("/all", "sent"),
        ("/final", "delivered"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    assert_eq!(statuses, expected);
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
        "callback_events": "all",
    }));
    gw.wait_status(&id, "delivered");
    // Both callbacks (sent, delivered) are refused, each once.
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
