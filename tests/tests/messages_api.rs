//! `/v1/messages` end to end: the real host, the real components, the development outbox.

use integration_tests::gateway::{Gateway, KEY, OTHER_KEY, steps};
use integration_tests::http;
use serde_json::json;
use std::io::{Read, Write};

/// Writes raw bytes to the gateway and returns what it answered before closing.
fn raw_exchange(base: &str, request: &str) -> String {
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn an_sms_is_accepted_delivered_to_the_outbox_and_its_history_readable() {
    let gw = Gateway::start();
    let response = gw.send(KEY, &json!({"channel":"sms","to":"+254 712 345 678","body":"Clinic tomorrow 9:00","reference":"visit-17"}), &[]);
    assert_eq!(response.status, 202, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let accepted = response.json();
    assert_eq!(accepted["status"], "accepted");
    let id = accepted["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("msg_"));

    let view = gw.wait_status(&id, "delivered");
    assert_eq!(view["channel"], "sms");
    assert_eq!(view["reference"], "visit-17");
    let steps = steps(&view);
    assert_eq!(steps, ["accepted", "queued", "sent", "delivered"]);
    assert!(view["history"][0]["at"].as_str().unwrap().ends_with('Z'));

    let outbox = gw.outbox_entries();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        outbox[0]["to"], "+254712345678",
        "the number is normalised to E.164"
    );
    assert_eq!(outbox[0]["body"], "Clinic tomorrow 9:00");
}

#[test]
fn an_sms_shows_its_encoding_and_segments_and_an_overlong_one_is_refused() {
    let gw = Gateway::start();
    let body = "Чанjaо: ваш визит завтра в 9:00. ".repeat(3);
    let response = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":body}),
        &[],
    );
    assert_eq!(response.status, 202, "{}", response.body);
    assert_eq!(
        response.json()["sms"],
        json!({"encoding": "ucs2", "count": 2})
    );
    let id = response.json()["id"].as_str().unwrap().to_string();
    let view = gw.wait_status(&id, "delivered");
    assert_eq!(view["sms"], json!({"encoding": "ucs2", "count": 2}));

    let long = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"a".repeat(1531)}),
        &[],
    );
    assert_eq!(long.status, 400);
    assert!(
        long.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("11 SMS")
    );
}

#[test]
fn an_email_goes_to_the_outbox_with_its_subject() {
    let gw = Gateway::start();
    let response = gw.send(KEY, &json!({"channel":"email","to":"amina@example.org","subject":"Your appointment","body":"See you at 9."}), &[]);
    assert_eq!(response.status, 202, "{}", response.body);
    let id = response.json()["id"].as_str().unwrap().to_string();
    gw.wait_status(&id, "delivered");
    let outbox = gw.outbox_entries();
    assert_eq!(outbox[0]["subject"], "Your appointment");
    assert_eq!(outbox[0]["channel"], "email");
}

#[test]
fn after_delivery_neither_address_nor_content_remains_in_the_store_or_logs() {
    let gw = Gateway::start();
    let body = "Secret result: negative";
    let id = gw.accept(json!({"channel":"sms","to":"+254711000222","body":body}));
    gw.wait_status(&id, "delivered");
    for (store, key, value) in gw.stored_rows() {
        let value = String::from_utf8_lossy(&value);
        for secret in ["254711000222", "Secret result"] {
            assert!(
                !key.contains(secret) && !value.contains(secret),
                "{store}/{key} keeps {secret:?}: {value}"
            );
        }
    }
    let logs = gw.logs();
    assert!(logs.contains(&id), "the logs should mention the message id");
    assert!(
        !logs.contains("254711000222") && !logs.contains("Secret result"),
        "logs leak personal data:\n{logs}"
    );
}

