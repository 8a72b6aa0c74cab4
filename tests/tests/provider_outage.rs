//! A provider outage. Twilio's double answers 503, or hangs past the host's outbound
//! timeout, for several seconds, then recovers. Afterwards every message has reached the
//! provider once (counting the requests it took), a message whose validity ended during the
//! outage expired and was never taken, and the tries were spaced as the policy's `[retry]`
//! says.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::{Recorded, Recorder};
use integration_tests::twilio;
use integration_tests::{provider_fixture, wait_for};
use messaging_domain::providers::form::{field, parse_form};
use messaging_domain::schedule::parse_rfc3339;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATIENT: &str = r#"
roles = ["*"]
validity = "1h"
[channels.sms]
cell = "deliver-sms"
[retry]
first = "1s"
max_interval = "2s"
"#;

const BRIEF: &str = r#"
roles = ["*"]
validity = "3s"
[channels.sms]
cell = "deliver-sms"
[retry]
first = "1s"
max_interval = "2s"
"#;

const MESSAGES: usize = 10;
const OUTAGE: Duration = Duration::from_secs(8);

fn to(request: &Recorded) -> String {
    let form = parse_form(std::str::from_utf8(&request.body).unwrap_or_default());
    field(&form, "To").unwrap_or_default().to_string()
}

#[test]
fn after_an_outage_of_errors_and_hangs_every_message_is_sent_once_and_none_late() {
    let twilio = Recorder::start();
    let down = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicUsize::new(0));
    let taken = Arc::new(Mutex::new(Vec::<String>::new()));
    let asked = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    let created = provider_fixture("twilio", "message_created.json");
    {
        let (down, calls, taken, asked) =
            (down.clone(), calls.clone(), taken.clone(), asked.clone());
        twilio.answer_by(move |request| {
            asked.lock().unwrap().push((to(request), Instant::now()));
            if down.load(Ordering::SeqCst) {
                // Every other call hangs past the host's one-second timeout.
                if calls.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
                    std::thread::sleep(Duration::from_millis(2500));
                }
                return (
                    503,
                    r#"{"code": 20503, "message": "Service unavailable"}"#.into(),
                );
            }
            taken.lock().unwrap().push(to(request));
            (201, created.clone())
        });
    }
    let gw = Gateway::start_with_host_env(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[
                // The cell's own default would retry every 50 ms: the policy must win.
                ("retry_base_ms", "50"),
            ],
        ]
        .concat(),
        &[("patient.toml", PATIENT), ("brief.toml", BRIEF)],
        &[("MESSAGING_OUTBOUND_TIMEOUT_MS", "1000")],
    );
    let started = Instant::now();
    let numbers: Vec<String> = (0..MESSAGES)
        .map(|i| format!("+2547000000{i:02}"))
        .collect();
    let ids: Vec<String> = numbers
        .iter()
        .map(|n| gw.accept(json!({"channel": "sms", "to": n, "body": "Clinic closed tomorrow", "policy": "patient"})))
        .collect();
    let brief = gw.accept(
        json!({"channel": "sms", "to": "+254799999999", "body": "Water at 10:00", "policy": "brief"}),
    );

    gw.wait_status(&brief, "expired");
    let expired_seen = Instant::now();
    std::thread::sleep(OUTAGE.saturating_sub(started.elapsed()));
    let during = twilio.received().len();
    assert!(
        during > MESSAGES,
        "the outage was tried through: {during} calls"
    );
    down.store(false, Ordering::SeqCst);

    for id in &ids {
        wait_for(60, "the message to be sent after the outage", || {
            let view = gw.status(KEY, id).json();
            (view["status"] == "sent").then_some(())
        });
    }
    let mut taken = taken.lock().unwrap().clone();
    taken.sort();
    assert_eq!(
        taken, numbers,
        "each message taken exactly once, the expired one never"
    );
    let late = asked
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, at)| n == "+254799999999" && *at > expired_seen)
        .count();
    assert_eq!(late, 0, "the expired message was tried after its expiry");
    let brief_view = gw.status(KEY, &brief).json();
    assert_eq!(brief_view["status"], "expired", "{brief_view}");

    // The tries of one message: deferred while the provider was down (503 or timed out),
    // then sent. Each try is recorded when it ends, so a gap is the policy's interval
    // plus the tick's latency and the later try's own length, which a loaded machine
    // stretches by seconds. What is checked: no gap is shorter than the policy's interval
    // (1 s, then 2 s: the cell's own 50 ms would be shorter), and none comes near what
    // the cell's default retry (10 s) would take. The doubling and its cap are checked
    // exactly by the domain's unit tests (retry.rs), which need no clock.
    let view: Value = gw.status(KEY, &ids[0]).json();
    let attempts = view["attempts"].as_array().unwrap();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.last(), Some(&"sent"), "{outcomes:?}");
    assert!(
        outcomes[..outcomes.len() - 1]
            .iter()
            .all(|o| *o == "deferred"),
        "{outcomes:?}"
    );
    let at: Vec<u64> = attempts
        .iter()
        .map(|a| parse_rfc3339(a["at"].as_str().unwrap()).unwrap())
        .collect();
    let gaps: Vec<u64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 3, "{gaps:?} {outcomes:?}");
    assert!(gaps[0] >= 1000, "first retry after 1 s: {gaps:?}");
    assert!(
        gaps[1..].iter().all(|g| *g >= 2000),
        "then every 2 s (max_interval): {gaps:?}"
    );
    assert!(
        gaps.iter().all(|g| *g < 9000),
        "the policy's schedule, not the cell's default of 10 s: {gaps:?}"
    );
}
