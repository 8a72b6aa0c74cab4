//! Twilio's side of its webhooks, written from Twilio's documentation independently of the
//! gateway's code: form bodies, the request signature, and the signed POST.

use crate::http;
use base64::Engine;

/// Decodes an `application/x-www-form-urlencoded` body into its pairs, in order.
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

/// Encodes pairs as Twilio sends them (spaces as `+`, `+` escaped).
pub fn form_body(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('+', "%2B").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
}

/// Twilio's request signature: HMAC-SHA1 with the Auth Token over the URL followed by the
/// sorted parameters' names and values, base64.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use hmac::Mac;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(&k);
        data.push_str(&v);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// POSTs a form to `url` as Twilio does, with `signature` in `X-Twilio-Signature`.
pub fn post(url: &str, body: &str, signature: &str) -> http::Response {
    http::request(
        "POST",
        url,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-twilio-signature", signature),
        ],
        Some(body.as_bytes()),
    )
}

/// Twilio's status callback for the message whose `StatusCallback` is `callback`,
/// reporting `status`, built from the recorded callback and signed with `auth_token`.
pub fn report_status(auth_token: &str, callback: &str, status: &str) -> http::Response {
    let mut params = form_pairs(&crate::provider_fixture(
        "twilio",
        "status_callback_delivered.form",
    ));
    params.retain(|(k, _)| k != "MessageStatus");
    params.push(("MessageStatus".into(), status.into()));
    post(
        callback,
        &form_body(&params),
        &signature(auth_token, callback, &params),
    )
}

/// The account the Twilio doubles play: its SID, auth token (which signs its webhooks) and
/// sending number.
pub const ACCOUNT_SID: &str = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
pub const AUTH_TOKEN: &str = "twilio-test-auth-token";
pub const FROM: &str = "+15005550006";

/// The variables that make the SMS cell send through a Twilio double at `url`.
pub fn sms_vars(url: &str) -> [(&'static str, &str); 5] {
    [
        ("sms_provider", "twilio"),
        ("twilio_url", url),
        ("twilio_account_sid", ACCOUNT_SID),
        ("twilio_auth_token", AUTH_TOKEN),
        ("twilio_from", FROM),
    ]
}
