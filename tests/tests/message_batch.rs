//! `POST /v1/messages/batch`: many messages in one request, each answered in its place with
//! its id or its own error; idempotent as a whole; quotas and rate limits count items; and
//! what is not a batch, or comes without the caller's credentials, changes nothing.

use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use integration_tests::http;
use serde_json::{Value, json};

fn sms(to: &str, body: &str) -> Value {
    json!({"channel": "sms", "to": to, "body": body})
}

fn post_batch(gw: &Gateway, key: &str, body: &[u8], extra: &[(&str, &str)]) -> http::Response {
    gw.post_json(key, "/v1/messages/batch", body, extra)
}

fn batch(gw: &Gateway, messages: &[Value], extra: &[(&str, &str)]) -> Vec<Value> {
    let body = json!({ "messages": messages }).to_string();
    let answer = post_batch(gw, KEY, body.as_bytes(), extra);
    assert_eq!(answer.status, 202, "{}", answer.body);
    answer.json()["items"].as_array().expect("items").clone()
}

/// The texts the development outbox holds, sorted.
fn outbox_bodies(gw: &Gateway) -> Vec<String> {
    let mut bodies: Vec<String> = gw
        .outbox_entries()
        .iter()
        .map(|e| e["body"].as_str().unwrap_or_default().to_string())
        .collect();
    bodies.sort();
    bodies
}

