//! The GovStack email API as its specification publishes it (`../shared/govstack/`):
//! single and batch sends, status counts, and the spec's 405 convention for bad input.

use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use integration_tests::http::{self, Response};
use serde_json::{Value, json};

/// The example of `batchRecipientInfo.batchEmailAsBase64` in swagger.yaml: two recipients.
const SPEC_BATCH: &str = "W3sKCSJyZWNpcGllbnRJbmZvIjogewoJCSJlbWFpbCI6ICJjdXN0b21lckBleGFtcGxlLmNvbSIsCgkJImVtYWlsQ0MiOiAiY3VzdG9tZXItY2NAZXhhbXBsZS5jb20iLAoJCSJlbWFpbEJDQyI6ICJjdXN0b21lci1iY2NAZXhhbXBsZS5jb20iLAoJCSJuYW1lIjogIkV4YW1wbGUgQ3VzdG9tZXIiCgl9Cn0sIHsKCSJyZWNpcGllbnRJbmZvIjogewoJCSJlbWFpbCI6ICJkZWFyLWN1c3RvbWVyQGV4YW1wbGUuY29tIiwKCQkibmFtZSI6ICJVbmtub3duIEN1c3RvbWVyIgoJfQp9XQ==";

fn single_body() -> Value {
    json!({
        "callback": {"URI": "https://registry.example.org/callback/emails"},
        "senderInfo": {"organisationName": "Example Medical Institution", "organisationRegNr": "GOV1234567890",
                       "email": "sender@clinic.example.org", "replyTo": "reply-to@clinic.example.org", "name": "Example Doctor"},
        "recipientInfo": {"email": "customer@example.com", "emailCC": "customer-cc@example.com",
                          "emailBCC": "customer-bcc@example.com", "name": "Example Customer"},
        "emailContent": {"encoding": "UTF-8", "title": "Your registration is confirmed", "content": "Please come on Monday at 9:00."}
    })
}

/// The spec's example sender is a clinic's address: the test caller may send from its
/// domain (without `email_senders` only `smtp_from` may be named).
const SENDERS: (&str, &str) = ("email_senders", "registry:@clinic.example.org");

fn gateway() -> Gateway {
    Gateway::start_with(&[SENDERS])
}

/// A refused request: what is wrong with it, its headers, its body.
type BadCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>);

fn post(gw: &Gateway, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    http::request("POST", &format!("{}{path}", gw.base), &all, Some(body))
}

fn status(gw: &Gateway, key: &str, uid: Option<&str>, query: &str) -> Response {
    let mut headers = vec![("apiKey", key)];
    if let Some(uid) = uid {
        headers.push(("requestUid", uid));
    }
    http::request(
        "GET",
        &format!("{}/status/email?{query}", gw.base),
        &headers,
        None,
    )
}

fn accepted_uid(response: &Response) -> String {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    let uid = body["requestUid"].as_str().expect("requestUid").to_string();
    assert_eq!(
        body["requestUID"], body["requestUid"],
        "both spellings carry the same id"
    );
    assert!(body["response"].as_str().is_some());
    uid
}

/// Sends the spec-shaped single email as the test caller; returns its requestUid.
fn send_single(gw: &Gateway) -> String {
    accepted_uid(&post(
        gw,
        "/send/email/single",
        &[("apiKey", KEY)],
        single_body().to_string().as_bytes(),
    ))
}

fn wait_counts(gw: &Gateway, uid: &str, query: &str, expected: Value) {
    integration_tests::wait_for(20, &format!("status {expected}"), || {
        let r = status(gw, KEY, Some(uid), query);
        (r.status == 200 && r.json() == expected).then_some(())
    });
}

#[test]
fn a_single_email_is_sent_with_cc_bcc_and_sender_and_counted_as_delivered() {
    let gw = gateway();
    let uid = send_single(&gw);
    wait_counts(
        &gw,
        &uid,
        "status=delivered&status=bounced",
        json!({"delivered": 1, "bounced": 0}),
    );
    let outbox = gw.outbox_entries();
    assert_eq!(outbox.len(), 1, "one email, even with CC and BCC");
    let entry = &outbox[0];
    assert_eq!(entry["to"], "customer@example.com");
    assert_eq!(entry["subject"], "Your registration is confirmed");
    assert_eq!(entry["email"]["cc"], json!(["customer-cc@example.com"]));
    assert_eq!(entry["email"]["bcc"], json!(["customer-bcc@example.com"]));
    assert_eq!(entry["email"]["reply_to"], "reply-to@clinic.example.org");
    assert_eq!(entry["email"]["sender_name"], "Example Doctor");
    // The organisation fields are not kept: minimal data.
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, _, v)| String::from_utf8_lossy(v).contains("GOV1234567890"))
    );
}

