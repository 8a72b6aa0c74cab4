//! Policies decide who may send and for how long a message stays worth sending; providers
//! decide whether it is sent. Every outcome is visible in the message's status.

use integration_tests::gateway::{Gateway, KEY, steps};
use integration_tests::kannel::{self, Kannel};
use integration_tests::twilio;
use serde_json::json;

const SHORT_LIVED: &str = r#"
description = "Messages worth sending for two seconds only"
roles = ["*"]
validity = "2s"
[channels.sms]
cell = "deliver-sms"
"#;

const EMERGENCY_ONLY: &str = r#"
roles = ["emergency"]
validity = "1h"
[channels.sms]
cell = "deliver-sms"
"#;

#[test]
fn a_message_the_provider_cannot_take_before_its_validity_ends_expires_unsent() {
    let down = format!("http://127.0.0.1:{}", integration_tests::free_port());
    let gw = Gateway::start_with_policies(
        &[
            ("sms_provider", "kannel"),
            ("kannel_url", &down),
            ("kannel_username", "u"),
            ("kannel_password", "p"),
            ("retry_base_ms", "500"),
        ],
        &[("short.toml", SHORT_LIVED)],
    );
    let response = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"Too late","policy":"short"}),
        &[],
    );
    assert_eq!(response.status, 202, "{}", response.body);
    let id = response.json()["id"].as_str().unwrap().to_string();
    let view = gw.wait_status(&id, "expired");
    let steps = steps(&view);
    assert!(
        !steps.iter().any(|s| s == "sent"),
        "an expired message was never sent: {steps:?}"
    );
    assert!(!gw.holds_payload(), "expiry erases the payload");
    assert!(
        gw.outbox_entries().is_empty(),
        "no other delivery cell may take an SMS cell's message"
    );
}

#[test]
fn a_provider_refusal_fails_the_message_without_retrying() {
    let kannel = Kannel::start();
    let gw = Gateway::start_with(&[
        ("sms_provider", "kannel"),
        ("kannel_url", &kannel.sendsms_url),
        ("kannel_username", kannel::USERNAME),
        ("kannel_password", "wrong-password"),
    ]);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Refused"}));
    gw.wait_status(&id, "failed");
    assert!(kannel.received().is_empty());
    gw.wait_log("dispatch.failed");
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(s, k, _)| s == "pending" && *k == format!("deliver-sms/{id}")),
        "a failed message is not retried: it has no pending entry"
    );
}

#[test]
fn a_policy_admits_only_the_roles_it_names() {
    let gw = Gateway::start_with_policies(&[], &[("alerts.toml", EMERGENCY_ONLY)]);
    let response = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"Alert","policy":"alerts"}),
        &[],
    );
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (403, "forbidden")
    );
    let email = gw.send(
        KEY,
        &json!({"channel":"email","to":"a@b.org","body":"x","policy":"alerts"}),
        &[],
    );
    assert_eq!(email.status, 403, "roles are checked before channels");
    assert!(gw.stored_rows().is_empty());
}

#[test]
fn a_policy_without_the_channel_refuses_it() {
    let sms_only = SHORT_LIVED.replace("validity = \"2s\"", "validity = \"1h\"");
    let gw = Gateway::start_with_policies(&[], &[("sms-only.toml", &sms_only)]);
    let response = gw.send(
        KEY,
        &json!({"channel":"email","to":"a@b.org","body":"x","policy":"sms-only"}),
        &[],
    );
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (422, "unknown_channel")
    );
    assert!(gw.stored_rows().is_empty());
}

const QUICK_RETRIES: &str = r#"
description = "Retries one second apart, doubling to two, given up after six"
roles = ["*"]
validity = "1h"
[channels.sms]
cell = "deliver-sms"
[retry]
first = "1s"
max_interval = "2s"
give_up_after = "6s"
"#;

#[test]
fn retries_follow_the_policys_schedule_then_the_message_fails() {
    let twilio = integration_tests::recorder::Recorder::start();
    twilio.answer_json(503, "{}");
    let gw = Gateway::start_with_policies(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[
                // The cell's own default would retry every 50 ms: the policy must win.
                ("retry_base_ms", "50"),
            ],
        ]
        .concat(),
        &[("quick-retries.toml", QUICK_RETRIES)],
    );
    let id = gw
        .accept(json!({"channel":"sms","to":"+254712345678","body":"x","policy":"quick-retries"}));
    let view = integration_tests::wait_for(20, "the message to fail", || {
        let view = gw.status(KEY, &id).json();
        (view["status"] == "failed").then_some(view)
    });
    let attempts = view["attempts"].as_array().unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.last(), Some(&"gave_up"), "{outcomes:?}");
    let at = |a: &serde_json::Value| {
        messaging_domain::schedule::parse_rfc3339(a["at"].as_str().unwrap()).unwrap()
    };
    let tries: Vec<u64> = attempts.iter().map(at).collect();
    // Tried at 0, 1 s, 3 s, 5 s (1 s, then 2 s apart); the try at 7 s, after 6 s, is
    // deferred too and gives up.
    assert!((4..=6).contains(&tries.len()), "{outcomes:?}");
    assert!(
        outcomes[..outcomes.len() - 1]
            .iter()
            .all(|o| *o == "deferred")
    );
    for pair in tries.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((900..=3000).contains(&gap), "gap {gap} ms in {outcomes:?}");
    }
    assert_eq!(twilio.received().len(), tries.len(), "one request per try");
}

/// A policy whose quiet hours are the three hours around now in UTC.
fn quiet_now_policy() -> String {
    let now_min = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60)
        % 1440;
    let hhmm = |m: u64| format!("{:02}:{:02}", m / 60, m % 60);
    format!(
        "roles = [\"*\"]\nvalidity = \"1d\"\nquiet_hours = \"{}-{}\"\n[channels.sms]\ncell = \"deliver-sms\"\n",
        hhmm((now_min + 1440 - 60) % 1440),
        hhmm((now_min + 120) % 1440)
    )
}

#[test]
fn quiet_hours_hold_messages_in_the_recipients_night_only() {
    let gw = Gateway::start_with_policies(&[], &[("quiet.toml", &quiet_now_policy())]);
    let night = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Night",
        "policy":"quiet","timezone":"+00:00"}));
    let day = gw.accept(json!({"channel":"sms","to":"+254712345679","body":"Day",
        "policy":"quiet","timezone":"+06:00"}));
    gw.wait_status(&day, "delivered");
    gw.wait_log("dispatch.quiet_hours");
    let broadcast = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": [
            {"channel": "sms", "address": "+254700000001", "timezone": "+00:00"},
            {"channel": "sms", "address": "+254700000002", "timezone": "+06:00"}
        ], "body": "Both", "policy": "quiet"})),
    );
    let id = broadcast.json()["id"].as_str().unwrap().to_string();
    let view = integration_tests::wait_for(20, "the daytime recipient", || {
        let view = gw.call(KEY, &format!("/v1/broadcasts/{id}"), None).json();
        (view["counts"]["delivered"] == 1).then_some(view)
    });
    assert_eq!(view["state"], "sending", "{view}");
    assert_eq!(view["counts"]["queued"], 1, "{view}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(gw.status(KEY, &night).json()["status"], "queued");
    let to: Vec<String> = gw
        .outbox_entries()
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    assert!(!to.contains(&"+254712345678".to_string()), "{to:?}");
    assert!(!to.contains(&"+254700000001".to_string()), "{to:?}");
    assert!(to.contains(&"+254700000002".to_string()), "{to:?}");
}
