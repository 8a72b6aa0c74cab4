//! Attacks on the app, mounted from outside as an attacker would, one test per class of
//! hole (the hardening review); each asserts that the attack fails and that legitimate
//! traffic keeps working. These run on real Spin too; attacks on what only the project
//! host does are in `security_host.rs`.

use integration_tests::gateway::{CALLBACK_SECRET, Gateway, KEY, OTHER_KEY};
use integration_tests::recorder::Recorder;
use integration_tests::twilio;
use integration_tests::{http, provider_fixture, service_token, verify_callback_signature};
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
    let mut stream = integration_tests::raw_client::connect_from(from, base);
    let target = base.trim_start_matches("http://");
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

/// One caller cannot forge another's callbacks: each caller's callbacks are signed with a
/// secret of its own, which only that caller can read (`GET /v1/callbacks/secret`). A
/// second caller's secret, the deployment's secret, and an unauthenticated read all fail;
/// during a rotation each callback verifies under the old and the new secret.
#[test]
fn each_caller_verifies_only_its_own_callbacks() {
    let callback = Recorder::start();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
    ]);
    let unauthenticated = http::request(
        "GET",
        &format!("{}/v1/callbacks/secret", gw.base),
        &[],
        None,
    );
    assert_eq!(unauthenticated.status, 401, "{}", unauthenticated.body);
    let mine = gw.callback_secret(KEY);
    let theirs = gw.callback_secret(OTHER_KEY);
    assert_ne!(mine, theirs);
    assert_ne!(
        mine, CALLBACK_SECRET,
        "callers never learn the deployment's secret"
    );

    gw.accept(json!({
        "channel": "sms", "to": "+254712345678", "body": "x",
        "callback_url": format!("{}/mine", callback.url),
    }));
    let got = integration_tests::wait_for(30, "a status callback", || {
        callback.received().into_iter().next()
    });
    let signature = got.header("x-messaging-signature").expect("signed");
    assert!(verify_callback_signature(&mine, signature, &got.body).is_some());
    assert!(
        verify_callback_signature(&theirs, signature, &got.body).is_none(),
        "another caller's secret does not verify this caller's callback"
    );
    assert!(verify_callback_signature(CALLBACK_SECRET, signature, &got.body).is_none());

    // A rotation: the new secret first, the old one still listed.
    let gw = gw.restart_with(&[(
        "callback_secret",
        &format!("rotated-secret,{CALLBACK_SECRET}"),
    )]);
    let secrets = gw.call(KEY, "/v1/callbacks/secret", None);
    let secrets: serde_json::Value = serde_json::from_str(&secrets.body).unwrap();
    assert_eq!(secrets["secrets"][1], mine.as_str(), "{secrets}");
    let new = secrets["secrets"][0].as_str().unwrap().to_string();
    assert_ne!(new, mine);
    gw.accept(json!({
        "channel": "sms", "to": "+254712345678", "body": "y",
        "callback_url": format!("{}/rotated", callback.url),
    }));
    let got = integration_tests::wait_for(30, "a status callback after the rotation", || {
        callback
            .received()
            .into_iter()
            .find(|r| r.path == "/rotated")
    });
    let signature = got.header("x-messaging-signature").expect("signed");
    assert!(verify_callback_signature(&new, signature, &got.body).is_some());
    assert!(verify_callback_signature(&mine, signature, &got.body).is_some());
    assert!(verify_callback_signature(&theirs, signature, &got.body).is_none());
}

/// A reminder takes only the replies that answer it. Two callers ask the same citizen at
/// once; each answer reaches the caller whose question it answers (before, the second
/// reminder replaced the first and took every reply), and text that answers neither
/// follows the keyword routes instead of going to a reminder's owner. A reminder may not
/// wait longer than its policy allows.
#[test]
fn a_reminder_takes_only_the_replies_that_answer_it() {
    const TOKEN: &str = "kannel-inbound-security-token";
    let gw = Gateway::start_with_policies(
        &[("kannel_inbound_token", TOKEN)],
        &[("inbound/routes.toml", "[default]\nowner = \"hotline\"\n")],
    );
    let ask = |key: &str, options: &[&str], expires_in: &str| {
        gw.send(
            key,
            &json!({"channel": "sms", "to": "+254712345678", "body": "Question",
                    "expects_reply": {"options": options, "expires_in": expires_in}}),
            &[],
        )
    };
    let too_long = ask(KEY, &["YES", "NO"], "30d");
    assert_eq!(too_long.status, 400, "{}", too_long.body);
    assert!(too_long.body.contains("7d"), "{}", too_long.body);

    let registry = ask(KEY, &["YES", "NO"], "48h").json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let clinic = ask(OTHER_KEY, &["MONDAY", "TUESDAY"], "48h").json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let phone_sends = |text: &str, id: &str| {
        let sent = http::request(
            "GET",
            &format!(
                "{}/webhooks/kannel/inbound/{TOKEN}?from=254712345678&to=12345&text={}&id={id}",
                gw.base,
                text.replace(' ', "+")
            ),
            &[],
            None,
        );
        assert_eq!(sent.status, 200, "{}", sent.body);
    };
    phone_sends("Ndio", "in-1");
    phone_sends("tuesday", "in-2");
    phone_sends("my child is sick", "in-3");

    let answer = |key: &str, id: &str| {
        integration_tests::wait_for(20, "the answer on the reminder", || {
            let view = gw.status(key, id).json();
            view.get("reply").map(|r| r["answer"].clone())
        })
    };
    assert_eq!(
        answer(KEY, &registry),
        "YES",
        "the first caller's question keeps its answer"
    );
    assert_eq!(answer(OTHER_KEY, &clinic), "TUESDAY");
    for key in [KEY, OTHER_KEY] {
        let inbound = gw.call(key, "/v1/inbound", None).json();
        assert_eq!(
            inbound["items"],
            json!([]),
            "text that answers no reminder never reaches a reminder's owner"
        );
    }
    assert!(
        gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("inbound/hotline/")),
        "it follows the keyword routes"
    );
}

