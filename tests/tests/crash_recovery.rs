//! A crash in the middle of a broadcast. The host is killed with SIGKILL while a
//! 100,000-recipient broadcast is going out through Africa's Talking's bulk API (a double
//! that counts every number it is given), then started again on the same store. The
//! broadcast finishes: every recipient is reached, none is skipped, and each has one
//! outcome. Only the batches the provider was taking at the moment of the kill can reach
//! their recipients twice: a provider without idempotency keys cannot tell us whether it
//! took them, and for alerts a second copy is better than none (at least once; see
//! ARCHITECTURE.md, "Invariants").

use integration_tests::africastalking;
use integration_tests::gateway::{Gateway, KEY};
use integration_tests::wait_for;
use serde_json::{Value, json};
use std::collections::HashMap;

const MEMBERS: usize = 100_000;
/// What can be in flight when the host dies: the broadcaster keeps four batches of 500 at
/// the cells at once.
const IN_FLIGHT: usize = 4 * 500;

/// Numbers that end in 1, so the double refuses none of them (it refuses `...00`).
fn phone(i: usize) -> String {
    format!("+2547{:08}", i * 10 + 1)
}

fn numbers_sent(at: &integration_tests::recorder::Recorder) -> Vec<String> {
    at.received()
        .iter()
        .flat_map(africastalking::numbers)
        .collect()
}

#[test]
fn a_broadcast_killed_midway_is_finished_after_restart_reaching_everyone() {
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with(&africastalking::sms_vars(&at.url));
    let group = gw.create_group(KEY, "Everyone in the basin");
    let members: Vec<Value> = (0..MEMBERS)
        .map(|i| json!({"channel": "sms", "address": phone(i)}))
        .collect();
    gw.add_members(KEY, &group, &members);

    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"group": group, "body": "Evacuate the river banks now"})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();

    let before_kill = wait_for(300, "a fifth of the broadcast at the provider", || {
        let n = at
            .received()
            .iter()
            .map(|r| africastalking::numbers(r).len())
            .sum::<usize>();
        (n >= MEMBERS / 5).then_some(n)
    });
    let gw = gw.crash_and_restart();
    assert!(
        before_kill < MEMBERS,
        "the broadcast finished before the kill: the test proves nothing"
    );

    // Leases and claims of the dead host run out (a minute or two), then the new host
    // takes the broadcast up where its cursor and outcome rows say.
    let view = wait_for(600, "the broadcast to be done after the restart", || {
        let view = gw.call(KEY, &format!("/v1/broadcasts/{id}"), None).json();
        (view["state"] == "done").then_some(view)
    });
    assert_eq!(view["counts"]["sent"], MEMBERS, "one outcome each: {view}");
    assert_eq!(view["counts"]["failed"], 0, "{view}");

    let sent = numbers_sent(&at);
    let mut times: HashMap<&str, usize> = HashMap::new();
    for number in &sent {
        *times.entry(number.as_str()).or_default() += 1;
    }
    let missed: Vec<String> = (0..MEMBERS)
        .map(phone)
        .filter(|p| !times.contains_key(p.as_str()))
        .collect();
    assert!(
        missed.is_empty(),
        "{} recipients never reached, e.g. {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
    assert_eq!(times.len(), MEMBERS, "no number outside the group");
    let twice = sent.len() - MEMBERS;
    eprintln!(
        "killed after {before_kill} of {MEMBERS} numbers had reached the provider; {twice} sent twice"
    );
    assert!(
        twice <= IN_FLIGHT,
        "{twice} numbers sent twice: more than the batches in flight at the kill"
    );
    assert!(times.values().all(|&n| n <= 2), "none three times");
}
