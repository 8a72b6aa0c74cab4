//! The real SMS path: the gateway sends through a real Kannel (bearerbox, smsbox and
//! Kannel's fake SMSC), and Kannel's delivery reports move the message to `delivered`.

use integration_tests::gateway::{Gateway, KEY, steps};
use integration_tests::http;
use integration_tests::kannel::{self, Kannel};
use integration_tests::recorder::{Recorded, Recorder};
use messaging_domain::providers::form::{field, parse_form};
use serde_json::json;

fn gateway_on(kannel: &Kannel) -> Gateway {
    gateway_on_sendsms(&kannel.sendsms_url)
}

fn gateway_on_sendsms(sendsms_url: &str) -> Gateway {
    Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
        ("sms_provider", "kannel"),
        ("kannel_url", sendsms_url),
        ("kannel_username", kannel::USERNAME),
        ("kannel_password", kannel::PASSWORD),
    ])
}

#[test]
fn an_sms_through_kannel_is_delivered_by_kannels_receipt() {
    let kannel = Kannel::start();
    let gw = gateway_on(&kannel);
    let callback = integration_tests::recorder::Recorder::start();
    let response = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"Your vaccination is due",
                "callback_url": callback.url}),
        &[],
    );
    assert_eq!(response.status, 202, "{}", response.body);
    let id = response.json()["id"].as_str().unwrap().to_string();
    let view = gw.wait_status(&id, "delivered");
    let steps = steps(&view);
    assert_eq!(steps.last().map(String::as_str), Some("delivered"));
    assert!(steps.iter().any(|s| s == "sent"));
    let received = integration_tests::wait_for(10, "the SMSC to get the message", || {
        let r = kannel.received();
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(
        received,
        vec![(
            "+254712345678".to_string(),
            "Your vaccination is due".to_string()
        )]
    );
    assert!(
        gw.outbox_entries().is_empty(),
        "Kannel, not the outbox, must carry the message"
    );
    // Kannel's receipt, not the dispatcher, moved it to delivered, and the caller heard.
    assert!(gw.logs().contains("receipt.recorded"));
    integration_tests::wait_for(10, "the delivered callback", || {
        callback
            .received()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains(r#""status":"delivered""#))
            .then_some(())
    });
}

/// Kannel can report delivery before its answer to the sendsms call is back at the
/// dispatcher, which then records `sent` too. This double of Kannel's sendsms calls the
/// receipt URL first and answers only once the gateway took the receipt.
#[test]
fn a_receipt_that_overtakes_the_sendsms_answer_keeps_the_history_in_order() {
    let sendsms = Recorder::start();
    sendsms.answer_by(|request| {
        let receipt = dlr_url(request).replace("%d", "1");
        let answer = http::request("GET", &receipt, &[], None);
        assert_eq!(answer.status, 200, "the receipt: {}", answer.body);
        (202, "0: Accepted for delivery".into())
    });
    let gw = gateway_on_sendsms(&sendsms.url);
    let callback = Recorder::start();
    let id = gw.accept(
        json!({"channel":"sms","to":"+254712345678","body":"Your clinic visit",
                              "callback_url": callback.url}),
    );
    integration_tests::wait_for(20, "the dispatcher to record the answer", || {
        gw.logs()
            .lines()
            .any(|l| l.contains("dispatch.attempt") && l.contains(&id))
            .then_some(())
    });
    let view = gw.status(KEY, &id).json();
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(
        steps(&view),
        ["accepted", "queued", "sent", "delivered"],
        "{view}"
    );
    assert_eq!(sendsms.received().len(), 1, "sent once");
    integration_tests::wait_for(10, "the delivered callback", || {
        (!callback.received().is_empty()).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let statuses: Vec<String> = callback
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(statuses, ["delivered"], "one callback, the final status");
}

/// The `dlr-url` parameter of a sendsms call, decoded.
fn dlr_url(request: &Recorded) -> String {
    let query = request.path.split_once('?').map_or("", |(_, q)| q);
    field(&parse_form(query), "dlr-url")
        .expect("the gateway asks for a delivery report")
        .to_string()
}

#[test]
fn kannel_down_defers_and_the_tick_delivers_once_it_is_back() {
    // Point the gateway at Kannel's address before Kannel runs: the first attempt fails.
    let port = integration_tests::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let gw = Gateway::start_with(&[
        ("sms_provider", "kannel"),
        ("kannel_url", &url),
        ("kannel_username", kannel::USERNAME),
        ("kannel_password", kannel::PASSWORD),
        ("retry_base_ms", "1000"),
    ]);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Retry me"}));
    integration_tests::wait_for(10, "the attempt to be deferred", || {
        gw.logs().contains("dispatch.deferred").then_some(())
    });
    let view = gw.status(KEY, &id).json();
    assert_eq!(
        view["status"], "queued",
        "a deferred message stays queued: {view}"
    );
    assert!(gw.holds_payload(), "the payload is kept while undelivered");

    let kannel = Kannel::start_on(port);
    gw.wait_status(&id, "delivered");
    assert!(
        gw.outbox_entries().is_empty(),
        "the email cell's outbox must not take an SMS"
    );
    assert_eq!(
        kannel.received(),
        vec![("+254712345678".to_string(), "Retry me".to_string())],
        "sent exactly once"
    );
    assert!(!gw.holds_payload(), "the payload is erased after sending");
}

#[test]
fn forged_or_unknown_receipts_are_refused_and_change_nothing() {
    let kannel = Kannel::start();
    let gw = gateway_on(&kannel);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Hello"}));
    gw.wait_status(&id, "delivered");
    let before = gw.data_rows();
    let forged = http::request(
        "GET",
        &format!(
            "{}/webhooks/receipts/{id}/00000000000000000000000000000000?kannel_type=2",
            gw.base
        ),
        &[],
        None,
    );
    assert_eq!(forged.status, 401);
    assert_eq!(forged.error_code(), "invalid_signature");
    let unknown = http::request(
        "GET",
        &format!("{}/webhooks/receipts/not-an-id/abc?kannel_type=1", gw.base),
        &[],
        None,
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(
        gw.data_rows(),
        before,
        "refused receipts must not change the store"
    );
    assert_eq!(gw.status(KEY, &id).json()["status"], "delivered");
}

#[test]
fn a_broadcast_through_kannel_is_delivered_recipient_by_recipient_by_its_receipts() {
    let kannel = Kannel::start();
    let gw = gateway_on(&kannel);
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": [
            {"channel": "sms", "address": "+254700000001"},
            {"channel": "sms", "address": "+254700000002"},
            {"channel": "sms", "address": "+254700000003"}
        ], "body": "Clinic closed on Friday"})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let view = loop {
        let view = gw.call(KEY, &format!("/v1/broadcasts/{id}"), None).json();
        if view["counts"]["delivered"] == 3 {
            break view;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no three receipts: {view}\n{}",
            gw.logs()
                .lines()
                .filter(|l| l.contains("receipt") || l.contains("batch"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(view["counts"]["sent"], 0, "{view}");
    assert_eq!(view["state"], "done");
    let mut to: Vec<String> = kannel.received().into_iter().map(|(to, _)| to).collect();
    to.sort();
    assert_eq!(to, ["+254700000001", "+254700000002", "+254700000003"]);

    // A forged receipt changes nothing.
    let forged = http::request(
        "GET",
        &format!(
            "{}/webhooks/receipts/b/{id}/{}/{}?kannel_type=2",
            gw.base,
            "0".repeat(32),
            "f".repeat(32)
        ),
        &[],
        None,
    );
    assert_eq!(forged.status, 401);
}
