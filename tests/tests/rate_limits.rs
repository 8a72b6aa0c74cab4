//! Per-caller rate limits: a caller that spends its bucket gets 429 with Retry-After and
//! nothing is stored; other callers are not slowed; the bucket refills at its rate. Daily
//! quotas count accepted messages per UTC day and refuse what would pass them.

use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use serde_json::json;

#[test]
fn a_caller_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    // registry: 2 per second, bursts of 3; clinic has no limit.
    let gw = Gateway::start_with(&[("caller_rate_limits", "registry:2:3")]);
    let message = json!({"channel": "sms", "to": "+254712345678", "body": "x"});
    for _ in 0..3 {
        assert_eq!(gw.send(KEY, &message, &[]).status, 202);
    }
    // Message records are written before the 202; their delivery continues meanwhile.
    let records = || {
        gw.stored_rows()
            .iter()
            .filter(|(_, k, _)| k.starts_with("msg/") && k.matches('/').count() == 1)
            .count()
    };
    let before = records();
    let limited = gw.send(KEY, &message, &[]);
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.error_code(), "rate_limited");
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(records(), before, "a refused request stores no message");
    for _ in 0..5 {
        assert_eq!(gw.send(OTHER_KEY, &message, &[]).status, 202);
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(gw.send(KEY, &message, &[]).status, 202, "refilled");
}

#[test]
fn a_providers_send_rate_spaces_single_messages_without_losing_any() {
    // One SMS a second through this cell, whoever sends.
    let gw = Gateway::start_with(&[("sms_send_rate", "1:1")]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            gw.accept(json!({"channel": "sms", "to": format!("+25471234567{i}"), "body": "x"}))
        })
        .collect();
    let mut sent_at: Vec<u64> = ids
        .iter()
        .map(|id| {
            let view = gw.wait_status(id, "delivered");
            let sent = view["history"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["status"] == "sent")
                .unwrap()["at"]
                .as_str()
                .unwrap()
                .to_string();
            messaging_domain::schedule::parse_rfc3339(&sent).unwrap()
        })
        .collect();
    sent_at.sort();
    for pair in sent_at.windows(2) {
        assert!(
            pair[1] - pair[0] >= 900,
            "sent {} ms apart",
            pair[1] - pair[0]
        );
    }
    // Throttling is not a failed attempt.
    let view = gw.status(KEY, &ids[2]).json();
    assert_eq!(view["attempts"].as_array().unwrap().len(), 1, "{view}");
}

const EMERGENCY: &str = r#"
roles = ["*"]
validity = "1h"
priority = "emergency"
[channels.sms]
cell = "deliver-sms"
"#;

#[test]
fn a_daily_quota_refuses_what_would_pass_it_but_not_repeats_or_emergencies() {
    // registry: 5 messages a day; clinic has no quota.
    let gw = Gateway::start_with_policies(
        &[("daily_quotas", "registry:5")],
        &[("flood.toml", EMERGENCY)],
    );
    let message = |i: usize| json!({"channel": "sms", "to": format!("+2547123456{i:02}"), "body": "Clinic day"});
    let first = gw.send(KEY, &message(0), &[("Idempotency-Key", "first-reminder")]);
    assert_eq!(first.status, 202, "{}", first.body);
    for i in 1..3 {
        assert_eq!(gw.send(KEY, &message(i), &[]).status, 202);
    }
    // Repeating a request creates nothing and counts nothing.
    let again = gw.send(KEY, &message(0), &[("Idempotency-Key", "first-reminder")]);
    assert_eq!(again.json()["id"], first.json()["id"]);

    // A broadcast to three would make six: refused whole, nothing stored.
    let broadcast = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": [
            {"channel": "sms", "address": "+254700000001"},
            {"channel": "sms", "address": "+254700000002"},
            {"channel": "sms", "address": "+254700000003"}
        ], "body": "Market closed"})),
    );
    assert_eq!(broadcast.status, 429, "{}", broadcast.body);
    assert_eq!(broadcast.error_code(), "quota_exceeded");
    let retry_after: u64 = broadcast.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=86_400).contains(&retry_after),
        "until midnight UTC: {retry_after}"
    );
    assert!(
        gw.stored_rows()
            .iter()
            .all(|(_, k, _)| !k.starts_with("brd/")),
        "a refused broadcast stores nothing"
    );

    // Two more fit exactly; the next does not.
    for i in 3..5 {
        assert_eq!(gw.send(KEY, &message(i), &[]).status, 202);
    }
    let over = gw.send(KEY, &message(5), &[]);
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(over.error_code(), "quota_exceeded");

    // An alert is never held for tomorrow; another caller has its own count.
    let alert = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345699", "body": "Flood warning", "policy": "flood"}),
        &[],
    );
    assert_eq!(alert.status, 202, "{}", alert.body);
    assert_eq!(gw.send(OTHER_KEY, &message(6), &[]).status, 202);
}
