//! Per-caller rate limits: a caller that spends its bucket gets 429 with Retry-After and
//! nothing is stored; other callers are not slowed; the bucket refills at its rate.

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
