//! Roles decide what a caller may use: a policy's channel can be kept to some roles, and a
//! group is its owner's unless shared with roles, whose callers may broadcast to it but not
//! read or change it.

use integration_tests::gateway::{Gateway, api_keys};
use serde_json::{Value, json};

const REGISTRY: &str = "test-key-registry-0123456789abcdef";
const AGENCY: &str = "test-key-agency-0123456789abcdef";
const TAX: &str = "test-key-tax-0123456789abcdef";

const CLINIC: &str = r#"
roles = ["*"]
validity = "1h"
[channels.sms]
cell = "deliver-sms"
roles = ["health"]
[channels.email]
cell = "deliver-email"
"#;

fn gateway() -> Gateway {
    let keys = api_keys(&[
        ("registry", "notify+health", REGISTRY),
        ("agency", "notify+alerts", AGENCY),
        ("tax", "notify", TAX),
    ]);
    Gateway::start_with_policies(&[("api_keys", &keys)], &[("clinic.toml", CLINIC)])
}

#[test]
fn a_channel_kept_to_some_roles_refuses_the_others() {
    let gw = gateway();
    let sms =
        json!({"channel": "sms", "to": "+254712345678", "body": "Clinic day", "policy": "clinic"});
    let refused = gw.send(TAX, &sms, &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("sms"), "{}", refused.body);
    assert_eq!(
        gw.send(REGISTRY, &sms, &[]).status,
        202,
        "the health role may"
    );
    let email = json!({"channel": "email", "to": "amina@example.org", "subject": "Clinic", "body": "Clinic day", "policy": "clinic"});
    assert_eq!(
        gw.send(TAX, &email, &[]).status,
        202,
        "its other channel is open"
    );
}

#[test]
fn a_group_shared_with_a_role_takes_broadcasts_from_it_and_stays_its_owners() {
    let gw = gateway();
    let created = gw.call(
        REGISTRY,
        "/v1/groups",
        Some(&json!({"name": "Community health workers", "roles": ["alerts"]})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["roles"], json!(["alerts"]));
    let group = created.json()["id"].as_str().unwrap().to_string();
    let members: Vec<Value> = (1..=3)
        .map(|i| json!({"channel": "sms", "address": format!("+25470000000{i}")}))
        .collect();
    gw.add_members(REGISTRY, &group, &members);

    let broadcast = json!({"group": group, "body": "River rising: move to higher ground"});
    let accepted = gw.call(AGENCY, "/v1/broadcasts", Some(&broadcast));
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let view = gw.wait_broadcast_done(AGENCY, &id, 30);
    assert_eq!(view["counts"]["delivered"], 3, "{view}");

    // The agency may broadcast, not look inside; a caller without the role sees nothing.
    assert_eq!(
        gw.call(AGENCY, &format!("/v1/groups/{group}"), None).status,
        404
    );
    let change = gw.call(
        AGENCY,
        &format!("/v1/groups/{group}/members"),
        Some(&json!(members[0])),
    );
    assert_eq!(change.status, 404);
    assert_eq!(gw.call(TAX, "/v1/broadcasts", Some(&broadcast)).status, 404);
    assert_eq!(
        gw.call(REGISTRY, &format!("/v1/groups/{group}"), None)
            .status,
        200
    );
}
