//! Authentication messages keep their purpose private: an OTP sent under a login policy,
//! with a caller reference that names the login, reaches each SMS provider with the number,
//! the text and what the provider needs to report delivery, and nothing that names the
//! calling system, the policy or the reference.

use integration_tests::gateway::Gateway;
use integration_tests::recorder::{Recorded, Recorder};
use integration_tests::{africastalking, provider_fixture, twilio};
use serde_json::json;

const LOGIN: &str = r#"
description = "One-time passwords for citizen logins"
roles = ["*"]
validity = "5m"
priority = "emergency"
[channels.sms]
cell = "deliver-sms"
"#;

/// What a provider saw of a request: path, headers and body, as text.
fn seen(request: &Recorded) -> String {
    let headers: Vec<String> = request
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    format!(
        "{} {}\n{}\n{}",
        request.method,
        request.path,
        headers.join("\n"),
        String::from_utf8_lossy(&request.body)
    )
}

fn send_otp(gw: &Gateway) {
    let id = gw.accept(json!({
        "channel": "sms",
        "to": "+254712345678",
        "body": "Your code is 482913",
        "policy": "citizen-login",
        "reference": "login-attempt-7731",
    }));
    gw.wait_status(&id, "sent");
}

fn assert_private(what: &str, request: &Recorded) {
    let text = seen(request);
    assert!(text.contains("482913"), "{what} got the text:\n{text}");
    for secret in ["registry", "citizen-login", "login-attempt-7731", "login"] {
        assert!(
            !text.to_ascii_lowercase().contains(secret),
            "{what} was told {secret:?}:\n{text}"
        );
    }
}

#[test]
fn an_otp_reaches_the_provider_without_caller_policy_or_reference() {
    let twilio = Recorder::start();
    twilio.answer_json(201, &provider_fixture("twilio", "message_created.json"));
    let gw = Gateway::start_with_policies(
        &twilio::sms_vars(&twilio.url),
        &[("citizen-login.toml", LOGIN)],
    );
    send_otp(&gw);
    assert_private("Twilio", &twilio.received()[0]);

    let at = africastalking::bulk_double();
    let gw = Gateway::start_with_policies(
        &africastalking::sms_vars(&at.url),
        &[("citizen-login.toml", LOGIN)],
    );
    send_otp(&gw);
    assert_private("Africa's Talking", &at.received()[0]);
}
