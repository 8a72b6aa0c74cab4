//! Thousands of malformed, oversized and unauthenticated requests against the running
//! host: every answer is a 4xx, nothing is stored, and the host still serves a good request
//! afterwards. `HOSTILE_REQUESTS` sets how many (10,000 by default, about 50 s on two
//! cores with a debug host; fewer for a quick local run).

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::http;
use serde_json::json;

/// xorshift64: reproducible variety without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const JUNK: &[&str] = &[
    "",
    "{",
    "}",
    "[]",
    "null",
    "\"",
    "\u{0}",
    "😀",
    "+2547",
    "+0000000000",
    "not-an-address",
    "amina@",
    "@example.org",
    "-0",
    "{\"endpoint\":1}",
    "%00",
    "\r\nBcc: x@y.z",
    "9999999999999999999999999999999999999999",
];

/// One hostile request: (method, path, headers, body).
fn hostile(rng: &mut Rng) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let auth = ("authorization".to_string(), format!("Bearer {KEY}"));
    let json_type = ("content-type".to_string(), "application/json".to_string());
    match rng.next() % 10 {
        // Bodies that are not JSON, or JSON of the wrong shape.
        0 => {
            let len = (rng.next() % 300) as usize;
            let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            (
                "POST".into(),
                "/v1/messages".into(),
                vec![auth, json_type],
                body,
            )
        }
        // The message shape with junk in its fields.
        1 => {
            let body = json!({
                "channel": rng.pick(&["sms", "email", "telegram", "push", "fax", ""]),
                "to": rng.pick(JUNK), "body": rng.pick(JUNK), "subject": rng.pick(JUNK),
                "policy": rng.pick(&["../../etc/passwd", "UPPER", "", "a b"]),
            });
            // A reminder asking to wait past any policy's reply_wait_max.
            let body = if rng.next().is_multiple_of(4) {
                json!({"channel": "sms", "to": "+254712345678", "body": "x",
                       "expects_reply": {"options": ["YES"], "expires_in": rng.pick(&["30d", "99999d", "8d"])}})
            } else {
                body
            };
            (
                "POST".into(),
                "/v1/messages".into(),
                vec![auth, json_type],
                body.to_string().into_bytes(),
            )
        }
        // Unknown fields, wrong types.
        2 => {
            let body =
                json!({"channel": "sms", "to": 254712345678u64, "body": ["x"], "extra": true});
            (
                "POST".into(),
                "/v1/messages".into(),
                vec![auth, json_type],
                body.to_string().into_bytes(),
            )
        }
        // Oversized.
        3 => {
            let body = format!(
                r#"{{"channel":"sms","to":"+254712345678","body":"{}"}}"#,
                "x".repeat(70_000)
            );
            (
                "POST".into(),
                "/v1/messages".into(),
                vec![auth, json_type],
                body.into_bytes(),
            )
        }
        // No or wrong credentials, forged tokens.
        4 => {
            let bad = rng.pick(&[
                "",
                "nope",
                "eyJhbGciOiJub25lIn0.eyJhenAiOiJ4In0.",
                "eyJ.eyJ.sig",
            ]);
            let headers = vec![("authorization".into(), format!("Bearer {bad}")), json_type];
            let body = json!({"channel":"sms","to":"+254712345678","body":"x"});
            (
                "POST".into(),
                "/v1/messages".into(),
                headers,
                body.to_string().into_bytes(),
            )
        }
        // Bad idempotency keys.
        5 => {
            let key = ("idempotency-key".to_string(), "x".repeat(300));
            let body = json!({"channel":"sms","to":"+254712345678","body":"x"});
            (
                "POST".into(),
                "/v1/messages".into(),
                vec![auth, json_type, key],
                body.to_string().into_bytes(),
            )
        }
        // Unknown message ids and routes, wrong methods.
        6 => {
            let path = rng.pick(&[
                "/v1/messages/msg_zzz",
                "/v1/messages/../../x",
                "/v1/nothing",
                "/v1/inbound/inb_x",
                "/%ff",
            ]);
            let method = rng.pick(&["GET", "DELETE", "PUT", "PATCH"]);
            (method.into(), path.into(), vec![auth], Vec::new())
        }
        // The GovStack email API with junk, a forged sender, or a thousand Bcc.
        7 => {
            let content = json!({"encoding": "UTF-8", "title": "t", "content": "c"});
            let body = match rng.next() % 3 {
                0 => {
                    json!({"to": [{"email": rng.pick(JUNK)}], "subject": rng.pick(JUNK), "body": ""})
                }
                1 => json!({
                    "senderInfo": {"organisationName": "o", "name": "n", "email": rng.pick(&[
                        "minister@gov.example", "ADMIN@localhost.localdomain.evil.org",
                        "x@messaging@localhost.localdomain"])},
                    "recipientInfo": {"email": "a@example.org", "name": "a"},
                    "emailContent": content,
                }),
                _ => {
                    // The spec's Bcc: one comma-separated string.
                    let bcc = (0..1000)
                        .map(|i| format!("c{i}@example.org"))
                        .collect::<Vec<_>>()
                        .join(",");
                    json!({
                        "senderInfo": {"organisationName": "o", "name": "n"},
                        "recipientInfo": {"email": "a@example.org", "name": "a", "emailBCC": bcc},
                        "emailContent": content,
                    })
                }
            };
            let headers = vec![("apikey".into(), KEY.into()), json_type];
            let path = rng.pick(&["/send/email/single", "/send/email/batch", "/callback/email"]);
            (
                "POST".into(),
                path.into(),
                headers,
                body.to_string().into_bytes(),
            )
        }
        // Callback URLs into the deployment itself, in the spellings that slip past a
        // naive check: the app's private components, loopback as a number, mapped IPv6.
        8 => {
            let url = rng.pick(&[
                "https://deliver-email.spin.internal/dispatch",
                "https://DELIVER-SMS.SPIN.INTERNAL./tick",
                "http://notifier.spin.internal/",
                "http://2130706433/cb",
                "http://0177.0.0.1/cb",
                "http://[::ffff:127.0.0.1]/cb",
                "http://0.0.0.0/cb",
                "http://[::]/cb",
                "http://169.254.169.254/latest/meta-data/",
            ]);
            let body = json!({"channel":"sms","to":"+254712345678","body":"x","callback_url": url});
            (
                "POST".into(),
                "/v1/messages".into(),
                vec![auth, json_type],
                body.to_string().into_bytes(),
            )
        }
        // Provider webhooks without their secrets.
        _ => {
            let path = rng.pick(&[
                "/webhooks/telegram",
                "/webhooks/twilio/inbound",
                "/webhooks/kannel/inbound/guess",
                "/webhooks/receipts/msg_00000000000000000000000000/token?kannel_type=1",
                "/webhooks/africastalking/guess/delivery",
            ]);
            (
                "POST".into(),
                path.into(),
                vec![json_type],
                b"{\"update_id\":1}".to_vec(),
            )
        }
    }
}

