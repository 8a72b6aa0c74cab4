//! The ways real Spin differs from the project host (`../shared/spin/README.md`), each
//! checked from outside on whichever runtime runs the suite. On Spin
//! (`MESSAGING_TEST_RUNTIME=spin`, as `.ci/run` runs this file) each of these failed before
//! the app stopped relying on what only the project host offered.

use integration_tests::gateway::{Gateway, KEY, api_keys, steps};
use integration_tests::http;
use serde_json::{Value, json};

/// Spin's composer registers each dependency under its import's WIT package: one
/// component cannot take two dependencies from one package (ingress takes auth and policy).
#[test]
fn the_app_starts_and_accepts_a_message() {
    let gw = Gateway::start();
    let health = gw.call(KEY, "/health", None);
    assert_eq!(health.status, 200, "{}", health.body);
    let accepted = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254700000001", "body": "Clinic opens at 9"}),
        &[],
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
}

/// Spin's `list-keys` takes no cursor: a message's attempts are numbered, not listed.
#[test]
fn a_message_is_read_with_its_history() {
    let gw = Gateway::start();
    let id = gw.accept(json!({"channel": "sms", "to": "+254700000002", "body": "Vaccination day"}));
    let view = gw.status(KEY, &id);
    assert_eq!(view.status, 200, "{}\n{}", view.body, gw.logs());
    assert_eq!(
        steps(&view.json())[..2],
        ["accepted", "queued"],
        "{}",
        view.body
    );
}

/// Spin's `get-many` returns only the keys that exist: new members must not be taken for
/// members already there.
#[test]
fn members_added_to_a_new_group_are_counted() {
    let gw = Gateway::start();
    let group = gw.create_group(KEY, "Mothers of newborns");
    let added = gw.call(
        KEY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!([
            {"channel": "sms", "address": "+254700000003"},
            {"channel": "sms", "address": "+254700000004"},
        ])),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.json()["added"], 2, "{}", added.body);
    assert_eq!(added.json()["members"], 2, "{}", added.body);
}

/// Spin's compare-and-swap from an absent value is an upsert: it cannot decide which of
/// several requests adding one member at once counts it.
#[test]
fn the_same_members_added_by_several_requests_at_once_are_counted_once() {
    let gw = Gateway::start();
    let members = Value::from(
        (0..1000)
            .map(|i| json!({"channel": "sms", "address": format!("+2547{i:08}")}))
            .collect::<Vec<_>>(),
    );
    // Several rounds: each races eight requests adding the same members to a new group.
    for round in 0..4 {
        let group = gw.create_group(KEY, &format!("Village health volunteers {round}"));
        let path = format!("/v1/groups/{group}/members");
        let added: u64 = std::thread::scope(|s| {
            let requests: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let answer = gw.call(KEY, &path, Some(&members));
                        assert_eq!(answer.status, 200, "{}", answer.body);
                        answer.json()["added"].as_u64().unwrap()
                    })
                })
                .collect();
            requests.into_iter().map(|r| r.join().unwrap()).sum()
        });
        assert_eq!(added, 1000, "each member is new to exactly one request");
        let view = gw.call(KEY, &format!("/v1/groups/{group}"), None).json();
        assert_eq!(view["members"], 1000, "{view}");
    }
}