#[test]
fn each_item_is_answered_in_its_place_and_the_good_ones_are_delivered() {
    let gw = Gateway::start();
    let items = batch(
        &gw,
        &[
            sms("+254712345678", "first"),
            sms("0712345678", "a number without its country code"),
            json!({"channel": "email", "to": "amina@example.org", "subject": "Visit", "body": "second"}),
            json!({"channel": "sms", "to": "+254712345679", "body": "x", "policy": "no-such-policy"}),
            sms("+254712345670", "third"),
        ],
        &[],
    );
    assert_eq!(items.len(), 5);
    assert_eq!(
        items[1]["error"]["code"], "invalid_phone_number",
        "{items:?}"
    );
    assert_eq!(items[3]["error"]["code"], "unknown_policy", "{items:?}");
    let ids: Vec<String> = [0, 2, 4]
        .iter()
        .map(|&i| {
            assert_eq!(items[i]["status"], "accepted", "{}", items[i]);
            items[i]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(items[0]["sms"]["count"], 1);
    for id in &ids {
        gw.wait_status(id, "delivered");
    }
    assert_eq!(outbox_bodies(&gw), ["first", "second", "third"]);
    // Each message is its caller's alone, as one sent on its own is.
    let theirs = gw.status(OTHER_KEY, &ids[0]);
    assert_eq!(theirs.status, 404);
    assert!(!gw.logs().contains("712345678"), "no number in the logs");
}

#[test]
fn a_repeated_batch_gets_the_same_answer_and_nothing_is_sent_twice() {
    let gw = Gateway::start();
    let messages = [
        sms("+254712345678", "one"),
        sms("+254712345679", "two"),
        sms("bad", "refused"),
    ];
    let key = [("idempotency-key", "batch-2026-12-04-a")];
    let first = batch(&gw, &messages, &key);
    let again = batch(&gw, &messages, &key);
    assert_eq!(first, again, "the same key answers the same ids and errors");
    // Without a key, the same body within the duplicate window is the same request.
    let plain = [sms("+254712345670", "three")];
    let once = batch(&gw, &plain, &[]);
    let twice = batch(&gw, &plain, &[]);
    assert_eq!(once, twice);
    for item in first.iter().take(2).chain(once.iter()) {
        gw.wait_status(item["id"].as_str().unwrap(), "delivered");
    }
    assert_eq!(outbox_bodies(&gw), ["one", "three", "two"]);
}

#[test]
fn the_rate_limit_and_the_daily_quota_count_items() {
    // registry: 1 per second, bursts of 3, and 4 messages a day.
    let gw = Gateway::start_with(&[
        ("caller_rate_limits", "registry:1:3"),
        ("daily_quotas", "registry:4"),
    ]);
    let messages: Vec<Value> = (0..5)
        .map(|i| sms(&format!("+25471234567{i}"), &format!("m{i}")))
        .collect();
    let items = batch(&gw, &messages, &[]);
    let codes: Vec<&str> = items
        .iter()
        .map(|i| i["error"]["code"].as_str().unwrap_or("accepted"))
        .collect();
    assert_eq!(
        codes,
        [
            "accepted",
            "accepted",
            "accepted",
            "rate_limited",
            "rate_limited"
        ]
    );
    assert!(items[3]["error"]["retry_after"].as_u64().unwrap() >= 1);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    // Two tokens again, but one message left of the day's four.
    let items = batch(&gw, &messages[3..], &[]);
    let codes: Vec<&str> = items
        .iter()
        .map(|i| i["error"]["code"].as_str().unwrap_or("accepted"))
        .collect();
    assert_eq!(codes, ["accepted", "quota_exceeded"]);
}

#[test]
fn what_is_no_batch_or_not_the_callers_changes_nothing() {
    let gw = Gateway::start();
    // A wrong key is counted against its origin (auth_failures); nothing else is stored.
    let before = gw.rows_but_auth_failures();
    let one = json!({"messages": [sms("+254712345678", "x")]}).to_string();
    let no_key = http::request(
        "POST",
        &format!("{}/v1/messages/batch", gw.base),
        &[("content-type", "application/json")],
        Some(one.as_bytes()),
    );
    assert_eq!(no_key.status, 401);
    assert_eq!(
        post_batch(&gw, "not-a-key", one.as_bytes(), &[]).status,
        401
    );
    let too_many = json!({"messages": vec![sms("+254712345678", "x"); 1001]}).to_string();
    for (body, status, code) in [
        (b"{\"messages\": [".to_vec(), 400, "invalid_json"),
        (b"{\"messages\": []}".to_vec(), 400, "invalid_request"),
        (b"[{\"channel\": \"sms\"}]".to_vec(), 400, "invalid_request"),
        (too_many.into_bytes(), 400, "invalid_request"),
        (
            vec![b' '; messaging_domain::message_batch::MAX_BODY_BYTES + 1],
            413,
            "payload_too_large",
        ),
    ] {
        let answer = post_batch(&gw, KEY, &body, &[]);
        assert_eq!(answer.status, status, "{}", answer.body);
        assert_eq!(answer.error_code(), code, "{}", answer.body);
    }
    let wrong_type = gw.post_raw(KEY, "/v1/messages/batch", "text/plain", one.as_bytes());
    assert_eq!(wrong_type.status, 415);
    let get = gw.call(KEY, "/v1/messages/batch", None);
    assert_eq!(get.status, 405);
    assert_eq!(
        gw.rows_but_auth_failures(),
        before,
        "refused batches store nothing"
    );
}

/// The batch's messages reach their cell together: with a provider that has a bulk API,
/// the ones of equal text go out in one request, each number once, and each message is
/// recorded and delivered by its own report; a number the provider refuses fails alone.
#[test]
fn equal_texts_go_out_in_one_bulk_request_and_each_message_keeps_its_own_outcome() {
    use integration_tests::africastalking;
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with(&africastalking::sms_vars(&at.url));
    let mut numbers: Vec<String> = (0..6).map(africastalking::accepted_number).collect();
    numbers.push("+254700000100".into()); // the double refuses numbers ending in 00
    let mut messages: Vec<Value> = numbers
        .iter()
        .map(|n| sms(n, "Clinic day is Monday"))
        .collect();
    messages.push(sms(&africastalking::accepted_number(7), "Another text"));
    let items = batch(&gw, &messages, &[]);
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().expect("every item accepted").to_string())
        .collect();
    gw.wait_status(&ids[6], "failed");
    for id in ids[..6].iter().chain(&ids[7..]) {
        gw.wait_status(id, "sent");
    }
    let times = africastalking::times_sent(&at);
    assert_eq!(times.len(), 8, "{times:?}");
    assert!(
        times.values().all(|&n| n == 1),
        "each number once: {times:?}"
    );
    assert!(
        at.received().len() <= 3,
        "equal texts share a request: {} requests for 8 messages",
        at.received().len()
    );
    let report = africastalking::report_delivery(&gw.base, &numbers[2], "Success");
    assert_eq!(report.status, 200, "{}", report.body);
    gw.wait_status(&ids[2], "delivered");
    assert_eq!(gw.status(KEY, &ids[3]).json()["status"], "sent");
}

/// Through Kannel, which takes one SMS per request, every message of a batch reaches the
/// SMSC once and is delivered by its own receipt.
#[test]
fn a_batch_through_kannel_reaches_the_smsc_once_per_message() {
    use integration_tests::kannel::{self, Kannel};
    let kannel = Kannel::start();
    let gw = Gateway::start_with(&[
        ("sms_provider", "kannel"),
        ("kannel_url", &kannel.sendsms_url),
        ("kannel_username", kannel::USERNAME),
        ("kannel_password", kannel::PASSWORD),
    ]);
    let messages: Vec<Value> = (0..5)
        .map(|i| sms(&format!("+25471234560{i}"), &format!("Reminder {i}")))
        .collect();
    let items = batch(&gw, &messages, &[]);
    for item in &items {
        gw.wait_status(item["id"].as_str().unwrap(), "delivered");
    }
    let mut received = kannel.received();
    received.sort();
    let expected: Vec<(String, String)> = (0..5)
        .map(|i| (format!("+25471234560{i}"), format!("Reminder {i}")))
        .collect();
    assert_eq!(received, expected);
}

#[test]
fn a_batch_of_several_commits_is_answered_in_order_sent_once_and_repeated_whole() {
    let gw = Gateway::start();
    // More items than one commit takes (100), with a refused item and a reminder, which is
    // written on its own, in between.
    let mut messages: Vec<Value> = (0..250)
        .map(|i| sms(&format!("+2547{i:08}"), &format!("item-{i:03}")))
        .collect();
    messages[120] = sms("not a number", "refused");
    messages[130]["expects_reply"] = json!({"options": ["YES", "NO"], "expires_in": "48h"});
    let key = [("idempotency-key", "batch-2026-12-04-several-commits")];
    let first = batch(&gw, &messages, &key);
    assert_eq!(first.len(), 250);
    assert_eq!(first[120]["error"]["code"], "invalid_phone_number");
    let ids: Vec<&str> = first
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 120)
        .map(|(i, item)| {
            assert_eq!(item["status"], "accepted", "item {i}: {item}");
            item["id"].as_str().unwrap()
        })
        .collect();
    let distinct: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 249, "each item has an id of its own");
    for id in &ids {
        gw.wait_status(id, "delivered");
    }
    let again = batch(&gw, &messages, &key);
    assert_eq!(
        first, again,
        "a repeat answers every item as the first time"
    );
    // Each accepted item went out once, with its own text; the repeat sent nothing.
    let expected: Vec<String> = (0..250)
        .filter(|&i| i != 120)
        .map(|i| format!("item-{i:03}"))
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(outbox_bodies(&gw), expected);
    let view = gw.status(KEY, ids[200]).json();
    let steps: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"accepted"), "{view}");
    assert_eq!(steps.last(), Some(&"delivered"), "{view}");
    assert!(!gw.logs().contains("+2547"), "no number in the logs");
}

