//! Callback URLs and push endpoints are chosen by callers and called by the gateway. The
//! attack: name one of the app's own private components (`deliver-email.spin.internal`,
//! which both runtimes serve in-process) or an address inside the deployment, in any
//! spelling, and let the notifier (or the push sender) make the call. Each test mounts it
//! and checks that it fails, while a legitimate receiver still gets its callbacks. These
//! run on real Spin too, except the connect-time check, which only the project host makes.

use integration_tests::gateway::{Gateway, KEY};
use integration_tests::recorder::Recorder;
use integration_tests::runtime::Runtime;
use integration_tests::{http, wait_for};
use serde_json::{Value, json};

/// The app's own components, in every spelling a parser or a resolver might accept.
const OWN_COMPONENTS: &[&str] = &[
    "https://deliver-email.spin.internal/dispatch",
    "http://deliver-email.spin.internal/dispatch",
    "https://DELIVER-EMAIL.SPIN.INTERNAL/dispatch",
    "https://Deliver-Email.Spin.Internal/dispatch",
    "https://deliver-email.spin.internal./dispatch",
    "https://DELIVER-SMS.SPIN.INTERNAL./tick",
    "http://notifier.spin.internal:80/deliver",
    "http://sweeper.spin.internal/tick",
    "http://x.deliver-email.spin.internal/dispatch",
];

/// This machine and its networks, spelled so a naive check misses them. Names that
/// resolve to 127.0.0.1 on any machine without a network are `localhost` and its
/// subdomains; a one-label name is completed inside the network.
const INTERNAL: &[&str] = &[
    "http://2130706433/cb",
    "http://0x7f000001/cb",
    "http://0177.0.0.1/cb",
    "http://127.1/cb",
    "http://[::ffff:127.0.0.1]/cb",
    "http://[::ffff:7f00:1]/cb",
    "http://0.0.0.0/cb",
    "http://[::]/cb",
    "http://localhost./cb",
    "http://api.LOCALHOST/cb",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "https://redis/cb",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://printer.local/cb",
];

/// Every status is asked for, so each message queues two callbacks (sent, delivered).
fn sms_with_callback(url: &str) -> Value {
    json!({"channel": "sms", "to": "+254712345678", "body": "x", "callback_url": url,
           "callback_events": "all"})
}

/// The refusal every caller gets for bad input: 400, the standard error body, naming the
/// field.
fn assert_refused(gw: &Gateway, url: &str) {
    let answer = gw.send(KEY, &sms_with_callback(url), &[]);
    assert_eq!(answer.status, 400, "{url}: {}", answer.body);
    assert_eq!(answer.error_code(), "invalid_request", "{url}");
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.starts_with("callback_url: "), "{url}: {message}");
}