#[test]
fn a_batch_from_the_specs_example_sends_one_email_per_recipient() {
    let gw = gateway();
    let mut body = single_body();
    body["recipientInfo"] = json!({"batchEmailAsBase64": SPEC_BATCH});
    let uid = accepted_uid(&post(
        &gw,
        "/send/email/batch",
        &[("api_key", KEY)],
        body.to_string().as_bytes(),
    ));
    wait_counts(
        &gw,
        &uid,
        "status=delivered&status=processing&status=not%20sent",
        json!({"delivered": 2, "processing": 0, "not sent": 0}),
    );
    let mut to: Vec<String> = gw
        .outbox_entries()
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    to.sort();
    assert_eq!(to, ["customer@example.com", "dear-customer@example.com"]);
}

#[test]
fn either_recipient_shape_and_every_callback_spelling_work_on_both_endpoints() {
    let gw = gateway();
    for path in ["/send/email/single", "/send/email/batch"] {
        for (field, inner) in [
            ("callback", "URI"),
            ("callbackURI", "URI"),
            ("callbackUri", "uri"),
        ] {
            let mut body = single_body();
            body.as_object_mut().unwrap().remove("callback");
            body[field] = json!({ inner: "https://registry.example.org/cb" });
            accepted_uid(&post(
                &gw,
                path,
                &[("apiKey", KEY)],
                body.to_string().as_bytes(),
            ));
        }
        let mut batch = single_body();
        batch["recipientInfo"] = json!({"batchEmailAsBase64": SPEC_BATCH});
        accepted_uid(&post(
            &gw,
            path,
            &[("apiKey", KEY)],
            batch.to_string().as_bytes(),
        ));
    }
    // 3 single-recipient requests and 1 two-recipient batch, on each endpoint.
    integration_tests::wait_for(20, "ten emails", || {
        (gw.outbox_entries().len() == 10).then_some(())
    });
}

#[test]
fn status_keys_are_the_names_as_sent() {
    let gw = gateway();
    let uid = send_single(&gw);
    wait_counts(
        &gw,
        &uid,
        "status[]=notSent&status=not_sent&status=not%20sent&status=delivered&status=scheduled&status=deferred",
        json!({"notSent": 0, "not_sent": 0, "not sent": 0, "delivered": 1, "scheduled": 0, "deferred": 0}),
    );
}

#[test]
fn invalid_input_answers_405_with_a_json_error_and_stores_nothing() {
    let gw = gateway();
    let good = single_body().to_string();
    let cases: Vec<BadCase> = vec![
        ("no api key", vec![], good.clone().into_bytes()),
        ("empty body", vec![("apiKey", KEY)], Vec::new()),
        ("not JSON", vec![("apiKey", KEY)], b"{broken".to_vec()),
        ("no recipient", vec![("apiKey", KEY)], json!({"emailContent": {"title": "t", "content": "c"}}).to_string().into_bytes()),
        ("bad address", vec![("apiKey", KEY)], good.replace("customer@example.com", "not-an-address").into_bytes()),
        ("bad base64", vec![("apiKey", KEY)], json!({"recipientInfo": {"batchEmailAsBase64": "***"}, "emailContent": {"title": "t", "content": "c"}}).to_string().into_bytes()),
    ];
    for (what, headers, body) in cases {
        for path in ["/send/email/single", "/send/email/batch"] {
            let r = post(&gw, path, &headers, &body);
            assert_eq!(r.status, 405, "{what} on {path}: {}", r.body);
            assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
            assert_eq!(r.error_code(), "invalid_input", "{what}");
        }
    }
    let wrong_key = post(
        &gw,
        "/send/email/single",
        &[("apiKey", "not-a-key")],
        good.as_bytes(),
    );
    assert_eq!(wrong_key.status, 401);
    // The one trace of the wrong key: the client address's failure count for this minute
    // (under a keyed hash; `security.rs`), swept once the minute is over.
    let stored = gw.rows_but_auth_failures();
    assert!(
        stored.is_empty(),
        "refused requests stored something: {stored:?}"
    );
    assert!(gw.outbox_entries().is_empty());
}

