//! Groups and broadcasts: members added and removed by API, a broadcast to a group of
//! several batches reaching every member exactly once, progress counts, channels the
//! policy does not offer, cancellation, and nothing readable left at rest.

use integration_tests::africastalking;
use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use integration_tests::wait_for;
use serde_json::{Value, json};
use std::collections::HashSet;

fn phone(i: usize) -> String {
    format!("+2547{i:08}")
}

fn create_group(gw: &Gateway, name: &str) -> String {
    gw.create_group(KEY, name)
}

fn add_sms_members(gw: &Gateway, group: &str, range: std::ops::Range<usize>) {
    let members: Vec<Value> = range
        .map(|i| json!({"channel": "sms", "address": phone(i), "language": "sw"}))
        .collect();
    gw.add_members(KEY, group, &members);
}

fn wait_state(gw: &Gateway, id: &str, state: &str) -> Value {
    wait_state_as(gw, KEY, id, state)
}

fn wait_state_as(gw: &Gateway, key: &str, id: &str, state: &str) -> Value {
    wait_for(60, &format!("broadcast {id} to be {state}"), || {
        let view = gw.call(key, &format!("/v1/broadcasts/{id}"), None).json();
        (view["state"] == state).then_some(view)
    })
}

#[test]
fn members_are_added_idempotently_removed_and_private_to_their_owner() {
    let gw = Gateway::start();
    let group = create_group(&gw, "Mothers of newborns");
    let added = gw.call(
        KEY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!([
            {"channel": "sms", "address": "+254712345678", "language": "sw"},
            {"channel": "email", "address": "amina@example.org"},
            {"channel": "sms", "address": "+254712345678"}
        ])),
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert_eq!(added.json()["added"], 2, "a repeated member is one member");
    let again = gw.call(
        KEY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!({"channel": "sms", "address": "+254712345678"})),
    );
    assert_eq!(again.json()["added"], 0);
    assert_eq!(again.json()["members"], 2);

    let view = gw.call(KEY, &format!("/v1/groups/{group}"), None);
    assert_eq!(view.status, 200);
    assert_eq!(view.json()["name"], "Mothers of newborns");
    assert_eq!(view.json()["members"], 2);

    // Another caller cannot see or change the group.
    assert_eq!(
        gw.call(OTHER_KEY, &format!("/v1/groups/{group}"), None)
            .status,
        404
    );
    let foreign = gw.call(
        OTHER_KEY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!({"channel": "sms", "address": "+254700000009"})),
    );
    assert_eq!(foreign.status, 404);

    // One bad member refuses the whole list, naming it; nothing is added.
    let rows_before = gw.data_rows().len();
    let bad = gw.call(
        KEY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!([
            {"channel": "sms", "address": "+254700000001"},
            {"channel": "sms", "address": "0712"}
        ])),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("members[1].address"), "{}", bad.body);
    assert_eq!(gw.data_rows().len(), rows_before);

    let removed = gw.call(
        KEY,
        &format!("/v1/groups/{group}/members/remove"),
        Some(
            &json!([{"channel": "email", "address": "amina@example.org"},
                     {"channel": "email", "address": "never@example.org"}]),
        ),
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.json()["removed"], 1);
    assert_eq!(removed.json()["members"], 1);

    // Addresses are at rest only sealed; keys hold keyed hashes.
    for (_, key, value) in gw.stored_rows() {
        assert!(!key.contains("254712345678"), "{key}");
        assert!(
            !String::from_utf8_lossy(&value).contains("254712345678"),
            "{key} holds the number in clear"
        );
    }
}

