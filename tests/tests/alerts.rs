//! CAP 1.2 alerts (`POST /v1/alerts`), with the samples beside the parser in
//! `crates/domain/src/cap/`: languages, the emergency policy and its role, target groups
//! by area, Update and Cancel of an earlier alert, and refusals.

use integration_tests::gateway::{Gateway, api_keys};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use integration_tests::{wait_for, workspace_root};
use serde_json::{Value, json};

const AUTHORITY: &str = "test-key-authority-0123456789abcdef";
const REGISTRY: &str = "test-key-registry-0123456789abcdef";

fn sample(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("crates/domain/src/cap").join(name)).unwrap()
}

fn keys() -> String {
    api_keys(&[
        ("authority", "notify+alerts", AUTHORITY),
        ("registry", "notify", REGISTRY),
    ])
}

fn post_alert(gw: &Gateway, key: &str, xml: &str) -> integration_tests::http::Response {
    gw.post_raw(key, "/v1/alerts", "application/xml", xml.as_bytes())
}

fn group_with(gw: &Gateway, key: &str, name: &str, members: Value) -> String {
    let id = gw.create_group(key, name);
    // As written: one member alone or a list (both shapes of the API).
    let added = gw.call(key, &format!("/v1/groups/{id}/members"), Some(&members));
    assert_eq!(added.status, 200, "{}", added.body);
    id
}

fn wait_state(gw: &Gateway, key: &str, id: &Value, state: &str) -> Value {
    let id = id.as_str().unwrap();
    wait_for(30, &format!("broadcast {id} to be {state}"), || {
        let view = gw.call(key, &format!("/v1/broadcasts/{id}"), None).json();
        (view["state"] == state).then_some(view)
    })
}

#[test]
fn an_emergency_alert_reaches_each_area_group_in_its_members_languages() {
    let gw = Gateway::start_with(&[("api_keys", &keys())]);
    group_with(
        &gw,
        AUTHORITY,
        "Tana River County",
        json!([
            {"channel": "sms", "address": "+254700000011", "language": "sw"},
            {"channel": "sms", "address": "+254700000012", "language": "en-GB"},
            {"channel": "email", "address": "chief@example.org"}
        ]),
    );
    group_with(
        &gw,
        AUTHORITY,
        "garissa county",
        json!({"channel": "sms", "address": "+254700000021", "language": "so"}),
    );
    group_with(
        &gw,
        AUTHORITY,
        "Turkana County",
        json!({"channel": "sms", "address": "+254700000031"}),
    );

    let accepted = post_alert(&gw, AUTHORITY, &sample("flood_alert.xml"));
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let answer = accepted.json();
    assert_eq!(answer["emergency"], true);
    let broadcasts = answer["broadcasts"].as_array().unwrap().clone();
    assert_eq!(broadcasts.len(), 2, "Tana River and Garissa, not Turkana");
    for id in &broadcasts {
        let view = wait_state(&gw, AUTHORITY, id, "done");
        assert_eq!(view["policy"], "emergency");
        assert_eq!(view["reference"], "KE-NDOC-2026-1126-001");
    }
    let entries = gw.outbox_entries();
    let body_to = |to: &str| {
        entries
            .iter()
            .find(|e| e["to"] == to)
            .unwrap_or_else(|| panic!("{to}"))["body"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(body_to("+254700000011").starts_with("Tahadhari"));
    assert!(body_to("+254700000012").starts_with("Flash flood warning"));
    assert!(
        body_to("+254700000021").starts_with("Flash flood warning"),
        "default"
    );
    let email = entries.iter().find(|e| e["channel"] == "email").unwrap();
    assert_eq!(email["subject"], "Flash flood warning for the Tana River");
    assert!(!entries.iter().any(|e| e["to"] == "+254700000031"));

    // The same alert again: the first answer, nothing sent again.
    let again = post_alert(&gw, AUTHORITY, &sample("flood_alert.xml"));
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["broadcasts"], json!(broadcasts));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(gw.outbox_entries().len(), entries.len());

    // The Update reaches the area again with its new text.
    let update = post_alert(&gw, AUTHORITY, &sample("flood_update.xml"));
    assert_eq!(update.status, 202, "{}", update.body);
    let updated = update.json()["broadcasts"].as_array().unwrap().clone();
    assert_eq!(updated.len(), 1, "only Tana River is in the update");
    wait_state(&gw, AUTHORITY, &updated[0], "done");
    assert!(gw.outbox_entries().iter().any(|e| {
        e["to"] == "+254700000011"
            && e["body"]
                .as_str()
                .unwrap()
                .starts_with("Flood waters rising")
    }));
    // The first broadcasts had reached everyone: they stay done.
    wait_state(&gw, AUTHORITY, &broadcasts[0], "done");
}

#[test]
fn only_the_roles_of_the_emergency_policy_send_emergency_alerts() {
    let gw = Gateway::start_with(&[("api_keys", &keys())]);
    group_with(
        &gw,
        REGISTRY,
        "Tana River County",
        json!({"channel": "sms", "address": "+254700000011"}),
    );
    group_with(
        &gw,
        REGISTRY,
        "Turkana County",
        json!({"channel": "sms", "address": "+254700000031"}),
    );
    let refused = post_alert(&gw, REGISTRY, &sample("flood_alert.xml"));
    assert_eq!(refused.status, 403, "{}", refused.body);
    // Refused before anything was recorded: the alert can be sent once allowed.
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("brd/"))
    );

    // A moderate, future advisory goes out under the everyday policy.
    let advisory = post_alert(&gw, REGISTRY, &sample("heat_advisory.xml"));
    assert_eq!(advisory.status, 202, "{}", advisory.body);
    assert_eq!(advisory.json()["emergency"], false);
    let id = advisory.json()["broadcasts"][0].clone();
    let view = wait_state(&gw, REGISTRY, &id, "done");
    assert_eq!(view["policy"], "default");
}