#[test]
fn status_requires_a_known_request_id_and_a_selection() {
    let gw = gateway();
    let uid = send_single(&gw);
    let missing_uid = status(&gw, KEY, None, "status=delivered");
    assert_eq!(
        (missing_uid.status, missing_uid.error_code().as_str()),
        (405, "invalid_input")
    );
    let unknown = status(
        &gw,
        KEY,
        Some("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"),
        "status=delivered",
    );
    assert_eq!(unknown.status, 405);
    let none_selected = status(&gw, KEY, Some(&uid), "");
    assert_eq!(none_selected.status, 405);
    let unknown_status = status(&gw, KEY, Some(&uid), "status=lost");
    assert_eq!(unknown_status.status, 405);
    let no_key = http::request(
        "GET",
        &format!("{}/status/email?status=delivered", gw.base),
        &[("requestUid", &uid)],
        None,
    );
    assert_eq!(no_key.status, 405);
    // Another caller cannot read this request.
    let other = status(&gw, OTHER_KEY, Some(&uid), "status=delivered");
    assert_eq!(other.status, 405);
    let upper = http::request(
        "GET",
        &format!("{}/status/email?status=delivered", gw.base),
        &[("apiKey", KEY), ("requestUID", &uid)],
        None,
    );
    assert_eq!(
        upper.status, 200,
        "the requestUID spelling is accepted too: {}",
        upper.body
    );
}

#[test]
fn wrong_methods_answer_405_with_allow() {
    let gw = gateway();
    for (method, path, allow) in [
        ("GET", "/send/email/single", "POST"),
        ("PUT", "/send/email/batch", "POST"),
        ("POST", "/status/email", "GET"),
    ] {
        let r = http::request(
            method,
            &format!("{}{path}", gw.base),
            &[("apiKey", KEY)],
            None,
        );
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

fn gateway_with_callbacks() -> Gateway {
    Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
        SENDERS,
    ])
}

fn request_with_callback(gw: &Gateway, callback: &str) -> String {
    let mut body = single_body();
    body["callback"] = json!({"URI": callback});
    accepted_uid(&post(
        gw,
        "/send/email/single",
        &[("apiKey", KEY)],
        body.to_string().as_bytes(),
    ))
}

fn stored_replies(gw: &Gateway) -> usize {
    gw.stored_rows()
        .iter()
        .filter(|(_, k, _)| k.starts_with("govstack/reply/"))
        .count()
}

