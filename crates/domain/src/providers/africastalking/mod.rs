//! Africa's Talking's SMS API, in its published wire format.
//!
//! - Send: `POST {base}/version1/messaging`, header `apiKey`, `Accept: application/json`,
//!   form-encoded `username`, `to`, `message`, `from` (sender id or short code, optional).
//!   Answers `201` with `SMSMessageData.Recipients[]`, one per number, each with a
//!   `statusCode` (100 processed, 101 sent, 102 queued; 4xx/5xx refusals) and the
//!   `messageId` later delivery reports name (`send_response.json`,
//!   `send_response_invalid_number.json`).
//! - Bulk: the same message to many numbers is one send with `to` a comma-separated list;
//!   `Recipients[]` then has one entry per number (`send_response_bulk.json`).
//! - Delivery reports and inbound messages are form POSTs to URLs registered in the
//!   Africa's Talking dashboard (`delivery_report_success.form`, `inbound_message.form`).
//!   Africa's Talking does not sign them, so the gateway's URLs carry a secret token.

use crate::Status;

/// The answer to a send of one message to one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAnswer {
    /// Taken; Africa's Talking's message id.
    Accepted(String),
    Rejected(String),
    Deferred(String),
}

/// The form of a send.
pub fn send_form(username: &str, to: &str, message: &str, from: Option<&str>) -> String {
    let mut pairs = vec![("username", username), ("to", to), ("message", message)];
    if let Some(from) = from {
        pairs.push(("from", from));
    }
    super::form::form(&pairs)
}

/// Reads the answer to a send of one message to one number.
pub fn interpret_send(status: u16, body: &[u8]) -> SendAnswer {
    if let Some(whole) = whole_request_answer(status) {
        return whole;
    }
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(recipient) = json["SMSMessageData"]["Recipients"].get(0) else {
        return refused_request(status, &json, body);
    };
    recipient_answer(recipient)
}

/// The form of a bulk send: one message to every number of `to`.
pub fn bulk_send_form(username: &str, to: &[&str], message: &str, from: Option<&str>) -> String {
    send_form(username, &to.join(","), message, from)
}

/// Reads the answer to a bulk send: one answer per number of `to`, in order. A number
/// the answer does not mention was not taken and is deferred.
pub fn interpret_bulk_send(status: u16, body: &[u8], to: &[&str]) -> Vec<SendAnswer> {
    if let Some(whole) = whole_request_answer(status) {
        return vec![whole; to.len()];
    }
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(recipients) = json["SMSMessageData"]["Recipients"]
        .as_array()
        .filter(|r| !r.is_empty())
    else {
        return vec![refused_request(status, &json, body); to.len()];
    };
    // Matched without the `+`, in case the answer writes numbers without it.
    let by_number: std::collections::HashMap<&str, &serde_json::Value> = recipients
        .iter()
        .filter_map(|r| Some((r["number"].as_str()?.trim_start_matches('+'), r)))
        .collect();
    to.iter()
        .map(
            |number| match by_number.get(number.trim_start_matches('+')) {
                Some(recipient) => recipient_answer(recipient),
                None => {
                    SendAnswer::Deferred("africastalking: number missing from the answer".into())
                }
            },
        )
        .collect()
}

/// The answer for every number when the status alone decides it.
fn whole_request_answer(status: u16) -> Option<SendAnswer> {
    if status == 429 || status >= 500 {
        return Some(SendAnswer::Deferred(format!(
            "africastalking answered {status}"
        )));
    }
    if status == 401 {
        // A wrong API key is the deployment's to fix; keep the message until then.
        return Some(SendAnswer::Deferred(
            "africastalking refused the API key (401)".into(),
        ));
    }
    None
}

fn refused_request(status: u16, json: &serde_json::Value, body: &[u8]) -> SendAnswer {
    let text = json["SMSMessageData"]["Message"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(120).collect());
    SendAnswer::Rejected(format!("africastalking {status}: {text}"))
}