#[test]
fn a_broadcast_reaches_every_member_once_and_reports_progress() {
    let gw = Gateway::start_with_policies(
        &[],
        &[(
            "sms-only.toml",
            "description = \"SMS only\"\nroles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\n",
        )],
    );
    let group = create_group(&gw, "District 4 households");
    // Three pages of members: the fan-out resumes from its cursor between them.
    let members = 1_234;
    add_sms_members(&gw, &group, 0..members);
    // A member on a channel the policy below does not offer fails alone.
    gw.call(
        KEY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!({"channel": "email", "address": "clerk@example.org"})),
    );

    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(
            &json!({"group": group, "body": "Polio vaccination on Saturday at the clinic",
                     "policy": "sms-only", "reference": "campaign-7"}),
        ),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let view = wait_state(&gw, &id, "done");
    assert_eq!(view["recipients"], members + 1);
    assert_eq!(view["counts"]["delivered"], members, "{view}");
    assert_eq!(view["counts"]["failed"], 1, "{view}");
    assert_eq!(view["counts"]["queued"], 0);
    assert_eq!(view["reference"], "campaign-7");

    // The outbox (the development provider) got each member exactly once.
    let entries = gw.outbox_entries();
    assert_eq!(entries.len(), members, "one message per member");
    let to: HashSet<String> = entries
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(to.len(), members, "no member twice");
    assert!(to.contains(&phone(0)) && to.contains(&phone(members - 1)));

    // Once sent, no batch (and so no address) is left; outcomes are rows without one.
    gw.wait_log("fanout.done");
    let rows = gw.opened_rows();
    assert!(
        !rows
            .iter()
            .any(|(_, k, _)| k.starts_with(&format!("brd/{id}/batch/"))),
        "settled batches are erased"
    );
    let outcomes = rows
        .iter()
        .filter(|(_, k, _)| k.starts_with(&format!("brd/{id}/r/")))
        .count();
    assert_eq!(outcomes, members, "one outcome row per recipient sent");
    assert!(
        !rows
            .iter()
            .any(|(s, k, _)| s == "pending" && k.contains(&id)),
        "no pending work left"
    );

    // Another caller cannot read it.
    assert_eq!(
        gw.call(OTHER_KEY, &format!("/v1/broadcasts/{id}"), None)
            .status,
        404
    );
}

#[test]
fn listed_recipients_bad_input_and_policy_refusals() {
    let gw = Gateway::start();
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": [
            {"channel": "sms", "address": "+254711111111"},
            {"channel": "email", "address": "juma@example.org"}
        ], "subject": "Flood warning", "body": "Move to higher ground."})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let view = wait_state(&gw, &id, "done");
    assert_eq!(view["counts"]["delivered"], 2, "{view}");
    let entries = gw.outbox_entries();
    let email = entries.iter().find(|e| e["channel"] == "email").unwrap();
    assert_eq!(email["subject"], "Flood warning");
    let sms = entries.iter().find(|e| e["channel"] == "sms").unwrap();
    assert!(sms["subject"].is_null(), "SMS carries no subject");

    let keys = || -> HashSet<String> { gw.data_rows().into_iter().map(|(_, k, _)| k).collect() };
    let keys_before = keys();
    for (body, status) in [
        (json!({"body": "no audience"}), 400),
        (
            json!({"group": "grp_0000000000000000000000000", "body": "x"}),
            400,
        ),
        (
            json!({"group": "grp_00000000000000000000000000", "body": "x"}),
            404,
        ),
        (
            json!({"recipients": [{"channel": "sms", "address": "12"}], "body": "x"}),
            422,
        ),
        (
            json!({"recipients": [{"channel": "sms", "address": "+254711111111"}], "body": "x", "policy": "nope"}),
            422,
        ),
    ] {
        let refused = gw.call(KEY, "/v1/broadcasts", Some(&body));
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        assert!(refused.json()["error"]["code"].is_string());
    }
    // The finished broadcast may still be clearing its last keys: nothing new is the test.
    let added: Vec<String> = keys().difference(&keys_before).cloned().collect();
    assert!(added.is_empty(), "refusals store nothing: {added:?}");
}

#[test]
fn a_batch_whose_provider_is_slow_is_sent_once_however_long_it_takes() {
    // Twilio takes one message per request; nine seconds each makes this batch take 36 s,
    // past the batch claim's 30 s. The cell renews its claim while it sends, so the tick
    // (every 500 ms here) never takes the batch from it and sends it again.
    let twilio = Recorder::start();
    let created = integration_tests::provider_fixture("twilio", "message_created.json");
    // Counted on arrival: the recorder lists a request only once it has been answered.
    let arrived = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = arrived.clone();
    twilio.answer_by(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_secs(9));
        (201, created.clone())
    });
    let gw = Gateway::start_with(&twilio::sms_vars(&twilio.url));
    let nurses: Vec<String> = (0..4).map(phone).collect();
    let id = gw.broadcast_to_new_group(KEY, &nurses, "Shift change at 22:00");
    let view = wait_state(&gw, &id, "done");
    assert_eq!(view["counts"]["sent"], 4, "{view}");
    // Give a wrongly re-taken batch time to show up at the provider.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let asked = arrived.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(asked, 4, "each member was sent once: {asked} requests");
}

