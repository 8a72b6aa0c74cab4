//! The operator's routes: `GET /v1/queue` (work waiting, for an autoscaler) and
//! `POST /v1/tick` (a tick for platforms without the host's timer, like SpinKube), both for
//! callers with the `operator` role only.

use integration_tests::gateway::{Gateway, KEY, api_keys};
use integration_tests::{wait_for, workspace_root};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const OPS_KEY: &str = "test-key-operations-0123456789abcdef";

fn callers() -> String {
    api_keys(&[
        ("registry", "notify", KEY),
        ("platform", "operator", OPS_KEY),
    ])
}

fn in_secs(secs: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    messaging_domain::api::rfc3339_millis(now.as_millis() as u64 + secs * 1000)
}

fn schedule(gw: &Gateway, secs: u64, body: &str) -> String {
    gw.accept(
        json!({"channel": "sms", "to": "+254712345678", "body": body,
                     "send_at": in_secs(secs)}),
    )
}

#[test]
fn the_queue_depth_counts_due_work_for_operators_only() {
    let callers = callers();
    // No timer: what is due stays due.
    let gw = Gateway::start_with_host_env(
        &[("api_keys", &callers)],
        &[],
        &[("MESSAGING_TICK_MS", "0")],
    );
    let depth = |key: &str| gw.call(key, "/v1/queue", None);
    assert_eq!(
        depth(OPS_KEY).json(),
        json!({"pending": 0, "complete": true})
    );

    // Work scheduled for later counts once it is due, so an autoscaler may keep the
    // delivery cells at zero until then.
    for i in 0..2 {
        schedule(&gw, 3600, &format!("Reminder {i}"));
    }
    assert_eq!(
        depth(OPS_KEY).json()["pending"],
        0,
        "nothing is due within the hour"
    );
    for i in 0..3 {
        schedule(&gw, 1, &format!("Soon {i}"));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(depth(OPS_KEY).json()["pending"], 3);

    let refused = depth(KEY);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.error_code(), "forbidden");
    let body = depth(OPS_KEY).body;
    assert!(
        !body.contains("254712345678") && !body.contains("Reminder"),
        "{body}"
    );
}

#[test]
fn a_tick_by_an_operator_sends_what_is_due_when_the_host_has_no_timer() {
    let callers = callers();
    let gw = Gateway::start_with_host_env(
        &[("api_keys", &callers)],
        &[],
        &[("MESSAGING_TICK_MS", "0")],
    );
    let id = schedule(&gw, 1, "Your clinic opens at 8");
    std::thread::sleep(Duration::from_secs(3));
    let view = gw.status(KEY, &id).json();
    assert_eq!(view["status"], "queued", "nothing ticks this host: {view}");

    assert_eq!(gw.call(KEY, "/v1/tick", Some(&json!({}))).status, 403);
    let ticked = gw.call(OPS_KEY, "/v1/tick", Some(&json!({})));
    assert_eq!(ticked.status, 200, "{}", ticked.body);
    let report: Value = ticked.json();
    assert_eq!(report["failed"], json!([]));
    assert!(
        report["ticked"]
            .as_array()
            .unwrap()
            .contains(&json!("deliver-sms")),
        "{report}"
    );
    wait_for(20, "the due message to be sent", || {
        (gw.status(KEY, &id).json()["status"] == "delivered").then_some(())
    });
}

/// Every private component of spin.toml has a `/tick` the host's timer calls; on
/// platforms without it `POST /v1/tick` is all there is, so its default list must name
/// them all (a cell added to the manifest and not here would never retry on SpinKube).
#[test]
fn the_default_tick_list_names_every_private_component() {
    let manifest = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    let mut private: Vec<String> = Vec::new();
    let mut lines = manifest.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "route = { private = true }" {
            let component = lines.next().unwrap().trim();
            let name = component
                .strip_prefix("component = \"")
                .and_then(|rest| rest.strip_suffix('"'))
                .unwrap_or_else(|| panic!("a component line after a private route: {component}"));
            private.push(name.to_string());
        }
    }
    let default = manifest
        .lines()
        .find_map(|l| l.strip_prefix("tick_components = { default = \""))
        .and_then(|rest| rest.strip_suffix("\" }"))
        .expect("the tick_components variable");
    let mut listed: Vec<String> = default.split(',').map(str::to_string).collect();
    private.sort();
    listed.sort();
    assert!(!private.is_empty());
    assert_eq!(listed, private);
}