#[test]
fn the_same_idempotency_key_returns_the_same_id_and_sends_once() {
    let gw = Gateway::start();
    let body = json!({"channel":"sms","to":"+254712345678","body":"Once only"});
    let first = gw.send(KEY, &body, &[("idempotency-key", "order-42")]);
    let second = gw.send(KEY, &body, &[("idempotency-key", "order-42")]);
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(first.json()["id"], second.json()["id"]);
    let id = first.json()["id"].as_str().unwrap().to_string();
    gw.wait_status(&id, "delivered");
    // Another caller using the same key string gets its own message.
    let other = gw.send(OTHER_KEY, &body, &[("idempotency-key", "order-42")]);
    assert_ne!(other.json()["id"], first.json()["id"]);
    integration_tests::wait_for(10, "two outbox entries", || {
        (gw.outbox_entries().len() == 2).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        gw.outbox_entries().len(),
        2,
        "the repeated request must not send again"
    );
}

#[test]
fn a_caller_sees_only_its_own_messages() {
    let gw = Gateway::start();
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Mine"}));
    let theirs = gw.status(OTHER_KEY, &id);
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.error_code(), "not_found");
    assert_eq!(gw.status(KEY, &id).status, 200);
    assert_eq!(gw.status(KEY, "msg_0000000000000000000000000a").status, 404);
    assert_eq!(gw.status(KEY, "not-an-id").status, 404);
}

#[test]
fn credentials_are_required_and_checked_in_every_documented_header() {
    let gw = Gateway::start();
    let url = format!("{}/v1/messages", gw.base);
    let body = json!({"channel":"sms","to":"+254712345678","body":"x"}).to_string();
    let json_ct = ("content-type", "application/json");
    let none = http::request("POST", &url, &[json_ct], Some(body.as_bytes()));
    assert_eq!(
        (none.status, none.error_code().as_str()),
        (401, "unauthorized")
    );
    let wrong = http::request(
        "POST",
        &url,
        &[json_ct, ("authorization", "Bearer nope")],
        Some(body.as_bytes()),
    );
    assert_eq!(wrong.status, 401);
    for header in ["apiKey", "api_key"] {
        // Different bodies: the same request twice would be one message (MHASH).
        let body = json!({"channel":"sms","to":"+254712345678","body":header}).to_string();
        let ok = http::request(
            "POST",
            &url,
            &[json_ct, (header, KEY)],
            Some(body.as_bytes()),
        );
        assert_eq!(ok.status, 202, "{header}: {}", ok.body);
    }
    assert!(
        gw.stored_rows()
            .iter()
            .filter(|(s, k, _)| s == "default" && k.ends_with("/status/accepted"))
            .count()
            == 2
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let gw = Gateway::start();
    let cases = [
        (
            json!({"channel":"sms","to":"0712345678","body":"x"}),
            422,
            "invalid_phone_number",
        ),
        (
            json!({"channel":"email","to":"not-an-address","body":"x"}),
            422,
            "invalid_email_address",
        ),
        (
            json!({"channel":"pigeon","to":"+254712345678","body":"x"}),
            422,
            "unknown_channel",
        ),
        (
            json!({"channel":"sms","to":"+254712345678"}),
            400,
            "invalid_request",
        ),
        (
            json!({"channel":"sms","to":"+254712345678","body":"x","policy":"no-such-policy"}),
            422,
            "unknown_policy",
        ),
        (
            json!({"channel":"email","to":"a@b.org","body":"x","subject":"a\r\nBcc: x@y.org"}),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let response = gw.send(KEY, &body, &[]);
        assert_eq!(
            (response.status, response.error_code().as_str()),
            (status, code),
            "{body}"
        );
        assert!(
            !response.body.contains("0712345678"),
            "errors must not echo the address"
        );
    }
    let url = format!("{}/v1/messages", gw.base);
    let auth = ("apiKey", KEY);
    let bad_json = http::request(
        "POST",
        &url,
        &[auth, ("content-type", "application/json")],
        Some(b"{\"channel\": "),
    );
    assert_eq!(
        (bad_json.status, bad_json.error_code().as_str()),
        (400, "invalid_json")
    );
    let form = http::request(
        "POST",
        &url,
        &[auth, ("content-type", "application/x-www-form-urlencoded")],
        Some(b"a=b"),
    );
    assert_eq!(form.status, 415);
    // An oversized body is refused from its Content-Length, before it is read.
    let too_big = raw_exchange(
        &gw.base,
        &format!(
            "POST /v1/messages HTTP/1.1\r\nhost: x\r\napikey: {KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            2 << 20
        ),
    );
    assert!(too_big.starts_with("HTTP/1.1 413"), "{too_big}");
    assert!(too_big.contains("payload_too_large"));
    // Within the transport limit but over the API's own limit.
    let large = json!({"channel":"sms","to":"+254712345678","body":"a".repeat(100_000)});
    let large = gw.send(KEY, &large, &[]);
    assert_eq!(
        (large.status, large.error_code().as_str()),
        (413, "payload_too_large")
    );
    let bad_key = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"x"}),
        &[("idempotency-key", "")],
    );
    assert_eq!(bad_key.status, 400);
    assert!(
        gw.stored_rows().is_empty(),
        "refused requests stored something: {:?}",
        gw.stored_rows().iter().map(|r| &r.1).collect::<Vec<_>>()
    );
    assert!(gw.outbox_entries().is_empty());
}