#[test]
fn cancelling_stops_what_has_not_left() {
    // The provider is down: every batch is deferred, nothing leaves.
    let twilio = Recorder::start();
    twilio.answer_json(503, "{}");
    let gw = Gateway::start_with(
        &[
            twilio::sms_vars(&twilio.url).as_slice(),
            &[("retry_base_ms", "60000")],
        ]
        .concat(),
    );
    let group = create_group(&gw, "Voters of ward 3");
    add_sms_members(&gw, &group, 0..20);
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"group": group, "body": "Polling stations open at 7"})),
    );
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    gw.wait_log("batch.deferred");
    let tried = twilio.received().len();
    assert_eq!(tried, 20, "each member was tried once");

    let cancelled = gw.call(
        KEY,
        &format!("/v1/broadcasts/{id}/cancel"),
        Some(&json!({})),
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    // The cell's tick settles the waiting batch as cancelled, without sending.
    let view = wait_state(&gw, &id, "cancelled");
    assert_eq!(view["counts"]["cancelled"], 20, "{view}");
    assert_eq!(twilio.received().len(), tried, "nothing more left");
}

#[test]
fn africas_talking_takes_a_batch_in_one_request_with_an_answer_per_number() {
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with(&africastalking::sms_vars(&at.url));
    let group = create_group(&gw, "Farmers of the valley");
    let members = 1_100;
    add_sms_members(&gw, &group, 0..members);
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"group": group, "body": "Rains expected from Monday"})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let view = wait_state(&gw, &id, "done");
    // Numbers ending in 00 are refused by the double: 11 of them.
    assert_eq!(view["counts"]["failed"], 11, "{view}");
    assert_eq!(view["counts"]["sent"], members - 11, "{view}");

    let requests = at.received();
    assert_eq!(requests.len(), 3, "one request per batch of at most 500");
    let mut sent: Vec<String> = requests.iter().flat_map(africastalking::numbers).collect();
    assert_eq!(sent.len(), members);
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), members, "each number once");
    assert!(
        requests
            .iter()
            .all(|r| String::from_utf8_lossy(&r.body).contains("message=Rains+expected"))
    );

    // Its delivery reports name only its own ids; they find the recipients.
    let report = |number: &str, status: &str| {
        let answer = africastalking::report_delivery(&gw.base, number, status);
        assert_eq!(answer.status, 200, "{}", answer.body);
    };
    report("+254700000001", "Success");
    report("+254700000002", "Failed");
    let counts = || gw.call(KEY, &format!("/v1/broadcasts/{id}"), None).json()["counts"].clone();
    let view = counts();
    assert_eq!(view["delivered"], 1, "{view}");
    assert_eq!(view["failed"], 12, "11 refused, 1 reported {view}");
    assert_eq!(view["sent"], members - 13, "{view}");

    // Replayed reports, and a late one that contradicts the first, count nothing more.
    report("+254700000001", "Success");
    report("+254700000002", "Failed");
    report("+254700000001", "Failed");
    assert_eq!(counts(), view, "replays change no count");

    // The logs name broadcasts, batches and outcomes, never a number or the text (the
    // double's refusals quote the numbers they refuse).
    let logs = gw.logs();
    assert!(logs.contains(&id), "the broadcast is logged by its id");
    assert!(
        !logs.contains("2547000") && !logs.contains("Rains expected"),
        "an address or the content reached the logs"
    );
}

#[test]
fn the_same_request_within_the_window_gets_the_first_answer_and_sends_nothing() {
    let gw = Gateway::start();
    let request = json!({"recipients": [{"channel": "sms", "address": "+254733333333"}],
                         "body": "Water will be off on Tuesday"});
    let first = gw.call(KEY, "/v1/broadcasts", Some(&request));
    let second = gw.call(KEY, "/v1/broadcasts", Some(&request));
    assert_eq!(first.status, 202);
    assert_eq!(second.status, 202);
    assert_eq!(first.json()["id"], second.json()["id"], "the first answer");
    // Another caller's identical request is its own.
    let other = gw.call(OTHER_KEY, "/v1/broadcasts", Some(&request));
    assert_ne!(other.json()["id"], first.json()["id"]);

    let message = json!({"channel": "sms", "to": "+254744444444", "body": "Your permit is ready"});
    let a = gw.accept(message.clone());
    let b = gw.accept(message);
    assert_eq!(a, b, "messages too (MHASH)");

    let id = first.json()["id"].as_str().unwrap().to_string();
    wait_state(&gw, &id, "done");
    gw.wait_status(&a, "delivered");
    let other_id = other.json()["id"].as_str().unwrap().to_string();
    wait_state_as(&gw, OTHER_KEY, &other_id, "done");
    let to = |n: &str| gw.outbox_entries().iter().filter(|e| e["to"] == n).count();
    assert_eq!(to("+254733333333"), 2, "once per caller");
    assert_eq!(
        to("+254744444444"),
        1,
        "the repeated message was not sent again"
    );
}

