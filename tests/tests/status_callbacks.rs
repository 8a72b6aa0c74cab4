//! Status changes of `/v1` messages reach the caller's `callback_url`: signed, at least
//! once, without address or content, and only on hosts the deployment allows.

use integration_tests::gateway::{CALLBACK_SECRET, Gateway};
use integration_tests::recorder::Recorder;
use serde_json::{Value, json};

fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the documented signature scheme independently of the gateway's code.
fn signature_is_valid(header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    v1 == hmac_sha256_hex(CALLBACK_SECRET.as_bytes(), &signed)
}

#[test]
fn each_status_a_message_reaches_is_posted_to_its_callback_url() {
    let callback = Recorder::start();
    let gw = Gateway::start_with(&[("callback_hosts", "http://127.0.0.1:*")]);
    let id = gw.accept(json!({
        "channel": "sms",
        "to": "+254712345678",
        "body": "Your clinic visit is tomorrow",
        "reference": "visit-17",
        "callback_url": format!("{}/status-updates", callback.url),
    }));
    gw.wait_status(&id, "delivered");
    let got = integration_tests::wait_for(10, "two status callbacks", || {
        let got = callback.received();
        (got.len() >= 2).then_some(got)
    });
    let mut statuses = Vec::new();
    for request in &got {
        assert_eq!(request.path, "/status-updates");
        assert_eq!(request.header("x-messaging-event"), Some("message.status"));
        assert!(signature_is_valid(
            request.header("x-messaging-signature").unwrap(),
            &request.body
        ));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["reference"], "visit-17");
        assert_eq!(body["channel"], "sms");
        let text = String::from_utf8_lossy(&request.body);
        assert!(!text.contains("712345678") && !text.contains("clinic visit"));
        statuses.push(body["status"].as_str().unwrap().to_string());
    }
    statuses.sort();
    assert_eq!(statuses, ["delivered", "sent"]);
    integration_tests::wait_for(10, "delivered notifications to be erased", || {
        (!gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")))
        .then_some(())
    });
}

#[test]
fn a_callback_url_outside_callback_hosts_is_dropped_not_retried() {
    let callback = Recorder::start();
    // The default allows only https on port 443.
    let gw = Gateway::start();
    let id = gw.accept(json!({
        "channel": "sms",
        "to": "+254712345678",
        "body": "x",
        "callback_url": callback.url,
    }));
    gw.wait_status(&id, "delivered");
    integration_tests::wait_for(10, "the notifier to refuse the host", || {
        (gw.logs().matches("notify.refused").count() >= 2).then_some(())
    });
    assert!(callback.received().is_empty());
    assert!(
        !gw.stored_rows()
            .iter()
            .any(|(_, k, _)| k.starts_with("ntf/")),
        "nothing is left to retry"
    );
}