#[test]
fn hostile_requests_get_4xx_store_nothing_and_leave_the_host_serving() {
    let count: usize = std::env::var("HOSTILE_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    // Every request comes from one address: the limit on failed authentications would
    // answer most with 429, and the good request last. That limit has its own attack test
    // (`security.rs`); here every hostile request reaches the handlers.
    let gw = Gateway::start_with(&[("auth_failure_limit", "0")]);
    let rows = gw.stored_rows().len();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = std::time::Instant::now();
    for i in 0..count {
        let (method, path, headers, body) = hostile(&mut rng);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = http::request(
            &method,
            &format!("{}{path}", gw.base),
            &headers,
            Some(&body),
        );
        assert!(
            (400..500).contains(&r.status),
            "request {i}: {method} {path} answered {}: {}",
            r.status,
            r.body
        );
    }
    eprintln!("{count} hostile requests in {:?}", started.elapsed());
    assert_eq!(gw.stored_rows().len(), rows, "nothing was stored");
    let logs = gw.logs();
    assert!(
        !logs.contains("254712345678") && !logs.contains(KEY),
        "a hostile request's recipient or credentials reached the log"
    );
    let id = gw.accept(json!({"channel":"sms","to":"+254712345678","body":"still here"}));
    gw.wait_status(&id, "delivered");
}
