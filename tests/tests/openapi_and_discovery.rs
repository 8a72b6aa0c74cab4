//! Discovery through the Information Mediator: the OpenAPI document validates, describes
//! exactly the routes the gateway serves, and the IM client header is recorded.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::http;
use serde_json::json;

#[test]
fn the_openapi_document_is_valid_openapi_3_1() {
    let gw = Gateway::start();
    let response = http::request("GET", &format!("{}/openapi.json", gw.base), &[], None);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let doc = response.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let file = gw.dir.path().join("openapi.json");
    std::fs::write(&file, &response.body).unwrap();
    let check = std::process::Command::new(integration_tests::python())
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("the test tools' Python runs");
    let out = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success(),
        "openapi-spec-validator refused the document:\n{out}"
    );
}

#[test]
fn every_documented_operation_is_served_and_the_govstack_ones_are_there() {
    let gw = Gateway::start();
    let doc = http::request("GET", &format!("{}/openapi.json", gw.base), &[], None).json();
    let paths = doc["paths"].as_object().unwrap();
    for required in [
        "/send/email/single",
        "/send/email/batch",
        "/callback/email",
        "/status/email",
        "/v1/messages",
        "/v1/messages/{id}",
    ] {
        assert!(paths.contains_key(required), "{required} is not documented");
    }
    for (path, operations) in paths {
        let concrete = path.replace("{id}", "msg_0000000000000000000000000a");
        for method in operations.as_object().unwrap().keys() {
            let r = http::request(
                &method.to_uppercase(),
                &format!("{}{concrete}", gw.base),
                &[("apiKey", KEY)],
                None,
            );
            let unrouted = r.status == 404 && r.body.contains("no such route");
            assert!(!unrouted, "{method} {path} is documented but not served");
        }
    }
}

#[test]
fn the_information_mediator_client_header_is_recorded_as_the_calling_system() {
    let gw = Gateway::start();
    let r = gw.send(
        KEY,
        &json!({"channel":"sms","to":"+254712345678","body":"From the registry"}),
        &[("X-Road-Client", "GOV/1234/health-registry/notifications")],
    );
    assert_eq!(r.status, 202);
    integration_tests::wait_for(10, "the accepted event", || {
        gw.logs()
            .contains("GOV/1234/health-registry/notifications")
            .then_some(())
    });
    let email = http::request(
        "POST",
        &format!("{}/send/email/single", gw.base),
        &[("apiKey", KEY), ("content-type", "application/json"), ("X-GovStack-Client", "GOV/5678/social-care")],
        Some(json!({"recipientInfo": {"email": "a@example.org"}, "emailContent": {"title": "t", "content": "c"}}).to_string().as_bytes()),
    );
    assert_eq!(email.status, 200, "{}", email.body);
    integration_tests::wait_for(10, "the accepted event", || {
        gw.logs().contains("GOV/5678/social-care").then_some(())
    });
}
