//! Scheduling: `send_at` on messages and broadcasts, repeated reminders, cancelling what
//! has not left, and refusals of schedules that make no sense.

use integration_tests::gateway::{Gateway, KEY};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An RFC 3339 time `secs` from now.
fn in_secs(secs: u64) -> String {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + secs * 1000;
    messaging_domain::api::rfc3339_millis(at)
}

#[test]
fn a_scheduled_message_leaves_at_its_time_not_before() {
    let gw = Gateway::start();
    let id = gw.accept(json!({"channel": "sms", "to": "+254712345678",
        "body": "Your clinic opens at 8", "send_at": in_secs(3)}));
    let view = gw.status(KEY, &id).json();
    assert_eq!(view["status"], "queued");
    assert!(view["send_at"].is_string());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(gw.outbox_entries().is_empty(), "not before its time");
    gw.wait_status(&id, "delivered");
}

#[test]
fn a_repeated_reminder_is_a_series_whose_members_can_be_cancelled() {
    let gw = Gateway::start();
    let accepted = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345678", "body": "Take your medicine",
                "send_at": in_secs(0), "repeat": {"every": "1h", "count": 3}}),
        &[],
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let series: Vec<String> = accepted.json()["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(series.len(), 3);
    assert_eq!(accepted.json()["id"], series[0]);
    gw.wait_status(&series[0], "delivered");
    let second = gw.status(KEY, &series[1]).json();
    assert_eq!(second["status"], "queued", "due in an hour");

    let cancelled = gw.call(
        KEY,
        &format!("/v1/messages/{}/cancel", series[1]),
        Some(&json!({})),
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    let again = gw.call(
        KEY,
        &format!("/v1/messages/{}/cancel", series[1]),
        Some(&json!({})),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let sent = gw.call(
        KEY,
        &format!("/v1/messages/{}/cancel", series[0]),
        Some(&json!({})),
    );
    assert_eq!(sent.status, 409, "a delivered message cannot be cancelled");
    assert_eq!(
        gw.call(
            integration_tests::gateway::OTHER_KEY,
            &format!("/v1/messages/{}/cancel", series[2]),
            Some(&json!({}))
        )
        .status,
        404
    );
    // The cancelled one keeps no address or content; the third still waits with its own.
    let payloads: Vec<String> = gw
        .stored_rows()
        .into_iter()
        .filter(|(_, k, _)| k.ends_with("/payload"))
        .map(|(_, k, _)| k)
        .collect();
    assert_eq!(payloads, [format!("msg/{}/payload", series[2])]);
}

#[test]
fn a_scheduled_broadcast_starts_at_its_time() {
    let gw = Gateway::start();
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(
            &json!({"recipients": [{"channel": "sms", "address": "+254711111111"}],
                     "body": "Market day moved to Friday", "send_at": in_secs(3)}),
        ),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let view = gw.call(KEY, &format!("/v1/broadcasts/{id}"), None).json();
    assert_eq!(view["state"], "queued");
    assert!(view["send_at"].is_string());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(gw.outbox_entries().is_empty(), "not before its time");
    gw.wait_broadcast_done(KEY, &id, 20);
    assert_eq!(gw.outbox_entries().len(), 1);
}

#[test]
fn schedules_that_make_no_sense_are_refused() {
    let gw = Gateway::start();
    let rows = gw.stored_rows().len();
    for body in [
        json!({"channel": "sms", "to": "+254712345678", "body": "x", "repeat": {"every": "1d", "count": 2}}),
        json!({"channel": "sms", "to": "+254712345678", "body": "x", "send_at": "next tuesday"}),
        json!({"channel": "sms", "to": "+254712345678", "body": "x", "send_at": in_secs(800 * 86_400)}),
        json!({"channel": "sms", "to": "+254712345678", "body": "x", "send_at": in_secs(60),
               "repeat": {"rrule": "FREQ=YEARLY;COUNT=2"}}),
    ] {
        let refused = gw.send(KEY, &body, &[]);
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
    }
    assert_eq!(gw.stored_rows().len(), rows);
}
