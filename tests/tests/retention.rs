//! Retention: finished messages are erased after `retention`, leaving a count without
//! personal data; a message still waiting for its provider is never erased.

use integration_tests::africastalking;
use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use integration_tests::{wait_for, workspace_root};
use messaging_domain::api::rfc3339_millis;
use messaging_domain::counter::decode;
use serde_json::json;

#[test]
fn finished_messages_are_erased_after_retention_and_only_counts_remain() {
    let twilio_down = Recorder::start();
    twilio_down.answer_json(503, "{}");
    let gw = Gateway::start_with(
        &[
            twilio::sms_vars(&twilio_down.url).as_slice(),
            &[("retention", "2s")],
        ]
        .concat(),
    );
    let delivered = gw.accept(json!({"channel": "email", "to": "amina@example.org",
        "subject": "Results", "body": "Your results are ready"}));
    gw.wait_status(&delivered, "delivered");
    let waiting = gw.accept(json!({"channel": "sms", "to": "+254712345678", "body": "x"}));

    wait_for(30, "the delivered message to be swept", || {
        let prefix = format!("msg/{delivered}");
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with(&prefix)))
        .then_some(())
    });
    assert_eq!(gw.status(KEY, &delivered).status, 404, "its record is gone");
    let counts: Vec<(String, i64)> = gw
        .stored_rows()
        .into_iter()
        .filter(|(_, k, _)| k.starts_with("stats/"))
        .map(|(_, k, v)| (k, decode(&v).expect("a counter")))
        .collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(counts[0].0.ends_with("/email/delivered"), "{counts:?}");
    assert_eq!(counts[0].1, 1);

    // The SMS is still waiting for its provider: past retention, but never erased.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let view = gw.status(KEY, &waiting);
    assert_eq!(view.status, 200);
    assert_eq!(view.json()["status"], "queued");
    assert!(
        gw.holds_payload(),
        "its sealed payload is kept for the next attempt"
    );
}

// Long enough for three SMS to leave on a loaded machine: a broadcast that has not
// settled by the end of its retention is kept until it has.
const BRIEF: &str = r#"
roles = ["*"]
validity = "8s"
[channels.sms]
cell = "deliver-sms"
"#;

#[test]
fn a_broadcast_is_erased_after_its_validity_and_retention_keeping_only_counts() {
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with_policies(
        &[
            africastalking::sms_vars(&at.url).as_slice(),
            &[("retention", "2s")],
        ]
        .concat(),
        &[("brief.toml", BRIEF)],
    );
    let recipients: Vec<serde_json::Value> = (1..=3)
        .map(|i| json!({"channel": "sms", "address": format!("+25470000000{i}")}))
        .collect();
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": recipients, "body": "Roads closed", "policy": "brief"})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    gw.wait_broadcast_done(KEY, &id, 30);
    // Africa's Talking's ids map to the recipients, for its delivery reports.
    let mappings = || {
        gw.stored_rows()
            .iter()
            .filter(|(_, k, _)| k.starts_with("pid/"))
            .count()
    };
    assert_eq!(mappings(), 3);

    // Eight seconds of validity, then two of retention: everything of it goes.
    wait_for(60, "the broadcast to be swept", || {
        let left: Vec<String> = gw
            .stored_rows()
            .into_iter()
            .map(|(_, k, _)| k)
            .filter(|k| k.contains(&id))
            .collect();
        left.is_empty().then_some(())
    });
    assert_eq!(mappings(), 0, "its provider-id mappings went with it");
    assert_eq!(
        gw.call(KEY, &format!("/v1/broadcasts/{id}"), None).status,
        404
    );
    let counts: Vec<(String, i64)> = gw
        .stored_rows()
        .into_iter()
        .filter(|(_, k, _)| k.starts_with("stats/") && k.contains("/broadcast/"))
        .map(|(_, k, v)| (k, decode(&v).expect("a counter")))
        .collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(counts[0].0.ends_with("/broadcast/sent"), "{counts:?}");
    assert_eq!(counts[0].1, 3);
}

