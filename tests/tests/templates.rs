//! Templates: named placeholders and a variant per language, for messages and
//! broadcasts; the recipient's language picks the variant; missing values are refused at
//! submit time and nothing is stored.

use integration_tests::gateway::{Gateway, KEY};
use serde_json::{Value, json};

fn values() -> Value {
    json!({"child": "Baraka", "date": "12 May", "clinic": "Kibera Health Centre"})
}

#[test]
fn a_message_from_a_template_in_the_recipients_language() {
    let gw = Gateway::start();
    let id = gw.accept(
        json!({"channel": "sms", "to": "+254712345678", "language": "sw",
        "template": {"name": "vaccination-reminder", "values": values()}}),
    );
    gw.wait_status(&id, "delivered");
    let entries = gw.outbox_entries();
    assert_eq!(
        entries[0]["body"],
        "Baraka anatakiwa kupata chanjo tarehe 12 May katika Kibera Health Centre. Jibu NDIO kuthibitisha."
    );

    let email = gw.accept(json!({"channel": "email", "to": "amina@example.org",
        "template": {"name": "vaccination-reminder", "values": values()}}));
    gw.wait_status(&email, "delivered");
    let sent = gw
        .outbox_entries()
        .into_iter()
        .find(|e| e["id"] == email.as_str())
        .unwrap();
    assert_eq!(
        sent["subject"], "Vaccination on 12 May",
        "the default language"
    );
}

#[test]
fn missing_or_unknown_values_and_unknown_templates_are_refused_before_anything_is_stored() {
    let gw = Gateway::start();
    let rows_before = gw.stored_rows().len();
    let cases = [
        (
            json!({"channel": "sms", "to": "+254712345678",
                   "template": {"name": "vaccination-reminder", "values": {"child": "Baraka"}}}),
            "invalid_template_values",
            "clinic, date",
        ),
        (
            json!({"channel": "sms", "to": "+254712345678",
                   "template": {"name": "vaccination-reminder",
                                "values": {"child": "B", "date": "d", "clinic": "c", "clinc": "typo"}}}),
            "invalid_template_values",
            "clinc",
        ),
        (
            json!({"channel": "sms", "to": "+254712345678",
                   "template": {"name": "no-such-template", "values": {}}}),
            "unknown_template",
            "no-such-template",
        ),
        (
            json!({"channel": "sms", "to": "+254712345678", "body": "x",
                   "template": {"name": "vaccination-reminder", "values": values()}}),
            "invalid_request",
            "exactly one of body and template",
        ),
    ];
    for (body, code, names) in cases {
        let refused = gw.send(KEY, &body, &[]);
        assert!(
            refused.status == 422 || refused.status == 400,
            "{}",
            refused.body
        );
        assert_eq!(refused.json()["error"]["code"], code, "{}", refused.body);
        assert!(refused.body.contains(names), "{}", refused.body);
    }
    let broadcast = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(
            &json!({"recipients": [{"channel": "sms", "address": "+254712345678"}],
                     "template": {"name": "vaccination-reminder", "values": {}}}),
        ),
    );
    assert_eq!(broadcast.status, 422, "{}", broadcast.body);
    assert_eq!(
        gw.rows_but_auth_failures().len(),
        rows_before,
        "refusals store nothing"
    );
}

#[test]
fn a_broadcast_speaks_each_members_language() {
    let gw = Gateway::start();
    let accepted = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": [
            {"channel": "sms", "address": "+254700000001", "language": "sw"},
            {"channel": "sms", "address": "+254700000002", "language": "fr-CA"},
            {"channel": "sms", "address": "+254700000003"},
            {"channel": "sms", "address": "+254700000004", "language": "pt"},
            {"channel": "email", "address": "amina@example.org", "language": "sw"}
        ], "template": {"name": "vaccination-reminder", "values": values()}})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    gw.wait_broadcast_done(KEY, &id, 30);
    let entries = gw.outbox_entries();
    let body_to = |to: &str| {
        entries
            .iter()
            .find(|e| e["to"] == to)
            .unwrap_or_else(|| panic!("{to} got nothing"))["body"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(body_to("+254700000001").contains("anatakiwa"));
    assert!(
        body_to("+254700000002").contains("doit être vacciné"),
        "fr-CA → fr"
    );
    assert!(
        body_to("+254700000003").contains("is due"),
        "no language → default"
    );
    assert!(
        body_to("+254700000004").contains("is due"),
        "no pt variant → default"
    );
    let email = entries.iter().find(|e| e["channel"] == "email").unwrap();
    assert_eq!(email["subject"], "Chanjo tarehe 12 May");
}

#[test]
fn a_policy_with_a_template_set_offers_only_those_templates() {
    let other =
        "default_language = \"en\"\n[languages.en]\nbody = \"Your tax return is due on {date}.\"\n";
    let clinic = "roles = [\"*\"]\nvalidity = \"24h\"\ntemplates = [\"vaccination-reminder\"]\n[channels.sms]\ncell = \"deliver-sms\"\n";
    let gw = Gateway::start_with_policies(
        &[],
        &[
            ("clinic.toml", clinic),
            ("templates/tax-reminder.toml", other),
        ],
    );
    let offered = gw.accept(
        json!({"channel": "sms", "to": "+254712345678", "policy": "clinic",
        "template": {"name": "vaccination-reminder", "values": values()}}),
    );
    gw.wait_status(&offered, "delivered");

    // The delivered message's dispatcher may still be clearing its marks: start from a
    // settled store.
    let rows_before = gw.settled_rows_but_auth_failures().len();
    let refused = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345678", "policy": "clinic",
                "template": {"name": "tax-reminder", "values": {"date": "30 June"}}}),
        &[],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "unknown_template");
    assert!(
        refused.body.contains("clinic") && refused.body.contains("tax-reminder"),
        "{}",
        refused.body
    );
    let broadcast = gw.call(
        KEY,
        "/v1/broadcasts",
        Some(&json!({"recipients": [{"channel": "sms", "address": "+254712345678"}],
            "policy": "clinic", "template": {"name": "tax-reminder", "values": {"date": "30 June"}}})),
    );
    assert_eq!(broadcast.status, 422, "{}", broadcast.body);
    assert_eq!(
        gw.stored_rows().len(),
        rows_before,
        "refusals store nothing"
    );

    // The default policy lists no templates: it offers them all.
    let open = gw.accept(json!({"channel": "sms", "to": "+254712345679",
        "template": {"name": "tax-reminder", "values": {"date": "30 June"}}}));
    gw.wait_status(&open, "delivered");
}