/// Spin mounts `files` read-only: the development outbox is a store, which the `dev`
/// role reads through `GET /v1/outbox`, and nobody else.
#[test]
fn the_development_outbox_delivers_and_only_dev_callers_read_it() {
    const DEV_KEY: &str = "test-key-laptop-0123456789abcdef";
    let keys = api_keys(&[("registry", "notify", KEY), ("laptop", "dev", DEV_KEY)]);
    let gw = Gateway::start_with(&[("api_keys", &keys)]);
    let id = gw.accept(json!({"channel": "sms", "to": "+254700000005", "body": "Clinic moved"}));
    gw.wait_status(&id, "delivered");

    let listed = gw.call(DEV_KEY, "/v1/outbox", None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.json()["items"].as_array().unwrap().clone();
    let entry = items
        .iter()
        .find(|e| e["id"] == id)
        .expect("the message's entry");
    assert_eq!(entry["to"], "+254700000005");
    assert_eq!(entry["body"], "Clinic moved");

    let other = gw.call(KEY, "/v1/outbox", None);
    assert_eq!(other.status, 403, "{}", other.body);
    assert!(!other.body.contains("+254700000005"));
    let anonymous = http::request("GET", &format!("{}/v1/outbox", gw.base), &[], None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let forged = gw.call("test-key-laptop-0123456789abcdeX", "/v1/outbox", None);
    assert_eq!(forged.status, 401, "{}", forged.body);
    let wrong_method = gw.call(DEV_KEY, "/v1/outbox", Some(&json!({})));
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.body);
}

/// Spin's `list-keys` takes no cursor: a broadcast's members are walked by numbered slot,
/// and its progress sums its batches by number.
#[test]
fn a_broadcast_reaches_its_group_and_reports_progress() {
    let gw = Gateway::start();
    let numbers: Vec<String> = (0..3).map(|i| format!("+25471000000{i}")).collect();
    let id = gw.broadcast_to_new_group(KEY, &numbers, "Water point repaired");
    let view = gw.wait_broadcast_done(KEY, &id, 60);
    assert_eq!(view["recipients"], 3, "{view}");
    assert_eq!(view["counts"]["delivered"], 3, "{view}");
    let to: Vec<Value> = gw
        .outbox_entries()
        .iter()
        .map(|e| e["to"].clone())
        .collect();
    for number in &numbers {
        assert_eq!(to.iter().filter(|t| *t == number).count(), 1, "{to:?}");
    }
}

/// The same: a caller's inbound messages are a numbered list, read without listing keys.
#[test]
fn inbound_messages_are_polled_and_deleted_by_their_owner() {
    const TOKEN: &str = "kannel-inbound-test-token";
    let gw = Gateway::start_with_policies(
        &[("kannel_inbound_token", TOKEN)],
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    );
    for (id, text) in [("k-1", "first"), ("k-2", "second")] {
        let url = format!(
            "{}/webhooks/kannel/inbound/{TOKEN}?from=254712345678&to=12345&text={text}&id={id}",
            gw.base
        );
        let taken = http::request("GET", &url, &[], None);
        assert_eq!(taken.status, 200, "{}", taken.body);
    }
    let texts = |after: Option<&str>| -> Vec<(String, String)> {
        let path = match after {
            Some(a) => format!("/v1/inbound?after={a}"),
            None => "/v1/inbound".to_string(),
        };
        let page = gw.call(KEY, &path, None);
        assert_eq!(page.status, 200, "{}", page.body);
        page.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().into(),
                    i["text"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let all = texts(None);
    let words: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(words, ["first", "second"]);
    assert_eq!(
        texts(Some(&all[0].0)).len(),
        1,
        "after the first comes the second"
    );
    let deleted = http::request(
        "DELETE",
        &format!("{}/v1/inbound/{}", gw.base, all[0].0),
        &[("authorization", &format!("Bearer {KEY}"))],
        None,
    );
    assert_eq!(deleted.status, 204);
    let left: Vec<String> = texts(None).into_iter().map(|(_, t)| t).collect();
    assert_eq!(left, ["second"]);
    assert_eq!(
        gw.call(integration_tests::gateway::OTHER_KEY, "/v1/inbound", None)
            .json()["items"],
        json!([])
    );
}

/// Spin's compare-and-swap from an absent value is an upsert: a first reservation of an
/// `Idempotency-Key` is decided by a claim, so racing requests make one message.
#[test]
fn one_idempotency_key_sent_by_racing_requests_makes_one_message() {
    let gw = Gateway::start();
    let body = json!({"channel": "sms", "to": "+254700000006", "body": "Your results are ready"});
    for round in 0..3 {
        let key = format!("results-{round}");
        let ids: Vec<String> = std::thread::scope(|s| {
            let requests: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let r = gw.send(KEY, &body, &[("idempotency-key", key.as_str())]);
                        assert!(r.status == 202 || r.status == 409, "{}", r.body);
                        r.json()["id"].as_str().map(str::to_string)
                    })
                })
                .collect();
            requests
                .into_iter()
                .filter_map(|r| r.join().unwrap())
                .collect()
        });
        assert!(!ids.is_empty());
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "one message per key: {ids:?}"
        );
    }
}
