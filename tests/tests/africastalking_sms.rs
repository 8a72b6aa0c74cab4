//! SMS through Africa's Talking, against a double that answers with its recorded
//! payloads; the test plays its delivery reports and inbound messages.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::{africastalking, http, provider_fixture, wait_for};
use serde_json::json;

const TOKEN: &str = africastalking::WEBHOOK_TOKEN;

fn fixture(name: &str) -> String {
    provider_fixture("africastalking", name)
}

fn gateway_on(at: &Recorder) -> Gateway {
    Gateway::start_with_policies(
        &[
            africastalking::sms_vars(&at.url).as_slice(),
            &[("africastalking_from", "22384"), ("retry_base_ms", "300")],
        ]
        .concat(),
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    )
}

fn callback(gw: &Gateway, token: &str, kind: &str, form: &str) -> http::Response {
    http::request(
        "POST",
        &format!("{}/webhooks/africastalking/{token}/{kind}", gw.base),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
    )
}

#[test]
fn an_sms_goes_out_in_africas_talkings_format_and_its_report_delivers_it() {
    let at = Recorder::start();
    at.answer_json(201, &fixture("send_response.json"));
    let gw = gateway_on(&at);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"Karibu kliniki"}));
    gw.wait_status(&id, "sent");

    let sent = &at.received()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/version1/messaging");
    assert_eq!(sent.header("apikey"), Some("at-test-api-key"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        "username=sandbox&to=%2B254712345678&message=Karibu+kliniki&from=22384"
    );

    let report = fixture("delivery_report_success.form");
    assert_eq!(
        callback(&gw, "wrong-token", "delivery", &report).status,
        401
    );
    assert_eq!(gw.status(KEY, &id).json()["status"], "sent");
    let unknown = report.replace("ATXid_9d5b", "ATXid_0000");
    assert_eq!(callback(&gw, TOKEN, "delivery", &unknown).status, 404);
    let r = callback(&gw, TOKEN, "delivery", &report);
    assert_eq!(r.status, 200, "{}", r.body);
    gw.wait_status(&id, "delivered");
}

#[test]
fn refusals_fail_without_logging_the_number_and_outages_defer() {
    let refusing = Recorder::start();
    refusing.answer_json(201, &fixture("send_response_invalid_number.json"));
    let gw = gateway_on(&refusing);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"x"}));
    gw.wait_status(&id, "failed");
    let logs = gw.wait_log("dispatch.failed");
    assert!(logs.contains("InvalidPhoneNumber"));
    assert!(!logs.contains("25471234567"));

    let down = Recorder::start();
    down.answer_json(500, "{}");
    let gw = gateway_on(&down);
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"x"}));
    wait_for(20, "two attempts", || {
        (down.received().len() >= 2).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
}

#[test]
fn an_inbound_sms_reaches_its_owner() {
    let at = Recorder::start();
    let gw = gateway_on(&at);
    let form = fixture("inbound_message.form");
    assert_eq!(callback(&gw, "wrong-token", "inbound", &form).status, 401);
    let r = callback(&gw, TOKEN, "inbound", &form);
    assert_eq!(r.status, 200, "{}", r.body);
    let inbound = http::request(
        "GET",
        &format!("{}/v1/inbound", gw.base),
        &[("authorization", &format!("Bearer {KEY}"))],
        None,
    );
    let items = inbound.json()["items"].as_array().cloned().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["from"], "+254712345678");
    assert_eq!(items[0]["text"], "Ndio nitakuja");
    // Africa's Talking retries a callback it thinks failed: the same id is kept once.
    assert_eq!(
        callback(&gw, TOKEN, "inbound", &form).json()["status"],
        "duplicate"
    );
}

/// An Africa's Talking double whose first send waits until the test lets it answer, so the
/// test can act while the cell's drain is inside a provider call.
struct HeldDouble {
    at: Recorder,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    release: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HeldDouble {
    fn start() -> HeldDouble {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let at = africastalking::bulk_double();
        let (calls, release) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (seen, go) = (calls.clone(), release.clone());
        at.answer_by(move |request| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while !go.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            africastalking::answer(request)
        });
        HeldDouble { at, calls, release }
    }

    /// Waits until the first send is being held.
    fn wait_for_the_first_send(&self) {
        wait_for(20, "the first send to reach the provider", || {
            (self.calls.load(std::sync::atomic::Ordering::SeqCst) == 1).then_some(())
        });
    }