fn in_secs(secs: u64) -> String {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + secs * 1000;
    messaging_domain::api::rfc3339_millis(at)
}

/// A broadcast is charged for the members it reaches, not for the group's size when it
/// was accepted: a group that was empty then and filled before the send is charged at
/// fan-out (before, it cost nothing), and a fan-out that would pass the quota stops there
/// and sends nothing more.
#[test]
fn a_group_filled_after_its_broadcast_was_accepted_is_charged_at_fan_out() {
    let gw = Gateway::start_with(&[("daily_quotas", "registry:7,clinic:3")]);
    let broadcast_then_fill = |key: &str, members: usize| {
        let group = gw.create_group(key, "Filled after the broadcast");
        let accepted = gw.call(
            key,
            "/v1/broadcasts",
            Some(&json!({"group": group, "body": "Clinic day", "send_at": in_secs(3)})),
        );
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        let numbers: Vec<serde_json::Value> = (0..members)
            .map(|i| json!({"channel": "sms", "address": format!("+2547001{i:05}")}))
            .collect();
        gw.add_members(key, &group, &numbers);
        accepted.json()["id"].as_str().unwrap().to_string()
    };
    let within = broadcast_then_fill(KEY, 5);
    let over = broadcast_then_fill(OTHER_KEY, 5);

    let view = gw.wait_broadcast_done(KEY, &within, 60);
    assert_eq!(view["recipients"], 5, "{view}");
    let view = gw.wait_broadcast_done(OTHER_KEY, &over, 60);
    assert_eq!(view["recipients"], 0, "{view}");
    assert_eq!(view["stopped"], "quota_exceeded", "{view}");
    integration_tests::wait_for(30, "the five recipients within the quota", || {
        (gw.outbox_entries().len() == 5).then_some(())
    });

    // Distinct bodies: a repeated request would get the first answer and count nothing.
    let single = |key: &str, n: u32| {
        gw.send(
            key,
            &json!({"channel": "sms", "to": "+254712345678", "body": format!("Message {n}")}),
            &[],
        )
    };
    // The registry was charged five at fan-out: two of its seven are left.
    assert_eq!(single(KEY, 1).status, 202);
    assert_eq!(single(KEY, 2).status, 202);
    let refused = single(KEY, 3);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("quota_exceeded"), "{}", refused.body);
    // The refused fan-out charged the clinic nothing.
    for n in 0..3 {
        assert_eq!(single(OTHER_KEY, n).status, 202);
    }
}

/// Group keywords are the operator's to hand out: a caller cannot claim a word reserved
/// for another (before, the first caller to ask took it, and with it every citizen who
/// texted JOIN and that word), nor a word reserved for nobody; the caller it is reserved
/// for can.
#[test]
fn a_caller_cannot_claim_a_group_keyword_reserved_for_another() {
    let gw = Gateway::start_with_policies(
        &[],
        &[(
            "inbound/routes.toml",
            "[[group_keyword]]\nkeyword = \"MOTHERS\"\nowner = \"registry\"\n",
        )],
    );
    let create = |key: &str, keyword: &str| {
        gw.call(
            key,
            "/v1/groups",
            Some(&json!({"name": "Mothers of newborns", "keyword": keyword})),
        )
    };
    for keyword in ["MOTHERS", "mothers", "Mothèrs"] {
        let stolen = create(OTHER_KEY, keyword);
        assert_eq!(stolen.status, 403, "{keyword}: {}", stolen.body);
    }
    let unreserved = create(OTHER_KEY, "FATHERS");
    assert_eq!(unreserved.status, 403, "{}", unreserved.body);
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("grp")),
        "a refused group leaves nothing behind"
    );
    let owned = create(KEY, "Mothers");
    assert_eq!(owned.status, 201, "{}", owned.body);
}
