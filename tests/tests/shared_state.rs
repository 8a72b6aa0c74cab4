//! Several hosts sharing one state: two host processes, each with its own folder, both
//! keeping their stores on one real redis-server. Either serves the API for what the other
//! accepted, an idempotency key holds across them, and a broadcast one of them starts is
//! drained by both, then finished by the survivor when the other is killed (leases that
//! run out, not locks that die with their holder).

use integration_tests::africastalking;
use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use integration_tests::redis::RedisServer;
use integration_tests::wait_for;
use serde_json::{Value, json};

fn broadcast_to_new_group(gw: &Gateway, members: usize, body: &str) -> String {
    let numbers: Vec<String> = (0..members).map(africastalking::accepted_number).collect();
    gw.broadcast_to_new_group(KEY, &numbers, body)
}

#[test]
fn either_host_serves_what_the_other_accepted_and_an_idempotency_key_holds_across_them() {
    let redis = RedisServer::start();
    let a = Gateway::start_sharing(&redis, &[]);
    let b = Gateway::start_sharing(&redis, &[]);
    let body = json!({"channel": "sms", "to": "+254712345678", "body": "Clinic opens at 9"});

    // The same request to both hosts at once, as a caller retrying through a load balancer.
    let answers: Vec<Value> = std::thread::scope(|scope| {
        [&a, &b]
            .map(|gw| {
                let body = &body;
                scope.spawn(move || {
                    let r = gw.send(KEY, body, &[("idempotency-key", "visit-7")]);
                    assert_eq!(r.status, 202, "{}", r.body);
                    r.json()
                })
            })
            .map(|t| t.join().unwrap())
            .to_vec()
    });
    assert_eq!(
        answers[0]["id"], answers[1]["id"],
        "one message for one key"
    );
    let id = answers[0]["id"].as_str().unwrap().to_string();

    a.wait_status(&id, "delivered");
    b.wait_status(&id, "delivered");
    assert_eq!(
        b.status(OTHER_KEY, &id).status,
        404,
        "still the caller's own"
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // The outbox is a store on the same Redis: both hosts see the one entry.
    assert_eq!(a.outbox_entries(), b.outbox_entries());
    assert_eq!(
        a.outbox_entries().len(),
        1,
        "sent once, by one of the two hosts"
    );

    // The state is on Redis, none of it in either host's SQLite file.
    let rows = a.stored_rows();
    assert!(
        rows.iter().any(|(_, key, _)| key.contains(&id)),
        "the message is not on Redis"
    );
    assert!(a.local_file_rows().is_empty());
    assert!(b.local_file_rows().is_empty());
}

#[test]
fn two_hosts_drain_one_broadcast_and_the_survivor_finishes_it_when_one_is_killed() {
    const MEMBERS: usize = 40_000;
    let at = africastalking::bulk_double();
    let redis = RedisServer::start();
    let vars = africastalking::sms_vars(&at.url);
    let a = Gateway::start_sharing(&redis, &vars);
    let b = Gateway::start_sharing(&redis, &vars);

    let id = broadcast_to_new_group(&a, MEMBERS, "Boil water before drinking");
    let before_kill = wait_for(300, "a fifth of the broadcast at the provider", || {
        let n = africastalking::numbers_given(&at);
        (n >= MEMBERS / 5).then_some(n)
    });
    let a_logs = a.logs();
    a.crash();
    assert!(
        before_kill < MEMBERS,
        "the broadcast finished before the kill: the test proves nothing"
    );

    // The dead host's fan-out lease and batch claims run out (within 30 s: live holders
    // renew theirs); then the survivor takes the broadcast up where the shared cursor and
    // outcome rows say.
    let killed = std::time::Instant::now();
    let view = b.wait_broadcast_done(KEY, &id, 600);
    let finished = killed.elapsed();
    assert_eq!(view["counts"]["sent"], MEMBERS, "one outcome each: {view}");
    assert_eq!(view["counts"]["failed"], 0, "{view}");

    let times = africastalking::times_sent(&at);
    let missed = (0..MEMBERS)
        .map(africastalking::accepted_number)
        .filter(|p| !times.contains_key(p))
        .count();
    assert_eq!(missed, 0, "recipients never reached");
    assert_eq!(times.len(), MEMBERS, "no number outside the group");
    let twice: usize = times.values().map(|n| n - 1).sum();
    eprintln!(
        "killed one host after {before_kill} of {MEMBERS}; the survivor finished {:.1} s later; {twice} sent twice",
        finished.as_secs_f64()
    );
    // Only what the dead host had at the provider can go twice: four batches of 500.
    assert!(twice <= 4 * 500, "{twice} numbers sent twice");
    assert!(
        a_logs.contains("batch.sent") && b.logs().contains("batch.sent"),
        "both hosts sent batches"
    );
}

#[test]
fn two_live_hosts_send_each_member_of_a_broadcast_exactly_once() {
    const MEMBERS: usize = 20_000;
    let at = africastalking::bulk_double();
    let redis = RedisServer::start();
    let vars = africastalking::sms_vars(&at.url);
    let a = Gateway::start_sharing(&redis, &vars);
    let b = Gateway::start_sharing(&redis, &vars);

    // Started on one host, while the other's timer races it for the same work.
    let id = broadcast_to_new_group(&b, MEMBERS, "Polio vaccination on Saturday");
    let view = a.wait_broadcast_done(KEY, &id, 300);
    assert_eq!(view["counts"]["sent"], MEMBERS, "{view}");
    let times = africastalking::times_sent(&at);
    assert_eq!(times.len(), MEMBERS, "every member reached");
    assert!(
        times.values().all(|&n| n == 1),
        "{} numbers sent more than once",
        times.values().filter(|&&n| n > 1).count()
    );
}