/// Whether any stored value still holds `text` (a reply's content, say), once opened;
/// in clear, none may.
fn store_holds(gw: &Gateway, text: &str) -> bool {
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, _, v)| String::from_utf8_lossy(v).contains(text)),
        "{text} is stored in clear"
    );
    gw.opened_rows()
        .iter()
        .any(|(_, _, v)| String::from_utf8_lossy(v).contains(text))
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_reply_reaches_the_requests_callback_signed_and_its_content_is_then_erased() {
    let callback = integration_tests::recorder::Recorder::start();
    let gw = gateway_with_callbacks();
    let uid = request_with_callback(&gw, &format!("{}/callback/emails", callback.url));
    let reply = json!({"meta": "reply-to-registration", "content": "WWVzLCBJIHdpbGwgY29tZQ=="});
    let r = post(
        &gw,
        "/callback/email",
        &[("apiKey", KEY), ("requestUid", &uid)],
        reply.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let received = integration_tests::wait_for(10, "the callback to receive the reply", || {
        let got = callback.received();
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/callback/emails");
    assert_eq!(got.header("requestUid"), Some(uid.as_str()));
    assert_eq!(got.header("x-messaging-event"), Some("govstack.reply"));
    assert!(
        got.header("x-messaging-notification-id")
            .is_some_and(|id| id.starts_with("ntf_"))
    );
    // The documented scheme, recomputed here independently of the gateway's code.
    let signature = got.header("x-messaging-signature").expect("signed");
    let t = integration_tests::verify_callback_signature(
        &gw.callback_secret(KEY),
        signature,
        &got.body,
    )
    .expect("a valid t=<seconds>,v1=<hex> signature over the body");
    assert!(now_s().abs_diff(t) < 60);
    let forwarded: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(forwarded["requestUid"], uid.as_str());
    assert_eq!(forwarded["meta"], "reply-to-registration");
    assert_eq!(forwarded["content"], "WWVzLCBJIHdpbGwgY29tZQ==");
    integration_tests::wait_for(10, "the delivered content to be erased", || {
        (!store_holds(&gw, "WWVzLCBJIHdpbGwgY29tZQ==")).then_some(())
    });
    assert_eq!(stored_replies(&gw), 1, "the reply itself stays recorded");
}

#[test]
fn a_reply_whose_callback_fails_is_retried_until_accepted() {
    let callback = integration_tests::recorder::Recorder::start();
    callback.answer_with(503);
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
        ("retry_base_ms", "300"),
        SENDERS,
    ]);
    let uid = request_with_callback(&gw, &callback.url);
    let reply = json!({"meta": "m", "content": "aGVsbG8gYWdhaW4="});
    let r = post(
        &gw,
        "/callback/email",
        &[("api_key", KEY), ("requestUID", &uid)],
        reply.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    integration_tests::wait_for(20, "two refused attempts", || {
        (callback.received().len() >= 2).then_some(())
    });
    assert!(
        store_holds(&gw, "aGVsbG8gYWdhaW4="),
        "an undelivered reply is not lost"
    );
    callback.answer_with(200);
    integration_tests::wait_for(20, "the content to be erased after delivery", || {
        (!store_holds(&gw, "aGVsbG8gYWdhaW4=")).then_some(())
    });
    let attempts = callback.received();
    let ids: std::collections::HashSet<_> = attempts
        .iter()
        .map(|a| a.header("x-messaging-notification-id").unwrap().to_string())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "every attempt carries the same notification id"
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        callback.received().len(),
        attempts.len(),
        "nothing is sent after the callback accepted"
    );
}

#[test]
fn a_reply_without_a_callback_is_kept_with_its_content() {
    let gw = gateway();
    let uid = send_single(&gw);
    let reply = json!({"meta": "m", "content": "a2VlcCBtZQ=="});
    let r = post(
        &gw,
        "/callback/email",
        &[("apiKey", KEY), ("requestUid", &uid)],
        reply.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stored_replies(&gw), 1);
    assert!(store_holds(&gw, "a2VlcCBtZQ=="));
}

#[test]
fn bad_replies_answer_405_and_change_nothing() {
    let gw = gateway_with_callbacks();
    let uid = request_with_callback(&gw, "http://127.0.0.1:9/unused");
    let good = json!({"meta": "m", "content": "aGVsbG8="}).to_string();
    let cases: Vec<BadCase> = vec![
        (
            "no api key",
            vec![("requestUid", &uid)],
            good.clone().into_bytes(),
        ),
        (
            "no request id",
            vec![("apiKey", KEY)],
            good.clone().into_bytes(),
        ),
        (
            "unknown request id",
            vec![
                ("apiKey", KEY),
                ("requestUid", "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ"),
            ],
            good.clone().into_bytes(),
        ),
        (
            "another caller's request",
            vec![("apiKey", OTHER_KEY), ("requestUid", &uid)],
            good.clone().into_bytes(),
        ),
        (
            "empty body",
            vec![("apiKey", KEY), ("requestUid", &uid)],
            Vec::new(),
        ),
        (
            "content not base64",
            vec![("apiKey", KEY), ("requestUid", &uid)],
            json!({"meta": "m", "content": "***"})
                .to_string()
                .into_bytes(),
        ),
    ];
    for (what, headers, body) in cases {
        let r = post(&gw, "/callback/email", &headers, &body);
        assert_eq!(r.status, 405, "{what}: {}", r.body);
        assert_eq!(r.error_code(), "invalid_input", "{what}");
    }
    let get = http::request(
        "GET",
        &format!("{}/callback/email", gw.base),
        &[("apiKey", KEY)],
        None,
    );
    assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
    assert_eq!(stored_replies(&gw), 0);
}
