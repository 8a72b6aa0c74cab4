//! Attacks on what only the project host does (its access log, its transport). The attacks
//! on the app itself, which run on real Spin too, are in `security.rs`.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::http;
use integration_tests::raw_client::{closed_within, connect_from, read_answer};
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const KANNEL_TOKEN: &str = "kannel-secret-inbound-7f3a";
const AT_TOKEN: &str = "africastalking-secret-9c1e";
const RECEIPT_TOKEN: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3";

/// The words a logged webhook path may hold: the routes' own, and the placeholder.
const ROUTE_WORDS: &[&str] = &[
    "",
    "webhooks",
    "receipts",
    "b",
    "kannel",
    "inbound",
    "twilio",
    "africastalking",
    "delivery",
    "telegram",
    "{}",
];

/// Whoever reads the logs must not learn a webhook's secret: every form that carries one
/// (Kannel's inbound token, Africa's Talking's token, receipt tokens of messages and of
/// broadcast recipients, right or wrong) is logged as a template.
#[test]
fn webhook_secrets_never_reach_the_log() {
    let gw = Gateway::start_with_policies(
        &[
            ("kannel_inbound_token", KANNEL_TOKEN),
            ("africastalking_webhook_token", AT_TOKEN),
        ],
        &[("inbound/routes.toml", "[default]\nowner = \"registry\"\n")],
    );
    let get = |path: &str| http::request("GET", &format!("{}{path}", gw.base), &[], None);
    let form = |path: &str, body: &str| {
        http::request(
            "POST",
            &format!("{}{path}", gw.base),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(body.as_bytes()),
        )
    };
    // The right tokens: the requests are taken, the secrets stay out of the log.
    let taken = get(&format!(
        "/webhooks/kannel/inbound/{KANNEL_TOKEN}?from=254712345678&to=12345&text=hello&id=k-1"
    ));
    assert_eq!(taken.status, 200, "{}", taken.body);
    let taken = form(
        &format!("/webhooks/africastalking/{AT_TOKEN}/inbound"),
        "from=%2B254712345678&to=12345&text=hello&id=at-1&date=2026-01-01",
    );
    assert!(taken.status < 300, "{}: {}", taken.status, taken.body);
    // Receipts and guesses: refused, and not logged either.
    for path in [
        format!("/webhooks/receipts/msg_01abc/{RECEIPT_TOKEN}?kannel_type=1"),
        format!("/webhooks/receipts/b/brd_01abc/m-1/{RECEIPT_TOKEN}"),
        format!("/webhooks/kannel/inbound/{RECEIPT_TOKEN}x?from=1&text=STOP"),
    ] {
        assert!(get(&path).status >= 400, "{path} must be refused");
    }
    assert!(
        form(
            &format!("/webhooks/africastalking/{AT_TOKEN}/delivery"),
            "id=x"
        )
        .status
            >= 200
    );

    let logs = gw.wait_log("/webhooks/receipts/b/{}/{}/{}");
    for secret in [
        KANNEL_TOKEN,
        AT_TOKEN,
        RECEIPT_TOKEN,
        "msg_01abc",
        "brd_01abc",
    ] {
        assert!(!logs.contains(secret), "{secret} is in the log:\n{logs}");
    }
    let webhook_paths: Vec<String> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "access")
        .filter_map(|line| line["fields"]["path"].as_str().map(str::to_string))
        .filter(|path| path.starts_with("/webhooks"))
        .collect();
    assert_eq!(
        webhook_paths.len(),
        6,
        "every webhook request has its line: {webhook_paths:?}"
    );
    for path in &webhook_paths {
        assert!(
            path.split('/')
                .all(|segment| ROUTE_WORDS.contains(&segment)),
            "{path} holds more than the route's words"
        );
    }
    // The gateway keeps serving what the log did not keep.
    assert_eq!(get("/health").status, 200);
}

/// The attacker's connections, all from 127.0.0.2: request heads that promise a body that
/// never comes (to the API and to a provider webhook), heads sent a byte at a time, and
/// kept-alive connections left idle after one answer.
struct Attack {
    slow_bodies: Vec<TcpStream>,
    slow_heads: Vec<TcpStream>,
    idle: Vec<TcpStream>,
}

impl Attack {
    fn mount(base: &str, each: usize) -> Attack {
        let slow_bodies = (0..each * 2)
            .map(|i| {
                let mut stream = connect_from("127.0.0.2", base);
                let path = if i % 4 == 0 {
                    "/webhooks/kannel/inbound/guess"
                } else {
                    "/v1/messages"
                };
                write!(
                    stream,
                    "POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {KEY}\r\n\
                     Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
                )
                .unwrap();
                stream
            })
            .collect();
        let slow_heads = (0..each)
            .map(|_| {
                let mut stream = connect_from("127.0.0.2", base);
                stream
                    .write_all(b"POST /v1/messages HTTP/1.1\r\nHost: gateway\r\n")
                    .unwrap();
                stream
            })
            .collect();
        let idle = (0..each)
            .map(|_| {
                let mut stream = connect_from("127.0.0.2", base);
                stream
                    .write_all(b"GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n")
                    .unwrap();
                stream
            })
            .collect();
        Attack {
            slow_bodies,
            slow_heads,
            idle,
        }
    }