#[test]
fn an_inbound_message_its_owner_never_fetched_is_erased_after_retention() {
    let gw = Gateway::start_with_policies(
        &[
            ("retention", "2s"),
            ("africastalking_webhook_token", "at-token"),
        ],
        &[(
            "inbound/routes.toml",
            "[[route]]\nkeyword = \"REGISTER\"\nowner = \"registry\"\n",
        )],
    );
    let answer = africastalking::text_in(
        &gw.base,
        "+254712345678",
        "register Amina 2024-03-01",
        "at-in-1",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let listed = || {
        gw.call(KEY, "/v1/inbound", None).json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(listed(), 1, "kept for its owner to fetch");

    // The record goes; the owner's numbered list of ids (no address, no words) keeps only
    // its counter and head once the owner's next read passes the erased id.
    wait_for(30, "the unfetched message to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("inbound/") && !k.contains("/~")))
        .then_some(())
    });
    assert_eq!(listed(), 0);
    let left: Vec<String> = gw
        .stored_rows()
        .into_iter()
        .filter(|(_, k, _)| k.starts_with("inbound/"))
        .map(|(_, k, _)| k)
        .collect();
    assert_eq!(
        left,
        ["inbound/registry/~/n", "inbound/registry/~head"],
        "{left:?}"
    );
    let counted: Vec<(String, i64)> = gw
        .stored_rows()
        .into_iter()
        .filter(|(_, k, _)| k.starts_with("stats/") && k.ends_with("/inbound/unfetched"))
        .map(|(_, k, v)| (k, decode(&v).expect("a counter")))
        .collect();
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!(counted[0].1, 1);
}

#[test]
fn a_messages_provider_id_mapping_goes_with_it() {
    let at = africastalking::bulk_double();
    let gw = Gateway::start_with(
        &[
            africastalking::sms_vars(&at.url).as_slice(),
            &[("retention", "2s")],
        ]
        .concat(),
    );
    let id = gw.accept(json!({"channel": "sms", "to": "+254712345671", "body": "Results ready"}));
    gw.wait_status(&id, "sent");
    let mapped = || {
        gw.stored_rows()
            .iter()
            .filter(|(_, k, _)| k.starts_with("pid/"))
            .count()
    };
    assert_eq!(mapped(), 1, "Africa's Talking's id finds the message");
    let answer = africastalking::report_delivery(&gw.base, "+254712345671", "Success");
    assert_eq!(answer.status, 200, "{}", answer.body);
    gw.wait_status(&id, "delivered");

    wait_for(30, "the message to be swept", || {
        (gw.status(KEY, &id).status == 404).then_some(())
    });
    assert_eq!(mapped(), 0, "its provider-id mapping went with it");
}

#[test]
fn request_reservations_are_erased_after_retention() {
    let gw = Gateway::start_with(&[("retention", "2s")]);
    let keyed = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345678", "body": "Keyed"}),
        &[("Idempotency-Key", "reminder-1")],
    );
    assert_eq!(keyed.status, 202, "{}", keyed.body);
    gw.accept(json!({"channel": "sms", "to": "+254712345678", "body": "Hashed"}));
    // Each reservation with the claim that decided its creation.
    let kept = || -> Vec<String> {
        gw.stored_rows()
            .into_iter()
            .map(|(_, k, _)| k)
            .filter(|k| k.starts_with("idem/") || k.starts_with("mhash/"))
            .collect()
    };
    // (A claim may be swept at once: it is written with its reservation, which then
    // decides alone.)
    let reservations = kept().iter().filter(|k| !k.contains("/claim/")).count();
    assert_eq!(reservations, 2, "an Idempotency-Key and a request hash");
    wait_for(30, "the reservations and their claims to be erased", || {
        kept().is_empty().then_some(())
    });
}

#[test]
fn an_alerts_identity_is_erased_with_its_broadcasts() {
    let gw = Gateway::start_with(&[("retention", "2s")]);
    let group = gw.create_group(KEY, "Turkana County");
    gw.add_members(
        KEY,
        &group,
        &[json!({"channel": "sms", "address": "+254700000031"})],
    );
    // The advisory is valid for two seconds; then two of retention.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let expires = rfc3339_millis(now_ms + 2_000);
    let advisory =
        std::fs::read_to_string(workspace_root().join("crates/domain/src/cap/heat_advisory.xml"))
            .unwrap()
            .replace(
                "<certainty>Possible</certainty>",
                &format!(
                    "<certainty>Possible</certainty>\n    <expires>{}Z</expires>",
                    &expires[..19]
                ),
            );
    let accepted = gw.post_raw(KEY, "/v1/alerts", "application/xml", advisory.as_bytes());
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let broadcast = accepted.json()["broadcasts"][0]
        .as_str()
        .unwrap()
        .to_string();
    let identities = || {
        gw.stored_rows()
            .iter()
            .filter(|(_, k, _)| k.starts_with("cap/"))
            .count()
    };
    assert_eq!(
        identities(),
        1,
        "the alert's identity, for repeats and updates"
    );
    wait_for(60, "the alert's identity to be erased", || {
        (identities() == 0).then_some(())
    });
    wait_for(30, "its broadcast to be erased too", || {
        let status = gw
            .call(KEY, &format!("/v1/broadcasts/{broadcast}"), None)
            .status;
        (status == 404).then_some(())
    });
}
