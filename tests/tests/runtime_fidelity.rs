//! The ways real Spin differs from the project host (`../shared/spin/README.md`), each
//! checked from outside on whichever runtime runs the suite. On Spin
//! (`MESSAGING_TEST_RUNTIME=spin`, as `.ci/run` runs this file) each of these failed before
//! the app stopped relying on what only the project host offered.

use integration_tests::gateway::{Gateway, KEY, steps};
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