fn govstack_email(gw: &Gateway, callback: &str) -> http::Response {
    let body = json!({
        "callbackUri": {"uri": callback},
        "senderInfo": {"organisationName": "Example Medical Institution", "organisationRegNr": "GOV1234567890",
                       "email": "sender@clinic.example.org", "name": "Example Doctor"},
        "recipientInfo": {"email": "customer@example.com", "name": "Example Customer"},
        "emailContent": {"encoding": "UTF-8", "title": "Your visit", "content": "Monday at 9:00"},
    });
    http::request(
        "POST",
        &format!("{}/send/email/single", gw.base),
        &[("apiKey", KEY), ("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
}

/// Nothing ran in the private component on the attacker's behalf, and nothing is left for
/// the notifier to call.
fn assert_no_private_call(gw: &Gateway) {
    let logs = gw.logs();
    assert!(
        !logs.contains("dispatch.wrong_cell"),
        "a delivery cell ran a caller's request"
    );
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")),
        "a notification was stored"
    );
}

#[test]
fn callback_urls_naming_the_apps_components_or_its_network_are_refused_at_accept() {
    // The defaults: callback_hosts "https://*:443", private networks refused.
    let gw = Gateway::start_with(&[("email_senders", "registry:@clinic.example.org")]);
    for url in OWN_COMPONENTS.iter().chain(INTERNAL) {
        assert_refused(&gw, url);
    }
    // The GovStack email API's callback URI: the same refusals, in the spec's error shape.
    for url in OWN_COMPONENTS.iter().chain(&INTERNAL[..4]) {
        let answer = govstack_email(&gw, url);
        assert_eq!(answer.status, 405, "{url}: {}", answer.body);
        assert_eq!(answer.error_code(), "invalid_input", "{url}");
        assert!(
            answer.body.contains("callback URI"),
            "{url}: {}",
            answer.body
        );
    }
    // Web Push endpoints are the subscriber's to choose: never a component or a private
    // network.
    for endpoint in [
        "https://deliver-sms.spin.internal/dispatch",
        "http://DELIVER-SMS.spin.internal./dispatch",
        "https://10.0.0.7/push",
        "https://[::ffff:10.0.0.7]/push",
    ] {
        let to = json!({"endpoint": endpoint, "keys": {
            "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "auth": "BTBZMqHH6r4Tts7J_aSIgg"}});
        let answer = gw.send(KEY, &json!({"channel": "push", "to": to, "body": "x"}), &[]);
        // An address the gateway cannot send to answers 422, as every invalid address.
        assert_eq!(answer.status, 422, "{endpoint}: {}", answer.body);
        assert_eq!(
            answer.error_code(),
            "invalid_push_subscription",
            "{endpoint}"
        );
    }
    assert_no_private_call(&gw);
    // A public receiver is still accepted (it is not reachable here; the point is the 202).
    let fine = gw.send(
        KEY,
        &sms_with_callback("https://registry.health.example.org/callbacks"),
        &[],
    );
    assert_eq!(fine.status, 202, "{}", fine.body);
}

#[test]
fn private_networks_allowed_still_never_reach_the_apps_components() {
    let receiver = Recorder::start();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
    ]);
    // callback_private_networks is for receivers beside the gateway, never for the app's
    // own components.
    for url in OWN_COMPONENTS {
        assert_refused(&gw, url);
    }
    // The legitimate receiver on the private network gets its callbacks.
    let id = gw.accept(sms_with_callback(&format!("{}/status", receiver.url)));
    gw.wait_status(&id, "delivered");
    let got = wait_for(20, "the status callbacks", || {
        let got = receiver.received();
        (got.len() >= 2).then_some(got)
    });
    assert!(got.iter().all(|r| r.path == "/status"));
    // The notifier erases a notification once its receiver answered, a moment after the
    // receiver has it; then nothing may be left for anyone else.
    wait_for(10, "the sent notifications to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")))
        .then_some(())
    });
    assert_no_private_call(&gw);
}

/// A notification stored under another setting (or before the check existed) is checked
/// again when it is sent: turning `callback_private_networks` off stops callbacks to the
/// private network that were accepted while it was on.
#[test]
fn the_notifier_checks_each_url_again_when_it_sends() {
    let receiver = Recorder::start();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "http://127.0.0.1:*"),
        ("callback_private_networks", "true"),
    ]);
    let at = messaging_domain::api::rfc3339_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 8_000,
    );
    let mut body = sms_with_callback(&format!("{}/status", receiver.url));
    body["send_at"] = json!(at);
    let id = gw.accept(body);
    let gw = gw.restart_with(&[("callback_private_networks", "false")]);
    gw.wait_status(&id, "delivered");
    wait_for(30, "the notifier to refuse the stored URLs", || {
        (gw.logs().matches("notify.refused").count() >= 2).then_some(())
    });
    assert!(
        receiver.received().is_empty(),
        "a callback went to the private network"
    );
    wait_for(10, "the refused notifications to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")))
        .then_some(())
    });
}

/// What a name resolves to is checked where the connection is made (project host): with
/// a `callback_hosts` pattern that names no host, a name or a spelling that the accept
/// check lets through (here `callback_private_networks` lets loopback through) still
/// never connects to this machine. On Spin, `callback_hosts` and the accept check are the
/// fence (ARCHITECTURE.md, "Threats").
#[test]
fn a_wildcard_callback_pattern_never_connects_to_a_private_address() {
    if Runtime::of_suite() == Runtime::Spin {
        eprintln!("project host only: Spin does not check the connected address");
        return;
    }
    let receiver = Recorder::start();
    let port = receiver.url.rsplit(':').next().unwrap().to_string();
    let gw = Gateway::start_with(&[
        ("callback_hosts", "*://*:*"),
        ("callback_private_networks", "true"),
    ]);
    let mut ids = Vec::new();
    for host in [
        "localhost",
        "LOCALHOST",
        "2130706433",
        "127.0.0.1",
        "[::ffff:127.0.0.1]",
    ] {
        let url = format!("http://{host}:{port}/status");
        ids.push(gw.accept(sms_with_callback(&url)));
    }
    for id in &ids {
        gw.wait_status(id, "delivered");
    }
    wait_for(30, "the host to refuse every callback", || {
        (gw.logs().matches("notify.refused").count() >= 2 * ids.len()).then_some(())
    });
    assert!(
        receiver.received().is_empty(),
        "a callback reached loopback through a wildcard pattern"
    );
    assert!(
        gw.logs()
            .contains("a wildcard pattern reaches public addresses only")
    );
}