    /// One more byte of every slow head and every slow body, as a slowloris client sends.
    fn trickle(&mut self) {
        for stream in self.slow_heads.iter_mut() {
            let _ = stream.write_all(b"X");
        }
        for stream in self.slow_bodies.iter_mut() {
            let _ = stream.write_all(b" ");
        }
    }

    fn connections(&self) -> usize {
        self.slow_bodies.len() + self.slow_heads.len() + self.idle.len()
    }
}

/// Hundreds of slow and idle connections (the attack that took `/health` down for as long
/// as 140 of them stayed open) do not hold up an authenticated caller: each of its
/// messages is accepted within a second while the attack goes on, with the host's
/// default settings.
#[test]
fn slow_and_idle_clients_do_not_hold_up_callers() {
    let gw = Gateway::start();
    let mut attack = Attack::mount(&gw.base, 100);
    assert_eq!(attack.connections(), 400);
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        attack.trickle();
        let started = Instant::now();
        let sent = gw.send(
            KEY,
            &json!({"channel": "sms", "to": "+254712345678", "body": format!("During the attack {i}")}),
            &[],
        );
        let took = started.elapsed();
        assert_eq!(sent.status, 202, "{}", sent.body);
        slowest = slowest.max(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        slowest < Duration::from_secs(1),
        "the slowest message under attack took {slowest:?}"
    );
    let health = http::request("GET", &format!("{}/health", gw.base), &[], None);
    assert_eq!(health.status, 200);
    integration_tests::wait_for(60, "20 messages handed to the provider", || {
        (gw.outbox_entries().len() == 20).then_some(())
    });
    drop(attack);
}

/// What a slow client holds is taken back: a connection that sends no request head in
/// time is closed (a silent one, a kept-alive one after its answer, one that sends its
/// head a byte at a time), a body that does not arrive in time is answered 408 and
/// nothing of it is stored, and one address cannot open more connections than its cap
/// (answered 503 with Retry-After) while other addresses are still served.
#[test]
fn slow_connections_are_closed_and_each_address_is_capped() {
    let gw = Gateway::start_with_host_env(
        &[],
        &[],
        &[
            ("MESSAGING_HEADER_READ_TIMEOUT_MS", "1000"),
            ("MESSAGING_BODY_READ_TIMEOUT_MS", "1000"),
            ("MESSAGING_MAX_CONNECTIONS_PER_CLIENT", "20"),
        ],
    );
    let within = Duration::from_secs(6);

    let mut silent = connect_from("127.0.0.2", &gw.base);
    assert!(
        closed_within(&mut silent, within),
        "a silent connection is closed"
    );

    let mut kept_alive = connect_from("127.0.0.2", &gw.base);
    kept_alive
        .write_all(b"GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .unwrap();
    assert!(
        closed_within(&mut kept_alive, within),
        "an idle kept-alive connection is closed"
    );

    let mut trickling = connect_from("127.0.0.2", &gw.base);
    trickling.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < within {
        if trickling.write_all(b"X").is_err()
            || closed_within(&mut trickling, Duration::from_millis(200))
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head sent a byte at a time is cut off");

    let mut slow_body = connect_from("127.0.0.2", &gw.base);
    write!(
        slow_body,
        "POST /v1/messages HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"channel\":\"sms\","
    )
    .unwrap();
    let answer = read_answer(&mut slow_body, within);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("msg/")),
        "nothing of a body that never arrived is stored"
    );

    // The cap: twenty connections from one address are served, the next is refused.
    let held: Vec<TcpStream> = (0..20)
        .map(|_| connect_from("127.0.0.3", &gw.base))
        .collect();
    let mut over = connect_from("127.0.0.3", &gw.base);
    let refused = read_answer(&mut over, within);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert!(refused.contains("too_many_connections"), "{refused}");
    let sent = gw.send(
        KEY,
        &json!({"channel": "sms", "to": "+254712345678", "body": "Another address"}),
        &[],
    );
    assert_eq!(sent.status, 202, "{}", sent.body);
    drop(held);
}

/// A store written by someone who holds no sealing key cannot become a payload: a
/// waiting message's sealed content replaced by plain JSON with another text and another
/// number is refused when the message is due, never sent, and the message keeps waiting
/// for content the gateway can open (so nothing accepted is lost to the tampering either).
#[test]
fn an_unsealed_value_planted_in_the_store_is_never_sent() {
    let gw = Gateway::start();
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 3000;
    let id = gw.accept(json!({
        "channel": "sms", "to": "+254712345678", "body": "The real message",
        "send_at": messaging_domain::api::rfc3339_millis(sent_at),
    }));
    let planted = json!({"to": "+254799999999", "body": "PLANTED text"}).to_string();
    gw.plant("default", &format!("msg/{id}/payload"), planted.as_bytes());
    std::thread::sleep(Duration::from_secs(8));
    let outbox = gw.outbox_entries();
    assert!(
        !outbox
            .iter()
            .any(|e| e.to_string().contains("PLANTED") || e.to_string().contains("799999999")),
        "the planted payload was sent: {outbox:?}"
    );
    let view = gw.status(KEY, &id).json();
    assert!(
        !["sent", "delivered"].contains(&view["status"].as_str().unwrap_or("")),
        "{view}"
    );
    assert!(
        gw.logs().contains("the value is not sealed"),
        "the refusal is logged"
    );
}
