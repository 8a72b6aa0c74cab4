//! Attacks on the GovStack email API (issue 18, item 6): sending as someone else, sending to
//! unlimited recipients, and Cc/Bcc that the quota does not see. Each is refused in the
//! spec's error shape (405, a JSON error, `invalid_input`) before anything is charged or
//! stored, while the legitimate request keeps working.

use integration_tests::gateway::{Gateway, KEY, OTHER_KEY};
use integration_tests::http::{self, Response};
use integration_tests::smtp::SmtpServer;
use serde_json::{Value, json};

/// The test caller `registry` may send from the clinic's domain; `clinic` has no entry.
const SENDERS: (&str, &str) = ("email_senders", "registry:@clinic.example.org");
const GATEWAY_FROM: &str = "notifications@gateway.example.org";

fn post(gw: &Gateway, key: &str, path: &str, body: &Value) -> Response {
    http::request(
        "POST",
        &format!("{}{path}", gw.base),
        &[("apiKey", key), ("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// A spec-shaped single email from `sender` (none: the gateway's own address).
fn email(sender: Option<&str>, to: &str) -> Value {
    let mut body = json!({
        "senderInfo": {"organisationName": "Example Clinic", "name": "Example Doctor"},
        "recipientInfo": {"email": to, "name": "Example Customer"},
        "emailContent": {"encoding": "UTF-8", "title": "Your appointment", "content": "Monday at 9:00."}
    });
    if let Some(sender) = sender {
        body["senderInfo"]["email"] = json!(sender);
    }
    body
}

/// The same email as a batch of one (the other published operation's shape).
fn as_batch(body: &Value) -> Value {
    use base64::Engine;
    let mut batch = body.clone();
    let entries = json!([{ "recipientInfo": body["recipientInfo"] }]);
    batch["recipientInfo"] = json!({"batchEmailAsBase64":
        base64::engine::general_purpose::STANDARD.encode(entries.to_string())});
    batch
}

fn assert_spec_refusal(r: &Response, what: &str) {
    assert_eq!(r.status, 405, "{what}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"), "{what}");
    assert_eq!(r.error_code(), "invalid_input", "{what}");
}

/// What refused requests may leave behind: nothing but the failure counts of
/// authentication (none here, every key is valid).
fn assert_nothing_stored(gw: &Gateway, after: &str) {
    let stored = gw.rows_but_auth_failures();
    assert!(stored.is_empty(), "{after} stored something: {stored:?}");
    assert!(gw.outbox_entries().is_empty(), "{after} reached the outbox");
}

fn addresses(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}@example.com"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn a_forged_sender_is_refused_in_every_spelling_and_nothing_is_sent_or_stored() {
    let smtp = SmtpServer::start(&[]);
    let port = smtp.port.to_string();
    let gw = Gateway::start_with(&[
        ("email_provider", "smtp"),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", port.as_str()),
        ("smtp_from", GATEWAY_FROM),
        ("smtp_helo", "gateway.example.org"),
        SENDERS,
    ]);
    let forged = [
        // Another organisation's address.
        "minister@finance.example.gov",
        // Look-alikes of the allowed domain: prefix, suffix, subdomain, parent.
        "sender@evil-clinic.example.org",
        "sender@clinic.example.org.evil.net",
        "sender@mail.clinic.example.org",
        "sender@example.org",
        // Cyrillic 'а' in place of Latin 'a'.
        "sender@clinic.ex\u{0430}mple.org",
        // A second domain hidden in the address.
        "sender@clinic.example.org@evil.net",
        "\"sender@clinic.example.org\"@evil.net",
        "Clinic <sender@clinic.example.org>",
        "sender@clinic.example.org\r\nBcc: victim@example.com",
        "sender@clinic.example.org.",
        // Another address at the gateway's own domain: only smtp_from itself is open.
        "postmaster@gateway.example.org",
    ];
    for sender in forged {
        let body = email(Some(sender), "customer@example.com");
        for (path, body) in [
            ("/send/email/single", body.clone()),
            ("/send/email/batch", as_batch(&body)),
        ] {
            assert_spec_refusal(
                &post(&gw, KEY, path, &body),
                &format!("{sender:?} on {path}"),
            );
        }
    }
    // The clinic's domain is registry's: another caller cannot send as it.
    let borrowed = post(
        &gw,
        OTHER_KEY,
        "/send/email/single",
        &email(Some("sender@clinic.example.org"), "customer@example.com"),
    );
    assert_spec_refusal(&borrowed, "another caller's domain");
    assert_nothing_stored(&gw, "a forged sender");

    // Legitimate requests: an allowed address (in any ASCII case), no sender at all, and
    // the gateway's own address from a caller with no entry.
    for (key, sender, to) in [
        (KEY, Some("sender@clinic.example.org"), "a@example.com"),
        (KEY, Some("Desk@CLINIC.Example.org"), "b@example.com"),
        (KEY, None, "c@example.com"),
        (OTHER_KEY, Some(GATEWAY_FROM), "d@example.com"),
    ] {
        let r = post(&gw, key, "/send/email/single", &email(sender, to));
        assert_eq!(r.status, 200, "{sender:?}: {}", r.body);
    }
    let received = integration_tests::wait_for(20, "the four legitimate emails", || {
        let got = smtp.received();
        (got.len() >= 4).then_some(got)
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        smtp.received().len(),
        4,
        "only the legitimate emails are sent"
    );
    let mut from: Vec<(String, String)> = received
        .iter()
        .map(|m| (m.rcpt_tos.join(","), m.mail_from.clone()))
        .collect();
    from.sort();
    assert_eq!(
        from,
        [
            ("a@example.com".into(), "sender@clinic.example.org".into()),
            ("b@example.com".into(), "Desk@CLINIC.Example.org".into()),
            ("c@example.com".into(), GATEWAY_FROM.into()),
            ("d@example.com".into(), GATEWAY_FROM.into()),
        ]
    );
}

#[test]
fn with_no_setting_only_the_gateways_own_address_may_be_named() {
    let gw = Gateway::start_with(&[("smtp_from", GATEWAY_FROM)]);
    let forged = post(
        &gw,
        KEY,
        "/send/email/single",
        &email(Some("sender@clinic.example.org"), "customer@example.com"),
    );
    assert_spec_refusal(&forged, "an arbitrary sender with email_senders unset");
    assert_nothing_stored(&gw, "an arbitrary sender");
    for sender in [None, Some(GATEWAY_FROM)] {
        let r = post(
            &gw,
            KEY,
            "/send/email/single",
            &email(sender, "customer@example.com"),
        );
        assert_eq!(r.status, 200, "{sender:?}: {}", r.body);
    }
}

#[test]
fn a_thousand_bcc_recipients_are_refused_and_an_ordinary_email_still_goes() {
    let gw = Gateway::start_with(&[SENDERS]);
    let sender = Some("sender@clinic.example.org");
    let mut mass = email(sender, "customer@example.com");
    mass["recipientInfo"]["emailBCC"] = json!(addresses("bcc", 1000));
    for (path, body) in [
        ("/send/email/single", mass.clone()),
        ("/send/email/batch", as_batch(&mass)),
    ] {
        assert_spec_refusal(
            &post(&gw, KEY, path, &body),
            &format!("1,000 Bcc on {path}"),
        );
    }
    // One past the default of 50 per email (To, Cc and Bcc together), in Cc and Bcc.
    let mut over = email(sender, "customer@example.com");
    over["recipientInfo"]["emailCC"] = json!(addresses("cc", 25));
    over["recipientInfo"]["emailBCC"] = json!(addresses("bcc", 25));
    assert_spec_refusal(
        &post(&gw, KEY, "/send/email/single", &over),
        "51 recipients",
    );
    // A batch of emails each under the limit, 1,040 recipients in all.
    use base64::Engine;
    let entries: Vec<Value> = (0..40)
        .map(|i| json!({"recipientInfo": {"email": format!("to{i}@example.com"), "emailBCC": addresses(&format!("b{i}-"), 25)}}))
        .collect();
    let mut batch = email(sender, "unused@example.com");
    batch["recipientInfo"] = json!({"batchEmailAsBase64":
        base64::engine::general_purpose::STANDARD.encode(json!(entries).to_string())});
    assert_spec_refusal(
        &post(&gw, KEY, "/send/email/batch", &batch),
        "a batch of 1,040 recipients",
    );
    assert_nothing_stored(&gw, "too many recipients");

    // Fifty recipients in one email are fine.
    let mut fifty = email(sender, "customer@example.com");
    fifty["recipientInfo"]["emailCC"] = json!(addresses("cc", 24));
    fifty["recipientInfo"]["emailBCC"] = json!(addresses("bcc", 25));
    let r = post(&gw, KEY, "/send/email/single", &fifty);
    assert_eq!(r.status, 200, "{}", r.body);
    integration_tests::wait_for(20, "the email of fifty recipients", || {
        gw.outbox_entries().into_iter().find(|e| {
            e["email"]["bcc"].as_array().map(Vec::len) == Some(25)
                && e["email"]["cc"].as_array().map(Vec::len) == Some(24)
        })
    });
}

#[test]
fn every_recipient_is_charged_against_the_daily_quota_all_or_nothing() {
    let gw = Gateway::start_with(&[SENDERS, ("daily_quotas", "registry:6")]);
    let sender = Some("sender@clinic.example.org");
    let send = |to: &str, cc: usize, bcc: usize| {
        let mut body = email(sender, &format!("{to}@example.com"));
        body["recipientInfo"]["emailCC"] = json!(addresses(&format!("{to}-cc"), cc));
        body["recipientInfo"]["emailBCC"] = json!(addresses(&format!("{to}-bcc"), bcc));
        post(&gw, KEY, "/send/email/single", &body)
    };
    // One email to five recipients takes five of the six.
    let five = send("first", 2, 2);
    assert_eq!(five.status, 200, "{}", five.body);
    // Two more would pass the quota: refused whole, and charged nothing.
    let over = send("second", 1, 0);
    assert_eq!(over.status, 429, "To and Cc are two: {}", over.body);
    assert_eq!(over.error_code(), "quota_exceeded");
    assert!(over.header("retry-after").is_some());
    // The sixth fits (the refused request took nothing), then the quota is spent.
    let sixth = send("third", 0, 0);
    assert_eq!(sixth.status, 200, "{}", sixth.body);
    let spent = send("fourth", 0, 0);
    assert_eq!(spent.status, 429, "{}", spent.body);
    // Another caller, with no quota, is not affected.
    let other = post(
        &gw,
        OTHER_KEY,
        "/send/email/single",
        &email(None, "x@example.com"),
    );
    assert_eq!(other.status, 200, "{}", other.body);

    integration_tests::wait_for(20, "the three accepted emails", || {
        (gw.outbox_entries().len() == 3).then_some(())
    });
    let mut to: Vec<String> = gw
        .outbox_entries()
        .iter()
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    to.sort();
    assert_eq!(
        to,
        ["first@example.com", "third@example.com", "x@example.com"]
    );
    let requests = gw
        .stored_rows()
        .iter()
        .filter(|(_, k, _)| k.starts_with("govstack/request/"))
        .count();
    assert_eq!(requests, 3, "the refused requests left no request record");
}
