//! SendGrid's v3 Mail Send API (`POST /v3/mail/send`, `Authorization: Bearer <key>`),
//! one of the HTTP mail APIs a deployment can choose instead of SMTP.
//!
//! Wire format: a JSON body with `personalizations` (the envelope: `to`, `cc`, `bcc`),
//! `from`, `reply_to`, `subject` and `content` (`text/plain`); `custom_args` carries the
//! gateway's message id so SendGrid's event webhook can be matched back later. SendGrid
//! answers 202 with an `X-Message-Id` header; 400 (with `errors`), 401, 403 and 413 are
//! permanent; 429 and 5xx temporary. `mail_send.json` beside this file is a request as
//! SendGrid documents it, checked byte for byte by the tests.

use serde_json::{Value, json};

pub struct MailSend<'a> {
    pub message_id: &'a str,
    pub from: &'a str,
    pub from_name: Option<&'a str>,
    pub to: &'a str,
    pub to_name: Option<&'a str>,
    pub cc: &'a [String],
    pub bcc: &'a [String],
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
}

fn address(email: &str, name: Option<&str>) -> Value {
    match name {
        Some(name) => json!({ "email": email, "name": name }),
        None => json!({ "email": email }),
    }
}

/// The request body for one message.
pub fn body(mail: &MailSend<'_>) -> Value {
    let mut personalization = json!({ "to": [address(mail.to, mail.to_name)] });
    if !mail.cc.is_empty() {
        personalization["cc"] = mail.cc.iter().map(|a| address(a, None)).collect();
    }
    if !mail.bcc.is_empty() {
        personalization["bcc"] = mail.bcc.iter().map(|a| address(a, None)).collect();
    }
    let mut body = json!({
        "personalizations": [personalization],
        "from": address(mail.from, mail.from_name),
        "subject": mail.subject,
        "content": [{ "type": "text/plain", "value": mail.body }],
        "custom_args": { "gateway_message_id": mail.message_id },
    });
    if let Some(reply_to) = mail.reply_to {
        body["reply_to"] = address(reply_to, None);
    }
    body
}

/// How SendGrid answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx; SendGrid's message id when it sent one.
    Accepted(Option<String>),
    Retry(String),
    Refused(String),
}

pub fn interpret(status: u16, message_id: Option<&str>, body: &str) -> Answer {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v["errors"][0]["message"]
                .as_str()
                .map(|m| m.chars().take(160).collect::<String>())
        })
        .unwrap_or_default();
    match status {
        200..=299 => Answer::Accepted(message_id.map(String::from)),
        429 | 500..=599 => Answer::Retry(format!("sendgrid {status}: {detail}")),
        _ => Answer::Refused(format!("sendgrid {status}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_matches_the_documented_shape() {
        let cc = vec!["guardian@example.org".to_string()];
        let bcc = vec!["auditor@example.org".to_string()];
        let built = body(&MailSend {
            message_id: "msg_0000000000000000000000000a",
            from: "clinic@health.example.org",
            from_name: Some("Example Clinic"),
            to: "patient@example.org",
            to_name: Some("Amina"),
            cc: &cc,
            bcc: &bcc,
            reply_to: Some("desk@health.example.org"),
            subject: "Your registration",
            body: "Please come on Monday at 9:00.",
        });
        let fixture: Value = serde_json::from_str(include_str!("mail_send.json")).unwrap();
        assert_eq!(built, fixture);
    }

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(
            interpret(202, Some("abc"), ""),
            Answer::Accepted(Some("abc".into()))
        );
        let bad = r#"{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]}"#;
        assert!(
            matches!(interpret(403, None, bad), Answer::Refused(m) if m.contains("verified Sender"))
        );
        assert!(matches!(interpret(429, None, ""), Answer::Retry(_)));
        assert!(matches!(interpret(503, None, "oops"), Answer::Retry(_)));
    }
}