#[test]
fn a_cancel_stops_what_has_not_left() {
    let twilio = Recorder::start();
    twilio.answer_json(503, "{}");
    let gw = Gateway::start_with(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[("api_keys", &keys()), ("retry_base_ms", "60000")],
        ]
        .concat(),
    );
    group_with(
        &gw,
        AUTHORITY,
        "Tana River County",
        json!([{"channel": "sms", "address": "+254700000011"},
               {"channel": "sms", "address": "+254700000012"}]),
    );
    let alert = post_alert(&gw, AUTHORITY, &sample("flood_update.xml"));
    assert_eq!(alert.status, 202, "{}", alert.body);
    let id = alert.json()["broadcasts"][0].clone();
    gw.wait_log("batch.deferred");
    let tried = twilio.received().len();

    let cancel = post_alert(&gw, AUTHORITY, &sample("flood_cancel.xml"));
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(cancel.json()["cancelled"], json!([id]));
    let view = wait_state(&gw, AUTHORITY, &id, "cancelled");
    assert_eq!(view["counts"]["cancelled"], 2, "{view}");
    assert_eq!(twilio.received().len(), tried, "nothing more left");
}

#[test]
fn malformed_or_undeliverable_alerts_are_refused_and_store_nothing() {
    let gw = Gateway::start_with(&[("api_keys", &keys())]);
    let rows = gw.stored_rows().len();
    let flood = sample("flood_alert.xml");
    for (xml, content_type, status) in [
        ("<alert>".to_string(), "application/xml", 400),
        (
            flood.replace("<status>Actual</status>", "<status>Test</status>"),
            "application/xml",
            400,
        ),
        (
            flood.replace("<urgency>Immediate</urgency>", "<urgency>Now</urgency>"),
            "application/xml",
            400,
        ),
        (flood.clone(), "application/json", 415),
        (flood.clone(), "application/cap+xml", 404),
        (sample("flood_cancel.xml"), "application/xml", 404),
    ] {
        let refused = gw.post_raw(AUTHORITY, "/v1/alerts", content_type, xml.as_bytes());
        assert_eq!(refused.status, status, "{}", refused.body);
        assert!(refused.json()["error"]["code"].is_string());
    }
    assert_eq!(gw.stored_rows().len(), rows);
}