fn recipient_answer(recipient: &serde_json::Value) -> SendAnswer {
    let code = recipient["statusCode"].as_u64().unwrap_or(0);
    let name = recipient["status"].as_str().unwrap_or("unknown");
    match code {
        100..=102 => match recipient["messageId"].as_str() {
            Some(id) => SendAnswer::Accepted(id.to_string()),
            None => SendAnswer::Deferred("africastalking: no messageId".into()),
        },
        // RiskHold, InsufficientBalance, InternalServerError, GatewayError: temporary.
        401 | 405 | 500 | 501 => SendAnswer::Deferred(format!("africastalking {code} {name}")),
        _ => SendAnswer::Rejected(format!("africastalking {code} {name}")),
    }
}

/// Our status for a delivery report's `status`; `None` for unknown values.
pub fn status_of(report_status: &str) -> Option<Status> {
    match report_status {
        "Sent" | "Submitted" | "Buffered" => Some(Status::Sent),
        "Success" => Some(Status::Delivered),
        "Rejected" | "Failed" | "AbsentSubscriber" | "Expired" => Some(Status::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::form::{field, parse_form};

    #[test]
    fn the_send_form_is_africas_talkings() {
        assert_eq!(
            send_form("sandbox", "+254712345678", "Karibu kliniki", Some("22384")),
            "username=sandbox&to=%2B254712345678&message=Karibu+kliniki&from=22384"
        );
        assert!(!send_form("sandbox", "+1", "x", None).contains("from="));
    }

    #[test]
    fn recorded_answers_map_to_outcomes() {
        assert_eq!(
            interpret_send(201, include_bytes!("send_response.json")),
            SendAnswer::Accepted("ATXid_9d5b9a3c2e1f4a6b8c7d0e1f2a3b4c5d".into())
        );
        assert_eq!(
            interpret_send(201, include_bytes!("send_response_invalid_number.json")),
            SendAnswer::Rejected("africastalking 403 InvalidPhoneNumber".into())
        );
        assert!(matches!(interpret_send(503, b""), SendAnswer::Deferred(_)));
        assert!(matches!(
            interpret_send(401, b"The supplied authentication is invalid"),
            SendAnswer::Deferred(_)
        ));
        assert!(matches!(
            interpret_send(400, b"Invalid username"),
            SendAnswer::Rejected(_)
        ));
    }

    #[test]
    fn a_bulk_answer_maps_to_each_number_in_order() {
        let to = ["+254798765432", "+25471", "+254712345678", "+254700000000"];
        assert_eq!(
            bulk_send_form("sandbox", &to[..2], "Hi", None),
            "username=sandbox&to=%2B254798765432%2C%2B25471&message=Hi"
        );
        let answers = interpret_bulk_send(201, include_bytes!("send_response_bulk.json"), &to);
        assert_eq!(
            answers[0],
            SendAnswer::Accepted("ATXid_2c3d4e5f60718293a4b5c6d7e8f90a12".into())
        );
        assert_eq!(
            answers[1],
            SendAnswer::Rejected("africastalking 403 InvalidPhoneNumber".into())
        );
        assert_eq!(
            answers[2],
            SendAnswer::Accepted("ATXid_1b2c3d4e5f60718293a4b5c6d7e8f901".into())
        );
        assert!(
            matches!(answers[3], SendAnswer::Deferred(_)),
            "not mentioned"
        );
        assert!(
            interpret_bulk_send(503, b"", &to)
                .iter()
                .all(|a| matches!(a, SendAnswer::Deferred(_)))
        );
        assert!(
            interpret_bulk_send(400, b"Invalid username", &to)
                .iter()
                .all(|a| matches!(a, SendAnswer::Rejected(_)))
        );
    }

    #[test]
    fn recorded_callbacks_parse_and_map() {
        let report = parse_form(include_str!("delivery_report_success.form"));
        assert_eq!(
            field(&report, "id"),
            Some("ATXid_9d5b9a3c2e1f4a6b8c7d0e1f2a3b4c5d")
        );
        assert_eq!(
            field(&report, "status").and_then(status_of),
            Some(Status::Delivered)
        );
        assert_eq!(status_of("AbsentSubscriber"), Some(Status::Failed));
        assert_eq!(status_of("Queued"), None);
        let inbound = parse_form(include_str!("inbound_message.form"));
        assert_eq!(field(&inbound, "from"), Some("+254712345678"));
        assert_eq!(field(&inbound, "text"), Some("Ndio nitakuja"));
    }
}
