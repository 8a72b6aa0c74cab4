//! Real email delivery: SMTP to a real server on loopback (aiosmtpd), whose received
//! envelope and text the tests read byte for byte, and SendGrid's HTTP API to a double that
//! records its requests.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::http;
use integration_tests::smtp::{SmtpServer, TestCertificates};
use serde_json::json;

/// The clinic's domain, which the test caller sends from (only `smtp_from` is allowed
/// without `email_senders`).
const SENDERS: (&str, &str) = ("email_senders", "registry:@health.example.org");

fn gateway_on(smtp: &SmtpServer, extra: &[(&str, &str)]) -> Gateway {
    let port = smtp.port.to_string();
    let mut vars = vec![
        ("email_provider", "smtp"),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", port.as_str()),
        ("smtp_from", "notifications@gateway.example.org"),
        ("smtp_helo", "gateway.example.org"),
        ("retry_base_ms", "500"),
        SENDERS,
    ];
    vars.extend_from_slice(extra);
    Gateway::start_with(&vars)
}

/// Sends a GovStack single email as the test caller and checks it was accepted.
fn send_govstack_single(gw: &Gateway, body: &serde_json::Value) {
    let r = http::request(
        "POST",
        &format!("{}/send/email/single", gw.base),
        &[("apiKey", KEY), ("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn decode_body(received: &integration_tests::smtp::Received) -> String {
    use base64::Engine;
    let joined: String = received.body().split("\r\n").collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn a_govstack_email_with_cc_and_bcc_arrives_with_the_right_envelope_and_headers() {
    let smtp = SmtpServer::start(&[]);
    let gw = gateway_on(&smtp, &[]);
    let body = json!({
        "senderInfo": {"email": "clinic@health.example.org", "replyTo": "desk@health.example.org", "name": "Clínica Central"},
        "recipientInfo": {"email": "patient@example.org", "emailCC": "guardian@example.org", "emailBCC": "auditor@example.org", "name": "Amina"},
        "emailContent": {"encoding": "UTF-8", "title": "Résultats prêts – 检查结果", "content": "Bonjour,\n.vos résultats sont prêts.\nÀ bientôt"}
    });
    send_govstack_single(&gw, &body);
    let received = integration_tests::wait_for(20, "the SMTP server to receive the email", || {
        let got = smtp.received();
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(received.len(), 1, "one message for To, Cc and Bcc together");
    let mail = &received[0];
    assert_eq!(mail.mail_from, "clinic@health.example.org");
    let mut rcpts = mail.rcpt_tos.clone();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            "auditor@example.org",
            "guardian@example.org",
            "patient@example.org"
        ]
    );
    assert!(mail.data.is_ascii(), "8-bit text must be encoded");
    assert_eq!(
        mail.header("To").as_deref(),
        Some("Amina <patient@example.org>")
    );
    assert_eq!(mail.header("Cc").as_deref(), Some("guardian@example.org"));
    assert_eq!(
        mail.header("Reply-To").as_deref(),
        Some("desk@health.example.org")
    );
    assert!(
        mail.header("Bcc").is_none() && !mail.data.contains("auditor@example.org"),
        "Bcc leaked into the message"
    );
    assert!(mail.header("Subject").unwrap().starts_with("=?UTF-8?B?"));
    assert_eq!(
        mail.header("Content-Type").as_deref(),
        Some("text/plain; charset=UTF-8")
    );
    assert!(
        mail.header("Message-ID")
            .unwrap()
            .ends_with("@gateway.example.org>")
    );
    assert_eq!(
        decode_body(mail),
        "Bonjour,\n.vos résultats sont prêts.\nÀ bientôt"
    );
}

#[test]
fn a_v1_email_without_sender_uses_the_configured_from_and_is_sent() {
    let smtp = SmtpServer::start(&[]);
    let gw = gateway_on(&smtp, &[]);
    let id = gw.accept(
        json!({"channel":"email","to":"amina@example.org","subject":"Hello","body":"Plain text"}),
    );
    let view = gw.wait_status(&id, "sent");
    assert_eq!(view["status"], "sent");
    let mail = &smtp.received()[0];
    assert_eq!(mail.mail_from, "notifications@gateway.example.org");
    assert_eq!(mail.header("Subject").as_deref(), Some("Hello"));
    assert!(
        !gw.holds_payload(),
        "address and content are erased once the server has the message"
    );
}

#[test]
fn a_permanent_refusal_bounces_and_a_temporary_one_is_retried() {
    let smtp = SmtpServer::start(&["--reject", "nobody@example.org"]);
    let gw = gateway_on(&smtp, &[]);
    let id =
        gw.accept(json!({"channel":"email","to":"nobody@example.org","subject":"x","body":"x"}));
    gw.wait_status(&id, "failed");
    assert!(smtp.received().is_empty());
    let logs = gw.wait_log("dispatch.failed");
    assert!(logs.contains("550"));
    assert!(
        !logs.contains("nobody@example.org"),
        "the server's reply quoted the address; the log must not"
    );

    let busy = SmtpServer::start(&["--tempfail"]);
    let gw = gateway_on(&busy, &[]);
    let id =
        gw.accept(json!({"channel":"email","to":"later@example.org","subject":"x","body":"x"}));
    integration_tests::wait_for(20, "two deferred attempts", || {
        (gw.logs().matches("dispatch.deferred").count() >= 2).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
    assert!(
        gw.holds_payload(),
        "a deferred email keeps its payload for the next attempt"
    );
}

/// A server that offers no STARTTLS (or whoever stripped it on the way) would read the
/// credentials: they are never sent, whatever `smtp_tls` says, and the email waits.
#[test]
fn smtp_credentials_never_travel_in_clear_text() {
    let smtp = SmtpServer::start(&["--auth", "gateway:s3cret"]);
    for tls in ["starttls", "off"] {
        let gw = gateway_on(
            &smtp,
            &[
                ("smtp_username", "gateway"),
                ("smtp_password", "s3cret"),
                ("smtp_tls", tls),
            ],
        );
        let id = gw.accept(
            json!({"channel":"email","to":"amina@example.org","subject":"Auth","body":"x"}),
        );
        integration_tests::wait_for(20, "two deferred attempts", || {
            (gw.logs().matches("dispatch.deferred").count() >= 2).then_some(())
        });
        assert_eq!(gw.status(KEY, &id).json()["status"], "queued", "{tls}");
        assert!(!gw.logs().contains("s3cret"), "{tls}");
    }
    assert_eq!(smtp.auth_attempts(), 0, "AUTH reached a plain-text server");
    assert!(smtp.received().is_empty());
    // Over TLS the same credentials are used: `starttls_is_used_where_offered_and_auth_
    // travels_inside_it`. Refused credentials (535) defer rather than fail: see the
    // session's unit tests (aiosmtpd does not answer a wrong AUTH PLAIN promptly).
}

fn tls_server(certs: &TestCertificates, extra: &[&str]) -> SmtpServer {
    let mut options = certs.sink_options();
    options.extend(extra.iter().map(|o| o.to_string()));
    SmtpServer::start(&options.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn starttls_is_used_where_offered_and_auth_travels_inside_it() {
    let certs = TestCertificates::new();
    // The server refuses MAIL before STARTTLS and AUTH outside TLS.
    let smtp = tls_server(&certs, &["--require-tls", "--auth", "gateway:s3cret"]);
    let gw = gateway_on(
        &smtp,
        &[
            ("smtp_tls_ca", &certs.ca_pem),
            ("smtp_username", "gateway"),
            ("smtp_password", "s3cret"),
        ],
    );
    let id = gw.accept(
        json!({"channel":"email","to":"amina@example.org","subject":"Over TLS","body":"Sealed"}),
    );
    gw.wait_status(&id, "sent");
    let mail = &smtp.received()[0];
    assert!(
        mail.tls.as_deref().is_some_and(|v| v.starts_with("TLSv1.")),
        "the message came over TLS: {:?}",
        mail.tls
    );
    assert_eq!(mail.header("Subject").as_deref(), Some("Over TLS"));
    assert_eq!(
        smtp.auth_attempts(),
        1,
        "the credentials were used, inside TLS"
    );
}

#[test]
fn implicit_tls_speaks_tls_from_the_first_byte() {
    let certs = TestCertificates::new();
    let smtp = tls_server(&certs, &["--implicit"]);
    let gw = gateway_on(
        &smtp,
        &[("smtp_tls", "implicit"), ("smtp_tls_ca", &certs.ca_pem)],
    );
    let id =
        gw.accept(json!({"channel":"email","to":"amina@example.org","subject":"x","body":"x"}));
    gw.wait_status(&id, "sent");
    assert!(smtp.received()[0].tls.is_some());
}

#[test]
fn an_untrusted_certificate_or_missing_starttls_keeps_the_message_waiting_unsent() {
    // The server's CA is not trusted: the handshake fails before a byte of the message
    // leaves, and the opportunistic policy does not fall back to plain text.
    let certs = TestCertificates::new();
    let smtp = tls_server(&certs, &[]);
    let gw = gateway_on(&smtp, &[]);
    let id =
        gw.accept(json!({"channel":"email","to":"amina@example.org","subject":"x","body":"x"}));
    integration_tests::wait_for(20, "a deferred attempt", || {
        gw.logs().contains("dispatch.deferred").then_some(())
    });
    assert!(
        gw.logs().contains("certificate"),
        "the reason names the certificate"
    );
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
    assert!(smtp.received().is_empty());
    assert!(gw.holds_payload(), "kept for a retry once TLS is fixed");

    // TLS required, but the server offers no STARTTLS.
    let plain = SmtpServer::start(&[]);
    let gw = gateway_on(&plain, &[("smtp_tls", "required")]);
    let id =
        gw.accept(json!({"channel":"email","to":"amina@example.org","subject":"x","body":"x"}));
    integration_tests::wait_for(20, "a deferred attempt", || {
        gw.logs().contains("dispatch.deferred").then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
    assert!(plain.received().is_empty());
}

fn gateway_on_sendgrid(double: &integration_tests::recorder::Recorder) -> Gateway {
    Gateway::start_with(&[
        ("email_provider", "sendgrid"),
        ("sendgrid_url", &double.url),
        ("sendgrid_api_key", "SG.test-key"),
        ("smtp_from", "notifications@gateway.example.org"),
        ("retry_base_ms", "500"),
        SENDERS,
    ])
}

#[test]
fn sendgrid_receives_its_documented_mail_send_request() {
    let double = integration_tests::recorder::Recorder::start();
    double.answer_with(202);
    let gw = gateway_on_sendgrid(&double);
    let body = json!({
        "senderInfo": {"email": "clinic@health.example.org", "name": "Example Clinic", "replyTo": "desk@health.example.org"},
        "recipientInfo": {"email": "patient@example.org", "emailCC": "guardian@example.org", "emailBCC": "auditor@example.org", "name": "Amina"},
        "emailContent": {"encoding": "UTF-8", "title": "Your registration", "content": "Please come on Monday at 9:00."}
    });
    send_govstack_single(&gw, &body);
    let got = integration_tests::wait_for(20, "SendGrid's request", || {
        let got = double.received();
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/v3/mail/send");
    assert_eq!(got[0].header("authorization"), Some("Bearer SG.test-key"));
    let sent: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        sent["personalizations"][0]["to"],
        json!([{"email": "patient@example.org", "name": "Amina"}])
    );
    assert_eq!(
        sent["personalizations"][0]["cc"],
        json!([{"email": "guardian@example.org"}])
    );
    assert_eq!(
        sent["personalizations"][0]["bcc"],
        json!([{"email": "auditor@example.org"}])
    );
    assert_eq!(
        sent["from"],
        json!({"email": "clinic@health.example.org", "name": "Example Clinic"})
    );
    assert_eq!(
        sent["reply_to"],
        json!({"email": "desk@health.example.org"})
    );
    assert_eq!(
        sent["content"],
        json!([{"type": "text/plain", "value": "Please come on Monday at 9:00."}])
    );
    assert!(
        sent["custom_args"]["gateway_message_id"]
            .as_str()
            .unwrap()
            .starts_with("msg_")
    );
}

#[test]
fn sendgrid_refusals_fail_and_its_outages_defer() {
    let refusing = integration_tests::recorder::Recorder::start();
    refusing.answer_with(400);
    let gw = gateway_on_sendgrid(&refusing);
    let id =
        gw.accept(json!({"channel":"email","to":"amina@example.org","subject":"x","body":"x"}));
    gw.wait_status(&id, "failed");

    let down = integration_tests::recorder::Recorder::start();
    down.answer_with(503);
    let gw = gateway_on_sendgrid(&down);
    let id =
        gw.accept(json!({"channel":"email","to":"amina@example.org","subject":"x","body":"x"}));
    integration_tests::wait_for(20, "two attempts", || {
        (down.received().len() >= 2).then_some(())
    });
    assert_eq!(gw.status(KEY, &id).json()["status"], "queued");
}
