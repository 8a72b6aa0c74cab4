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

const MEMBERS: usize = 100_000;
/// What can be in flight when the host dies: the broadcaster keeps four batches of 500 at
/// the cells at once.
const IN_FLIGHT: usize = 4 * 500;

#[test]
fn a_broadcast_killed_midway_is_finished_after_restart_reaching_everyone() {
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with(&africastalking::sms_vars(&at.url));
    let numbers: Vec<String> = (0..MEMBERS).map(africastalking::accepted_number).collect();
    let id = gw.broadcast_to_new_group(KEY, &numbers, "Evacuate the river banks now");

    let before_kill = wait_for(300, "a fifth of the broadcast at the provider", || {
        let n = africastalking::numbers_given(&at);
        (n >= MEMBERS / 5).then_some(n)
    });
    let gw = gw.crash_and_restart();
    assert!(
        before_kill < MEMBERS,
        "the broadcast finished before the kill: the test proves nothing"
    );

    // Leases and claims of the dead host run out (a minute or two), then the new host
    // takes the broadcast up where its cursor and outcome rows say.
    let view = gw.wait_broadcast_done(KEY, &id, 600);
    assert_eq!(view["counts"]["sent"], MEMBERS, "one outcome each: {view}");
    assert_eq!(view["counts"]["failed"], 0, "{view}");

    let times = africastalking::times_sent(&at);
    let missed: Vec<&String> = numbers.iter().filter(|p| !times.contains_key(*p)).collect();
    assert!(
        missed.is_empty(),
        "{} recipients never reached, e.g. {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
    assert_eq!(times.len(), MEMBERS, "no number outside the group");
    let twice = times.values().sum::<usize>() - MEMBERS;
    eprintln!(
        "killed after {before_kill} of {MEMBERS} numbers had reached the provider; {twice} sent twice"
    );
    assert!(
        twice <= IN_FLIGHT,
        "{twice} numbers sent twice: more than the batches in flight at the kill"
    );
    assert!(times.values().all(|&n| n <= 2), "none three times");
}
