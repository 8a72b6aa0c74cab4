//! The audit trail (spec 5.1.10, 6.2.3): each transaction kept in time order with its time,
//! source, destination and status, readable by the operator only through `GET /v1/audit`,
//! never holding an address or a content, and erased after `audit_retention`.

use integration_tests::gateway::{Gateway, KEY, api_keys};
use integration_tests::wait_for;
use serde_json::{Value, json};

const OPS_KEY: &str = "test-key-operations-0123456789abcdef";

fn callers() -> String {
    api_keys(&[
        ("registry", "notify", KEY),
        ("platform", "operator", OPS_KEY),
    ])
}

/// Every entry from the start, page by page (`limit` entries a page).
fn whole_trail(gw: &Gateway, limit: usize) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/audit?limit={limit}&after={a}"),
            None => format!("/v1/audit?limit={limit}"),
        };
        let page = gw.call(OPS_KEY, &path, None);
        assert_eq!(page.status, 200, "{}", page.body);
        let page = page.json();
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return entries,
        }
    }
}

#[test]
fn each_transaction_of_a_message_is_in_the_trail_without_its_address_or_text() {
    let callers = callers();
    let gw = Gateway::start_with(&[("api_keys", &callers)]);
    let id = gw.accept(
        json!({"channel": "sms", "to": "+254712345678", "body": "Your clinic visit is at 9"}),
    );
    // The development outbox reports delivery at once.
    gw.wait_status(&id, "delivered");
    let trail = wait_for(30, "the send to be in the trail", || {
        let trail = whole_trail(&gw, 100);
        trail
            .iter()
            .any(|e| e["event"] == "dispatch.attempt" && e["data"]["id"] == id.as_str())
            .then_some(trail)
    });
    let accepted = trail
        .iter()
        .find(|e| e["event"] == "message.accepted" && e["data"]["id"] == id.as_str())
        .expect("the acceptance");
    assert_eq!(accepted["source"], "caller:registry");
    assert_eq!(accepted["destination"], "deliver-sms");
    assert_eq!(accepted["status"], "in_progress");
    let sent = trail
        .iter()
        .find(|e| e["event"] == "dispatch.attempt" && e["data"]["id"] == id.as_str())
        .unwrap();
    assert_eq!(sent["status"], "success");
    assert_eq!(sent["data"]["detail"], "delivered");
    let times: Vec<&str> = trail.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "in time order: {times:?}"
    );

    // Never the address or the text, in the answers or at rest.
    let text = serde_json::to_string(&trail).unwrap();
    assert!(
        !text.contains("254712345678") && !text.contains("clinic visit"),
        "{text}"
    );
    for (_, key, value) in gw.stored_rows() {
        if key.starts_with("audit/") {
            let value = String::from_utf8_lossy(&value);
            assert!(
                !value.contains("254712345678") && !value.contains("clinic"),
                "{value}"
            );
        }
    }

    // One entry a page gives the same trail.
    let paged = whole_trail(&gw, 1);
    assert_eq!(paged[..trail.len()], trail[..]);
}

#[test]
fn only_operators_read_the_trail_and_bad_parameters_are_refused() {
    let callers = callers();
    let gw = Gateway::start_with(&[("api_keys", &callers)]);
    gw.accept(json!({"channel": "sms", "to": "+254712345678", "body": "Hello"}));
    let refused = gw.call(KEY, "/v1/audit", None);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "forbidden");
    for bad in [
        "/v1/audit?from=yesterday",
        "/v1/audit?limit=0",
        "/v1/audit?limit=5000",
        "/v1/audit?after=../../msg",
    ] {
        let answer = gw.call(OPS_KEY, bad, None);
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    // A range in the future holds nothing; one that covers now holds the acceptance.
    let later = gw.call(OPS_KEY, "/v1/audit?from=2999-01-01T00:00:00Z", None);
    assert_eq!(later.json()["items"], json!([]));
    let until_now = gw.call(
        OPS_KEY,
        "/v1/audit?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z",
        None,
    );
    let items = until_now.json()["items"].as_array().unwrap().clone();
    assert!(
        items.iter().any(|e| e["event"] == "message.accepted"),
        "{items:?}"
    );
}

#[test]
fn entries_older_than_the_audit_retention_are_erased() {
    let callers = callers();
    let gw = Gateway::start_with(&[("api_keys", &callers), ("audit_retention", "2s")]);
    let id = gw.accept(json!({"channel": "sms", "to": "+254712345678", "body": "Hello"}));
    let entries_of = |id: &str| {
        gw.stored_rows()
            .into_iter()
            .filter(|(_, k, v)| k.starts_with("audit/") && String::from_utf8_lossy(v).contains(id))
            .count()
    };
    assert!(entries_of(&id) >= 1);
    wait_for(30, "the message's entries to be erased", || {
        (entries_of(&id) == 0).then_some(())
    });
}
