//! Twilio's Programmable Messaging API, in its published wire format.
//!
//! - Send: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth
//!   (Account SID, Auth Token), form-encoded `To`, `From` (or `MessagingServiceSid`),
//!   `Body`, `StatusCallback`. Answers `201` with the message resource
//!   (`message_created.json`: its `sid` is the provider id); errors are JSON with a Twilio
//!   `code` (`error_21211.json`). 4xx other than 429 are permanent; 429 and 5xx temporary.
//! - Status callbacks and inbound messages are form-encoded POSTs
//!   (`status_callback_delivered.form`, `inbound_message.form`) signed with
//!   `X-Twilio-Signature`: base64 of HMAC-SHA1 under the Auth Token of the full URL Twilio
//!   called followed by every POST parameter, sorted by name, as name and value with no
//!   separators.
//! - An inbound message is answered with TwiML; an empty `<Response/>` sends nothing back.

use crate::Status;
use base64::Engine;
use hmac::{Hmac, Mac};

/// Twilio's answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAnswer {
    /// Taken; Twilio's message SID.
    Accepted(String),
    Rejected(String),
    Deferred(String),
}

pub use super::form::{field, form, parse_form};

/// The body of a send.
pub fn send_form(to: &str, from: &str, body: &str, status_callback: Option<&str>) -> String {
    let sender = if from.starts_with("MG") {
        "MessagingServiceSid"
    } else {
        "From"
    };
    let mut pairs = vec![("To", to), (sender, from), ("Body", body)];
    if let Some(url) = status_callback {
        pairs.push(("StatusCallback", url));
    }
    form(&pairs)
}

/// Reads Twilio's answer to a send.
pub fn interpret_send(status: u16, body: &[u8]) -> SendAnswer {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match status {
        200..=299 => match json["sid"].as_str() {
            Some(sid) => SendAnswer::Accepted(sid.to_string()),
            None => SendAnswer::Deferred("twilio: an answer without a message sid".into()),
        },
        429 | 500..=599 => SendAnswer::Deferred(format!("twilio answered {status}")),
        _ => SendAnswer::Rejected(format!(
            "twilio {} {}",
            json["code"].as_u64().unwrap_or(u64::from(status)),
            json["message"].as_str().unwrap_or("refused the message")
        )),
    }
}

/// Our status for a `MessageStatus` of a status callback; `None` for the steps before
/// the handset (queued, sending, accepted, scheduled).
pub fn status_of(message_status: &str) -> Option<Status> {
    match message_status {
        "sent" => Some(Status::Sent),
        "delivered" | "read" => Some(Status::Delivered),
        "failed" | "undelivered" | "canceled" => Some(Status::Failed),
        _ => None,
    }
}

/// The `X-Twilio-Signature` of a request to `url` with form `params`.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a request's `X-Twilio-Signature`, in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    crate::hashing::constant_time_eq(&signature(auth_token, url, params), header)
}

/// The TwiML answer to an inbound message that sends nothing back.
pub const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_twilios_documented_example() {
        // The example of Twilio's "Validating requests" documentation.
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify(
            "12346",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn the_send_form_is_twilios() {
        assert_eq!(
            send_form(
                "+254712345678",
                "+15005550006",
                "Karibu: 9:00 & 10:00",
                Some("https://gw.example/webhooks/receipts/msg_x/t?provider=twilio")
            ),
            "To=%2B254712345678&From=%2B15005550006&Body=Karibu%3A+9%3A00+%26+10%3A00\
             &StatusCallback=https%3A%2F%2Fgw.example%2Fwebhooks%2Freceipts%2Fmsg_x%2Ft%3Fprovider%3Dtwilio"
        );
        assert!(send_form("+1", "MG123", "x", None).contains("MessagingServiceSid=MG123"));
    }

    #[test]
    fn answers_map_to_outcomes() {
        let created = include_bytes!("message_created.json");
        assert_eq!(
            interpret_send(201, created),
            SendAnswer::Accepted("SM1f0e8ae6ade43cb3c0ce4525424e404f".into())
        );
        let refused = interpret_send(400, include_bytes!("error_21211.json"));
        assert!(matches!(&refused, SendAnswer::Rejected(r) if r.starts_with("twilio 21211")));
        assert!(matches!(
            interpret_send(429, b"{}"),
            SendAnswer::Deferred(_)
        ));
        assert!(matches!(interpret_send(503, b""), SendAnswer::Deferred(_)));
    }

    #[test]
    fn recorded_callbacks_parse_and_map() {
        let status = parse_form(include_str!("status_callback_delivered.form"));
        assert_eq!(field(&status, "MessageStatus"), Some("delivered"));
        assert_eq!(status_of("delivered"), Some(Status::Delivered));
        assert_eq!(status_of("undelivered"), Some(Status::Failed));
        assert_eq!(status_of("queued"), None);
        let inbound = parse_form(include_str!("inbound_message.form"));
        assert_eq!(field(&inbound, "From"), Some("+254712345678"));
        assert_eq!(field(&inbound, "Body"), Some("Ndio nitakuja"));
    }
}