#[test]
fn the_duplicate_window_can_be_turned_off() {
    let gw = Gateway::start_with(&[("duplicate_window", "0")]);
    let message = json!({"channel": "sms", "to": "+254744444444", "body": "Reminder"});
    assert_ne!(gw.accept(message.clone()), gw.accept(message));
}

/// Plays an inbound SMS from `from` through Africa's Talking's inbound webhook.
fn text_in(gw: &Gateway, from: &str, text: &str, id: &str) {
    let answer = africastalking::text_in(&gw.base, from, text, id);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn citizens_join_and_leave_a_group_by_keyword() {
    let gw = Gateway::start_with_policies(
        &[("africastalking_webhook_token", "at-token")],
        &[(
            "inbound/routes.toml",
            "[[group_keyword]]\nkeyword = \"MOTHERS\"\nowner = \"registry\"\n",
        )],
    );
    let created = gw.call(
        KEY,
        "/v1/groups",
        Some(&json!({"name": "Mothers of newborns", "keyword": "Mothers"})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["keyword"], "MOTHERS");
    let group = created.json()["id"].as_str().unwrap().to_string();
    // Keywords are unique in the deployment: texts name no caller.
    let taken = gw.call(
        KEY,
        "/v1/groups",
        Some(&json!({"name": "Other", "keyword": "MOTHERS"})),
    );
    assert_eq!(taken.status, 409, "{}", taken.body);

    text_in(&gw, "+254755555551", "JOIN mothers", "in-1");
    text_in(&gw, "+254755555552", "jiunge MOTHERS", "in-2");
    text_in(&gw, "+254755555553", "JOIN fathers", "in-3");
    let members = || gw.call(KEY, &format!("/v1/groups/{group}"), None).json()["members"].clone();
    assert_eq!(members(), 2);
    // Each joiner is told how to leave.
    wait_for(20, "two acknowledgements", || {
        let acks = gw
            .outbox_entries()
            .into_iter()
            .filter(|e| {
                e["body"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("You have joined")
            })
            .count();
        (acks == 2).then_some(())
    });

    text_in(&gw, "+254755555552", "LEAVE mothers", "in-4");
    assert_eq!(members(), 1);
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"group": group, "body": "Free checkups on Monday"})),
    );
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    wait_state(&gw, &id, "done");
    let reached: Vec<String> = gw
        .outbox_entries()
        .into_iter()
        .filter(|e| e["body"] == "Free checkups on Monday")
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reached, ["+254755555551"]);
}

#[test]
fn a_cells_send_rate_paces_a_broadcast() {
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with(
        &[
            africastalking::sms_vars(&at.url).as_slice(),
            &[
                // 10 SMS a second, 10 at once.
                ("sms_send_rate", "10:10"),
            ],
        ]
        .concat(),
    );
    let group = create_group(&gw, "Paced");
    add_sms_members(&gw, &group, 1..41);
    let started = std::time::Instant::now();
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"group": group, "body": "Paced announcement"})),
    );
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let view = wait_state(&gw, &id, "done");
    let took = started.elapsed();
    assert_eq!(view["counts"]["sent"], 40, "{view}");
    // 10 at once, then 30 more at 10 a second: about three seconds, not at once.
    assert!(took >= std::time::Duration::from_millis(2500), "{took:?}");
    let requests = at.received();
    assert!(
        requests
            .iter()
            .all(|r| africastalking::numbers(r).len() <= 10),
        "no request carries more than the bucket holds"
    );
    let mut numbers: Vec<String> = requests.iter().flat_map(africastalking::numbers).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 40, "each once");
}