    fn let_it_answer(&self) {
        self.release
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Single messages accepted while the cell's drain is busy with a provider call are not
/// each handed over on their own: the running drain takes them all in its next page, which
/// Africa's Talking's bulk API sends in one request, each number once.
#[test]
fn messages_accepted_during_a_send_go_out_together_in_the_drains_next_request() {
    let double = HeldDouble::start();
    let gw = gateway_on(&double.at);
    let text = "Clinic day is Monday";
    let sms = |i| json!({"channel":"sms","to":africastalking::accepted_number(i),"body":text});
    let first = gw.accept(sms(0));
    double.wait_for_the_first_send();
    let queued: Vec<String> = (1..=10).map(|i| gw.accept(sms(i))).collect();
    double.let_it_answer();
    for id in std::iter::once(&first).chain(&queued) {
        gw.wait_status(id, "sent");
    }
    let sends = double.at.received();
    assert_eq!(
        sends
            .iter()
            .map(|s| africastalking::numbers(s).len())
            .collect::<Vec<_>>(),
        [1, 10],
        "the ten queued behind the first went out in one request"
    );
    let times = africastalking::times_sent(&double.at);
    assert!(
        times.values().all(|&n| n == 1),
        "each number once: {times:?}"
    );
}

/// A page whose provider calls outlast a "being sent" mark (60 s) keeps its marks while
/// it is sent: a minute into a page of four texts, one provider call of 18 s each (within
/// the host's 20 s outbound timeout), a cancel of the last is refused, and it is sent.
#[test]
fn a_page_that_outlasts_its_marks_still_refuses_a_cancel() {
    let at = africastalking::bulk_double();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    at.answer_by(move |request| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_secs(18));
        africastalking::answer(request)
    });
    let gw = gateway_on(&at);
    // Different texts, so one request each, sent in text order.
    let messages: Vec<serde_json::Value> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, text)| {
            json!({"channel":"sms","to":africastalking::accepted_number(i + 1),
                   "body":format!("Clinic note {text}")})
        })
        .collect();
    let accepted = std::time::Instant::now();
    let answer = gw.call(
        KEY,
        "/v1/messages/batch",
        Some(&json!({ "messages": messages })),
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let last = answer.json()["items"][3]["id"]
        .as_str()
        .expect("the last item accepted")
        .to_string();
    wait_for(20, "the page's first call to reach the provider", || {
        (calls.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    });
    // The fourth call runs from about 54 s to 72 s; a mark written at the start ends at 60 s.
    std::thread::sleep(std::time::Duration::from_secs(64).saturating_sub(accepted.elapsed()));
    let cancel = gw.call(
        KEY,
        &format!("/v1/messages/{last}/cancel"),
        Some(&json!({})),
    );
    assert_eq!(
        cancel.status, 409,
        "a cancel a minute into the page: {}",
        cancel.body
    );
    wait_for(40, "the last message to be sent", || {
        (gw.status(KEY, &last).json()["status"] == "sent").then_some(())
    });
    let view = gw.status(KEY, &last).json();
    assert!(!view.to_string().contains("cancelled"), "{view}");
    assert_eq!(africastalking::times_sent(&at).len(), 4);
}

/// A cancel that comes while the message is with its provider is refused, and the message
/// is recorded as sent: it is never both cancelled and sent. Once the provider has
/// answered, the cancel is too late.
#[test]
fn a_cancel_during_the_provider_call_is_refused_and_the_message_is_sent() {
    let double = HeldDouble::start();
    let gw = gateway_on(&double.at);
    let id =
        gw.accept(json!({"channel":"sms","to":africastalking::accepted_number(1),"body":"Karibu"}));
    double.wait_for_the_first_send();
    let cancel = gw.call(KEY, &format!("/v1/messages/{id}/cancel"), Some(&json!({})));
    assert_eq!(cancel.status, 409, "{}", cancel.body);
    assert!(
        cancel.body.contains("being handed to its provider"),
        "{}",
        cancel.body
    );
    double.let_it_answer();
    let view = gw.wait_status(&id, "sent");
    let history: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert!(!history.contains(&"cancelled"), "{view}");
    let late = gw.call(KEY, &format!("/v1/messages/{id}/cancel"), Some(&json!({})));
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(africastalking::times_sent(&double.at).len(), 1);
}