#[test]
fn wrong_methods_and_unknown_routes_get_json_errors() {
    let gw = Gateway::start();
    let delete = http::request(
        "DELETE",
        &format!("{}/v1/messages", gw.base),
        &[("apiKey", KEY)],
        None,
    );
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("POST"));
    assert_eq!(delete.error_code(), "method_not_allowed");
    let unknown = http::request("GET", &format!("{}/elsewhere", gw.base), &[], None);
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (404, "not_found")
    );
    // Delivery cells are private: not reachable from outside.
    let private = http::request("POST", &format!("{}/dispatch", gw.base), &[], Some(b"{}"));
    assert_eq!(private.status, 404);
}

#[test]
fn messages_survive_a_restart_of_the_host() {
    let gw = Gateway::start();
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Persisted"}));
    gw.wait_status(&id, "delivered");
    let gw = gw.restart();
    let view = gw.status(KEY, &id);
    assert_eq!(view.status, 200);
    assert_eq!(view.json()["status"], "delivered");
}

#[test]
fn sigterm_stops_the_host_cleanly() {
    let mut gw = Gateway::start();
    assert!(
        gw.terminate(),
        "the host should exit with success on SIGTERM:\n{}",
        gw.logs()
    );
}

#[test]
fn concurrent_requests_with_one_idempotency_key_create_one_message() {
    let gw = std::sync::Arc::new(Gateway::start());
    let body = json!({"channel":"sms","to":"+254712345678","body":"Raced"});
    const ROUNDS: usize = 5;
    const RACERS: usize = 24;
    for round in 0..ROUNDS {
        let key = format!("race-{round}");
        let start = std::sync::Arc::new(std::sync::Barrier::new(RACERS));
        let ids: Vec<String> = (0..RACERS)
            .map(|_| {
                let (gw, body, key, start) = (gw.clone(), body.clone(), key.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let response = gw.send(KEY, &body, &[("idempotency-key", &key)]);
                    assert_eq!(response.status, 202, "{}", response.body);
                    response.json()["id"].as_str().unwrap().to_string()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "round {round}: different ids: {ids:?}"
        );
        gw.wait_status(&ids[0], "delivered");
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(gw.outbox_entries().len(), ROUNDS, "one message per key");
    let records = gw
        .stored_rows()
        .into_iter()
        .filter(|(s, k, _)| s == "default" && k.starts_with("msg/") && k.matches('/').count() == 1)
        .count();
    assert_eq!(records, ROUNDS);
}

/// A burst of callers at once (a district office's batch job, 600 connections) is queued,
/// not failed: the host serves a bounded number of requests at a time, each until its
/// instance has finished handing the message on, so the instance pool never runs out
/// (before, such a burst got 500s once about a thousand instances were alive).
#[test]
fn a_burst_of_600_concurrent_requests_is_queued_and_every_message_accepted() {
    let gw = Gateway::start();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..600)
            .map(|i| {
                let gw = &gw;
                scope.spawn(move || {
                    let body = json!({"channel": "sms", "to": "+254712345678", "body": format!("Burst {i}")});
                    gw.send(KEY, &body, &[]).status
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let refused: Vec<&u16> = statuses.iter().filter(|&&s| s != 202).collect();
    assert!(
        refused.is_empty(),
        "{} not accepted: {refused:?}",
        refused.len()
    );
    integration_tests::wait_for(120, "600 messages in the outbox", || {
        (gw.outbox_entries().len() == 600).then_some(())
    });
    assert!(!gw.logs().contains("component failed"), "{}", gw.logs());
}