#[test]
fn an_item_its_policy_refuses_is_refused_again_when_the_batch_is_repeated() {
    // The items are reserved together before each is planned: the repeat finds the refused
    // item's reservation (or none: it is given back) and must still answer its error, not
    // an id that was never made.
    let gw = Gateway::start();
    let messages = [
        sms("+254712345601", "kept"),
        json!({"channel": "sms", "to": "+254712345602", "body": "x", "policy": "no-such-policy"}),
    ];
    for extra in [&[("idempotency-key", "batch-2026-12-07-refused")][..], &[]] {
        let first = batch(&gw, &messages, extra);
        assert_eq!(first[1]["error"]["code"], "unknown_policy", "{first:?}");
        let again = batch(&gw, &messages, extra);
        assert_eq!(
            first, again,
            "the repeat answers both items as the first time"
        );
    }
    let kept = batch(&gw, &messages, &[])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gw.wait_status(&kept, "delivered");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // Once under the key, once without it (a request of its own), never for the repeats.
    assert_eq!(outbox_bodies(&gw), ["kept", "kept"]);
}

#[test]
fn the_same_batch_sent_twice_at_once_sends_each_item_once() {
    let gw = Gateway::start();
    let messages: Vec<Value> = (0..150)
        .map(|i| sms(&format!("+2547{i:08}"), &format!("race-{i:03}")))
        .collect();
    let body = json!({ "messages": messages }).to_string();
    let key = [("idempotency-key", "batch-2026-12-07-race")];
    let answers: Vec<http::Response> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| post_batch(&gw, KEY, body.as_bytes(), &key)))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut ids = std::collections::BTreeMap::new();
    for answer in &answers {
        assert_eq!(answer.status, 202, "{}", answer.body);
        for (i, item) in answer.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            match item["id"].as_str() {
                // Both racers that got an id for an item got the same one.
                Some(id) => assert_eq!(ids.entry(i).or_insert(id.to_string()), id, "item {i}"),
                None => assert_eq!(item["error"]["code"], "idempotency_conflict", "{item}"),
            }
        }
    }
    for id in ids.values() {
        gw.wait_status(id, "delivered");
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let sent = outbox_bodies(&gw);
    let distinct: std::collections::BTreeSet<&String> = sent.iter().collect();
    assert_eq!(distinct.len(), sent.len(), "no item was sent twice");
    assert_eq!(sent.len(), ids.len(), "every item with an id was sent");
}
