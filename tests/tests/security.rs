//! Attacks on the app, mounted from outside as an attacker would, one test per class of
//! hole (the hardening review); each asserts that the attack fails and that legitimate
//! traffic keeps working. These run on real Spin too; attacks on what only the project
//! host does are in `security_host.rs`.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use integration_tests::{http, provider_fixture, service_token};
use serde_json::json;

/// A receipt is checked as the provider its URL was made for. Twilio's status callback
/// URL, learnt from Twilio's console or a proxy, replayed in Kannel's form (which carries
/// no signature, only the token) is refused; Twilio's own signed report still counts.
#[test]
fn a_receipt_url_made_for_twilio_cannot_carry_a_kannel_report() {
    let double = Recorder::start();
    double.answer_json(201, &provider_fixture("twilio", "message_created.json"));
    let gw = Gateway::start_with(&twilio::sms_vars(&double.url));
    let id = gw.accept(json!({"channel": "sms", "to": "+254712345678", "body": "x"}));
    gw.wait_status(&id, "sent");
    let form = twilio::form_pairs(&String::from_utf8_lossy(&double.received()[0].body));
    let callback = form
        .iter()
        .find(|(k, _)| k == "StatusCallback")
        .map(|(_, v)| v.clone())
        .expect("a StatusCallback");
    let (url, query) = callback
        .split_once('?')
        .expect("the URL names its provider");
    assert_eq!(query, "provider=twilio");
    for forged in [
        format!("{url}?kannel_type=2"),
        format!("{url}?kannel_type=1"),
        format!("{url}?provider=kannel&kannel_type=2"),
    ] {
        for method in ["GET", "POST"] {
            let answer = http::request(method, &forged, &[], None);
            assert_eq!(answer.status, 401, "{method} {forged}: {}", answer.body);
        }
    }
    assert_eq!(gw.status(KEY, &id).json()["status"], "sent");
    let signed = twilio::report_status(twilio::AUTH_TOKEN, &callback, "delivered");
    assert_eq!(signed.status, 200, "{}", signed.body);
    gw.wait_status(&id, "delivered");
}

const SERVICE_SECRET: &str = "5e1f0c9b7a3d4e2f8a6b0c1d9e7f5a3b";

/// A service token seen on the wire (a proxy's log, a captured request) cannot be played
/// again inside its 30-second window, in any request: the first use wins, every repeat is
/// refused, and the system's next token works. What is remembered is a keyed hash.
#[test]
fn a_service_token_is_used_once() {
    let service_keys = format!("social-care:notify:{SERVICE_SECRET}");
    let gw = Gateway::start_with(&[("service_keys", service_keys.as_str())]);
    let token = |claims: serde_json::Value| service_token::sign(SERVICE_SECRET, &claims);
    let now = service_token::now();
    let sms = json!({"channel": "sms", "to": "+254712345678", "body": "Clinic tomorrow"});

    let captured = token(json!({"iss": "social-care", "iat": now}));
    assert_eq!(gw.send(&captured, &sms, &[]).status, 202);
    for _ in 0..3 {
        let replayed = gw.send(&captured, &sms, &[]);
        assert_eq!(replayed.status, 401, "{}", replayed.body);
    }
    // Replayed on a read and on the GovStack email API: refused too.
    assert_eq!(gw.call(&captured, "/v1/inbound", None).status, 401);
    let email = http::request(
        "POST",
        &format!("{}/send/email/single", gw.base),
        &[("apiKey", captured.as_str()), ("content-type", "application/json")],
        Some(br#"{"recipientInfo":{"email":"a@example.org"},"emailContent":{"title":"x","content":"x"}}"#),
    );
    assert!(email.status == 401 || email.status == 403, "{}", email.body);

    // With a jti (two tokens in one second differ by it) and without, the next ones work.
    for claims in [
        json!({"iss": "social-care", "iat": now, "jti": "a"}),
        json!({"iss": "social-care", "iat": now, "jti": "b"}),
        json!({"iss": "social-care", "iat": now - 1}),
    ] {
        assert_eq!(gw.send(&token(claims), &sms, &[]).status, 202);
    }
    let signature = captured.rsplit('.').next().unwrap();
    assert!(
        !gw.stored_rows().iter().any(
            |(_, k, v)| k.contains(signature) || String::from_utf8_lossy(v).contains(signature)
        ),
        "the token itself is not stored"
    );
}

/// A raw HTTP/1.1 request from the loopback address `from` (another client, as the gateway
/// counts clients); returns the status and the `Retry-After` header.
fn request_from(from: &str, base: &str, key: &str) -> (u16, Option<String>) {
    use std::io::{Read, Write};
    let target: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&target.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let body = r#"{"channel":"sms","to":"+254712345678","body":"x"}"#;
    write!(
        stream,
        "POST /v1/messages HTTP/1.1\r\nHost: {target}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let retry_after = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("retry-after: ")
                .or_else(|| l.strip_prefix("Retry-After: "))
        })
        .map(str::to_string);
    (status, retry_after)
}

/// Guessing keys is slowed to a few tries a minute per client address: after the limit,
/// every request from that address is answered 429 with `Retry-After`, its credentials
/// unread (the right key too: a guess that happens to be right is not let through), while
/// callers at other addresses are served as before. The GovStack email API shares it.
#[test]
fn failed_authentications_are_limited_per_client_address() {
    let gw = Gateway::start_with(&[("auth_failure_limit", "5")]);
    let attacker = "127.0.0.2";
    for guess in 0..5 {
        let (status, _) = request_from(attacker, &gw.base, &format!("guess-{guess}"));
        assert_eq!(status, 401, "guess {guess}");
    }
    let (status, retry_after) = request_from(attacker, &gw.base, "guess-6");
    assert_eq!(status, 429);
    let wait: u64 = retry_after.expect("Retry-After").trim().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        request_from(attacker, &gw.base, KEY).0,
        429,
        "the right key from a blocked address is not even read"
    );
    // Another client is not held back by the attacker's failures.
    assert_eq!(request_from("127.0.0.3", &gw.base, KEY).0, 202);
    assert_eq!(request_from("127.0.0.3", &gw.base, "wrong").0, 401);
    // Nothing stored says which address failed.
    assert!(
        !gw.stored_rows().iter().any(
            |(_, k, v)| k.contains("127.0.0") || String::from_utf8_lossy(v).contains("127.0.0")
        ),
        "a client address is stored in clear"
    );
}
