//! The GovStack Messaging email API (`../shared/govstack/swagger.yaml`), parsed into domain
//! types. The published file has known quirks that real clients follow and this module
//! accepts: the body is a JSON request body (the file declares it as a query parameter),
//! both recipient shapes on both send operations, three spellings of the callback
//! (`callback{URI}`, `callbackURI{URI}`, `callbackUri{uri}`), and several spellings of the
//! "not sent" status.

use crate::EmailAddress;
use crate::api::MAX_CONTENT_CHARS;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Most recipients one request may carry, To, Cc and Bcc together across a batch; larger
/// sends are broadcasts (issue 5).
pub const MAX_BATCH_RECIPIENTS: usize = 1000;

/// Most recipients (To, Cc and Bcc) of one email when `email_max_recipients` is unset:
/// what common relays accept in one envelope (Gmail and Microsoft 365 allow more, many
/// ISP relays 50), small enough that one request cannot turn into a mass mailing.
pub const DEFAULT_MAX_EMAIL_RECIPIENTS: usize = 50;

/// The most recipients of one email, from `email_max_recipients`: empty is the default, else a
/// number from 1 to [`MAX_BATCH_RECIPIENTS`].
pub fn max_email_recipients(config: &str) -> Result<usize, String> {
    let config = config.trim();
    if config.is_empty() {
        return Ok(DEFAULT_MAX_EMAIL_RECIPIENTS);
    }
    config
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_BATCH_RECIPIENTS).contains(n))
        .ok_or_else(|| format!("must be a number from 1 to {MAX_BATCH_RECIPIENTS}"))
}

/// One email to send: the recipient shape of the spec, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRecipient {
    pub to: EmailAddress,
    pub cc: Vec<EmailAddress>,
    pub bcc: Vec<EmailAddress>,
    pub name: Option<String>,
}

impl EmailRecipient {
    /// Everyone this email goes to: each is one RCPT TO, one delivery, one unit of quota.
    pub fn recipient_count(&self) -> usize {
        1 + self.cc.len() + self.bcc.len()
    }
}

/// Who sends, as the spec's `senderInfo` says. Only `email` (From), `name` and `replyTo`
/// reach the message; the organisation fields are kept out of the store (minimal data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    pub email: Option<EmailAddress>,
    pub reply_to: Option<EmailAddress>,
    pub name: Option<String>,
}

/// A validated `/send/email/single` or `/send/email/batch` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRequest {
    pub callback_uri: Option<String>,
    pub sender: Sender,
    pub recipients: Vec<EmailRecipient>,
    pub subject: String,
    pub content: String,
}

/// Why a GovStack request is refused. The spec answers every input error with 405.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovStackError(pub String);

fn refuse(message: impl Into<String>) -> GovStackError {
    GovStackError(message.into())
}

fn string_field<'a>(object: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| {
        object
            .get(*n)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    })
}

fn object_field<'a>(
    object: &'a Map<String, Value>,
    names: &[&str],
) -> Option<&'a Map<String, Value>> {
    names
        .iter()
        .find_map(|n| object.get(*n).and_then(Value::as_object))
}

/// Parses a comma- or semicolon-separated address list (the spec's `emailCC` is one string;
/// an array of strings is accepted too).
fn address_list(value: Option<&Value>, field: &str) -> Result<Vec<EmailAddress>, GovStackError> {
    let items: Vec<String> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(_) => return Err(refuse(format!("{field} must be a string of addresses"))),
    };
    items
        .iter()
        .map(|a| EmailAddress::parse(a).map_err(|m| refuse(format!("{field}: {m}"))))
        .collect()
}

fn recipient(info: &Map<String, Value>) -> Result<EmailRecipient, GovStackError> {
    let to =
        string_field(info, &["email"]).ok_or_else(|| refuse("recipientInfo.email is required"))?;
    let to = EmailAddress::parse(to).map_err(|m| refuse(format!("recipientInfo.email: {m}")))?;
    let cc = address_list(
        info.get("emailCC").or_else(|| info.get("emailCc")),
        "recipientInfo.emailCC",
    )?;
    let bcc = address_list(
        info.get("emailBCC").or_else(|| info.get("emailBcc")),
        "recipientInfo.emailBCC",
    )?;
    let name = string_field(info, &["name"]).map(String::from);
    if name.as_deref().is_some_and(|n| n.contains(['\r', '\n'])) {
        return Err(refuse("recipientInfo.name must be one line"));
    }
    Ok(EmailRecipient { to, cc, bcc, name })
}

#[derive(Deserialize)]
struct BatchEntry {
    #[serde(rename = "recipientInfo")]
    recipient_info: Map<String, Value>,
}

fn batch_recipients(encoded: &str) -> Result<Vec<EmailRecipient>, GovStackError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refuse("recipientInfo.batchEmailAsBase64 is not valid base64"))?;
    let entries: Vec<BatchEntry> = serde_json::from_slice(&bytes)
        .map_err(|_| refuse("recipientInfo.batchEmailAsBase64 must encode a JSON array of {\"recipientInfo\": {...}}"))?;
    if entries.len() > MAX_BATCH_RECIPIENTS {
        return Err(refuse(format!(
            "a batch carries at most {MAX_BATCH_RECIPIENTS} recipients"
        )));
    }
    entries
        .iter()
        .map(|e| recipient(&e.recipient_info))
        .collect()
}

/// The request body as a JSON object; an absent, empty or non-object body is refused.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, GovStackError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(refuse("the request body is missing"));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(root)) => Ok(root),
        Ok(_) => Err(refuse("the request body must be a JSON object")),
        Err(_) => Err(refuse("the request body is not valid JSON")),
    }
}

impl EmailRequest {
    /// Parses a send request body. Either recipient shape is accepted on either operation.
    pub fn parse(body: &[u8]) -> Result<EmailRequest, GovStackError> {
        let root = &json_object(body)?;

        let callback_uri = object_field(root, &["callback", "callbackURI", "callbackUri"])
            .and_then(|c| string_field(c, &["URI", "uri", "Uri"]))
            .map(String::from);
        if let Some(uri) = &callback_uri
            && !(uri.starts_with("https://") || uri.starts_with("http://"))
        {
            return Err(refuse("callback URI must be an http(s) URL"));
        }

        let sender = match object_field(root, &["senderInfo"]) {
            None => Sender::default(),
            Some(info) => Sender {
                email: string_field(info, &["email"])
                    .map(|e| {
                        EmailAddress::parse(e).map_err(|m| refuse(format!("senderInfo.email: {m}")))
                    })
                    .transpose()?,
                reply_to: string_field(info, &["replyTo"])
                    .map(|e| {
                        EmailAddress::parse(e)
                            .map_err(|m| refuse(format!("senderInfo.replyTo: {m}")))
                    })
                    .transpose()?,
                name: string_field(info, &["name"])
                    .filter(|n| !n.contains(['\r', '\n']))
                    .map(String::from),
            },
        };

        let info = object_field(root, &["recipientInfo"])
            .ok_or_else(|| refuse("recipientInfo is required"))?;
        let recipients = match string_field(info, &["batchEmailAsBase64"]) {
            Some(encoded) => batch_recipients(encoded)?,
            None => vec![recipient(info)?],
        };
        if recipients.is_empty() {
            return Err(refuse("the batch has no recipients"));
        }
        // Cc and Bcc count: each is a delivery, and a request of a few emails with
        // thousands of Bcc addresses is a mass mailing all the same.
        if recipients
            .iter()
            .map(EmailRecipient::recipient_count)
            .sum::<usize>()
            > MAX_BATCH_RECIPIENTS
        {
            return Err(refuse(format!(
                "a request names at most {MAX_BATCH_RECIPIENTS} recipients, To, Cc and Bcc together"
            )));
        }

        let content = object_field(root, &["emailContent"])
            .ok_or_else(|| refuse("emailContent is required"))?;
        if let Some(encoding) = string_field(content, &["encoding"])
            && !encoding.eq_ignore_ascii_case("utf-8")
            && !encoding.eq_ignore_ascii_case("utf8")
        {
            return Err(refuse("emailContent.encoding must be UTF-8"));
        }
        let subject = string_field(content, &["title"]).unwrap_or("").to_string();
        if subject.contains(['\r', '\n']) || subject.chars().count() > crate::api::MAX_SUBJECT_CHARS
        {
            return Err(refuse(
                "emailContent.title must be one line of at most 998 characters",
            ));
        }
        let body = content
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if body.trim().is_empty() {
            return Err(refuse("emailContent.content is required"));
        }
        if body.chars().count() > MAX_CONTENT_CHARS {
            return Err(refuse(format!(
                "emailContent.content has more than {MAX_CONTENT_CHARS} characters"
            )));
        }
        Ok(EmailRequest {
            callback_uri,
            sender,
            recipients,
            subject,
            content: body,
        })
    }
}

impl EmailRequest {
    /// Every recipient of the request, To, Cc and Bcc of each email: what it is charged.
    pub fn recipient_count(&self) -> usize {
        self.recipients
            .iter()
            .map(EmailRecipient::recipient_count)
            .sum()
    }

    /// Refuses a request with an email to more than `max_per_email` recipients (To, Cc and
    /// Bcc together, `email_max_recipients`).
    pub fn check_recipients(&self, max_per_email: usize) -> Result<(), GovStackError> {
        if self
            .recipients
            .iter()
            .any(|r| r.recipient_count() > max_per_email)
        {
            return Err(refuse(format!(
                "an email goes to at most {max_per_email} recipients, To, Cc and Bcc together"
            )));
        }
        Ok(())
    }
}

/// The statuses the spec's `/status/email` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailStatus {
    Scheduled,
    Processing,
    Deferred,
    Bounced,
    NotSent,
    Delivered,
}

impl EmailStatus {
    /// Reads a status name as callers send it (`not sent`, `not_sent`, `notSent`, any case).
    pub fn parse(name: &str) -> Option<EmailStatus> {
        let folded: String = name
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match folded.as_str() {
            "scheduled" => EmailStatus::Scheduled,
            "processing" => EmailStatus::Processing,
            "deferred" => EmailStatus::Deferred,
            "bounced" => EmailStatus::Bounced,
            "notsent" => EmailStatus::NotSent,
            "delivered" => EmailStatus::Delivered,
            _ => return None,
        })
    }

    /// Where a message stands in the spec's terms, from our status and whether a provider
    /// has deferred it. An email a mail server accepted (`sent`) counts as delivered: SMTP
    /// gives no later confirmation, and the spec keeps no track beyond that.
    pub fn of(status: crate::Status, deferred: bool) -> EmailStatus {
        use crate::Status::*;
        match status {
            Accepted | Queued if deferred => EmailStatus::Deferred,
            Accepted | Queued => EmailStatus::Processing,
            Sent | Delivered => EmailStatus::Delivered,
            Failed => EmailStatus::Bounced,
            Expired | Suppressed | Cancelled => EmailStatus::NotSent,
        }
    }
}

/// The selected statuses of a `/status/email` query string: repeated `status=` or
/// `status[]=` parameters, each kept with the name exactly as sent (the response's keys).
pub fn status_selection(query: &str) -> Result<Vec<(String, EmailStatus)>, GovStackError> {
    let mut selected = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key);
        if key != "status" && key != "status[]" {
            continue;
        }
        for name in percent_decode(value)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let status = EmailStatus::parse(name)
                .ok_or_else(|| refuse(format!("unknown status {name:?}")))?;
            if !selected.iter().any(|(n, _)| n == name) {
                selected.push((name.to_string(), status));
            }
        }
    }
    if selected.is_empty() {
        return Err(refuse("select at least one status with ?status=..."));
    }
    Ok(selected)
}

/// Decodes `%XX` and `+` in a query component.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(())
                {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new `requestUid` in the spec's shape (six groups of four, e.g. `UFQK-CPJU-EA5B-6Y7X-8A72-VQU5`),
/// from 15 random bytes (120 bits) supplied by the caller.
pub fn new_request_uid(random: [u8; 15]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n = random
        .iter()
        .fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    let mut chars = [0u8; 24];
    for slot in chars.iter_mut().rev() {
        *slot = ALPHABET[(n & 31) as usize];
        n >>= 5;
    }
    chars
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect::<Vec<_>>()
        .join("-")
}

/// Whether a `requestUid` header can name a request (a safe alphabet, bounded length), so it
/// can be used in a storage key.
pub fn is_request_uid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// What is stored under a `requestUid`: the messages the request created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestRecord {
    pub ids: Vec<crate::MessageId>,
    pub callback_uri: Option<String>,
    pub created_ms: u64,
}

/// A reply sent to `/callback/email`: opaque to the gateway, base64 content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackReply {
    pub meta: Option<String>,
    pub content: Vec<u8>,
}

impl CallbackReply {
    pub fn parse(body: &[u8]) -> Result<CallbackReply, GovStackError> {
        let root = &json_object(body)?;
        let meta = string_field(root, &["meta"]).map(String::from);
        let encoded =
            string_field(root, &["content"]).ok_or_else(|| refuse("content is required"))?;
        let content = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| refuse("content must be base64"))?;
        Ok(CallbackReply { meta, content })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn single() -> Value {
        json!({
            "callback": {"URI": "https://registry.example.org/callback"},
            "senderInfo": {"organisationName": "Clinic", "email": "sender@clinic.example.org", "replyTo": "reply@clinic.example.org", "name": "Dr Amina"},
            "recipientInfo": {"email": "patient@example.org", "emailCC": "cc1@example.org, cc2@example.org", "emailBCC": "bcc@example.org", "name": "Patient"},
            "emailContent": {"encoding": "UTF-8", "title": "Your visit", "content": "See you at 9."}
        })
    }

    #[test]
    fn a_single_email_parses_with_cc_bcc_and_sender() {
        let r = EmailRequest::parse(single().to_string().as_bytes()).unwrap();
        assert_eq!(
            r.callback_uri.as_deref(),
            Some("https://registry.example.org/callback")
        );
        assert_eq!(r.recipients.len(), 1);
        assert_eq!(r.recipients[0].to.as_str(), "patient@example.org");
        assert_eq!(r.recipients[0].cc.len(), 2);
        assert_eq!(r.recipients[0].bcc[0].as_str(), "bcc@example.org");
        assert_eq!(
            r.sender.reply_to.as_ref().unwrap().as_str(),
            "reply@clinic.example.org"
        );
        assert_eq!(r.subject, "Your visit");
    }

    fn addresses(prefix: &str, n: usize) -> String {
        (0..n)
            .map(|i| format!("{prefix}{i}@example.org"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn every_recipient_counts_to_cc_and_bcc() {
        let r = EmailRequest::parse(single().to_string().as_bytes()).unwrap();
        assert_eq!(r.recipient_count(), 4, "one To, two Cc, one Bcc");
        let mut body = single();
        body["recipientInfo"] = json!({"batchEmailAsBase64": base64::engine::general_purpose::STANDARD.encode(
            json!([{"recipientInfo": {"email": "a@example.org", "emailBCC": "b@example.org;c@example.org"}},
                   {"recipientInfo": {"email": "d@example.org"}}]).to_string())});
        let r = EmailRequest::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.recipient_count(), 4);
    }

    #[test]
    fn one_email_goes_to_at_most_the_configured_recipients() {
        let mut body = single();
        body["recipientInfo"]["emailCC"] = json!(addresses("cc", 20));
        body["recipientInfo"]["emailBCC"] = json!(addresses("bcc", 29));
        let r = EmailRequest::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.recipient_count(), 50);
        assert_eq!(r.check_recipients(50), Ok(()));
        assert!(r.check_recipients(49).is_err());
        // Bcc as a JSON array counts the same.
        body["recipientInfo"]["emailBCC"] = json!(vec!["x@example.org"; 30]);
        let r = EmailRequest::parse(body.to_string().as_bytes()).unwrap();
        assert!(
            r.check_recipients(50).is_err(),
            "duplicates count: each is an RCPT"
        );
    }

    #[test]
    fn a_request_names_at_most_a_thousand_recipients_in_all() {
        let mut body = single();
        body["recipientInfo"]["emailCC"] = json!(null);
        body["recipientInfo"]["emailBCC"] = json!(addresses("bcc", 1000));
        assert!(EmailRequest::parse(body.to_string().as_bytes()).is_err());
        body["recipientInfo"]["emailBCC"] = json!(addresses("bcc", 999));
        assert_eq!(
            EmailRequest::parse(body.to_string().as_bytes())
                .unwrap()
                .recipient_count(),
            1000
        );
        // Spread over a batch: 40 emails of 1 To and 25 Bcc are 1,040 recipients.
        let entries: Vec<Value> = (0..40)
            .map(|i| json!({"recipientInfo": {"email": format!("to{i}@example.org"), "emailBCC": addresses("b", 25)}}))
            .collect();
        body["recipientInfo"] = json!({"batchEmailAsBase64":
            base64::engine::general_purpose::STANDARD.encode(json!(entries).to_string())});
        assert!(EmailRequest::parse(body.to_string().as_bytes()).is_err());
    }

    #[test]
    fn the_recipient_maximum_is_read_from_its_variable() {
        assert_eq!(max_email_recipients(""), Ok(DEFAULT_MAX_EMAIL_RECIPIENTS));
        assert_eq!(max_email_recipients(" 10 "), Ok(10));
        assert_eq!(max_email_recipients("1000"), Ok(1000));
        for bad in ["0", "1001", "-1", "ten", "5,6"] {
            assert!(max_email_recipients(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_specs_own_batch_example_parses() {
        // The example of batchRecipientInfo in swagger.yaml.
        let example = "W3sKCSJyZWNpcGllbnRJbmZvIjogewoJCSJlbWFpbCI6ICJjdXN0b21lckBleGFtcGxlLmNvbSIsCgkJImVtYWlsQ0MiOiAiY3VzdG9tZXItY2NAZXhhbXBsZS5jb20iLAoJCSJlbWFpbEJDQyI6ICJjdXN0b21lci1iY2NAZXhhbXBsZS5jb20iLAoJCSJuYW1lIjogIkV4YW1wbGUgQ3VzdG9tZXIiCgl9Cn0sIHsKCSJyZWNpcGllbnRJbmZvIjogewoJCSJlbWFpbCI6ICJkZWFyLWN1c3RvbWVyQGV4YW1wbGUuY29tIiwKCQkibmFtZSI6ICJVbmtub3duIEN1c3RvbWVyIgoJfQp9XQ==";
        let mut body = single();
        body["recipientInfo"] = json!({"batchEmailAsBase64": example});
        body["callbackURI"] = body["callback"].take();
        let r = EmailRequest::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.recipients[1].to.as_str(), "dear-customer@example.com");
        assert_eq!(
            r.callback_uri.as_deref(),
            Some("https://registry.example.org/callback")
        );
    }

    #[test]
    fn every_callback_spelling_is_read() {
        for (field, inner) in [
            ("callback", "URI"),
            ("callbackURI", "URI"),
            ("callbackUri", "uri"),
        ] {
            let mut body = single();
            body.as_object_mut().unwrap().remove("callback");
            body[field] = json!({ inner: "https://x.example.org/cb" });
            let r = EmailRequest::parse(body.to_string().as_bytes()).unwrap();
            assert_eq!(
                r.callback_uri.as_deref(),
                Some("https://x.example.org/cb"),
                "{field}"
            );
        }
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let cases: Vec<Value> = vec![
            json!({}),
            {
                let mut b = single();
                b["recipientInfo"]["email"] = json!("nobody");
                b
            },
            {
                let mut b = single();
                b["recipientInfo"]["emailCC"] = json!("ok@example.org, broken");
                b
            },
            {
                let mut b = single();
                b["emailContent"]["content"] = json!("");
                b
            },
            {
                let mut b = single();
                b["emailContent"]["title"] = json!("a\r\nBcc: x@y.org");
                b
            },
            {
                let mut b = single();
                b["emailContent"]["encoding"] = json!("latin1");
                b
            },
            {
                let mut b = single();
                b["recipientInfo"] = json!({"batchEmailAsBase64": "!!!"});
                b
            },
            {
                let mut b = single();
                b["callback"] = json!({"URI": "ftp://x"});
                b
            },
        ];
        for body in cases {
            assert!(
                EmailRequest::parse(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        assert!(EmailRequest::parse(b"").is_err());
        assert!(EmailRequest::parse(b"{oops").is_err());
    }

    #[test]
    fn status_names_in_every_spelling() {
        let selected =
            status_selection("status=delivered&status=not%20sent&status[]=notSent&status=not_sent")
                .unwrap();
        let names: Vec<&str> = selected.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["delivered", "not sent", "notSent", "not_sent"]);
        assert!(
            selected[1..]
                .iter()
                .all(|(_, s)| *s == EmailStatus::NotSent)
        );
        assert!(status_selection("").is_err());
        assert!(status_selection("status=lost").is_err());
        assert!(status_selection("other=1").is_err());
    }

    #[test]
    fn our_statuses_map_to_the_specs() {
        use crate::Status;
        assert_eq!(
            EmailStatus::of(Status::Queued, false),
            EmailStatus::Processing
        );
        assert_eq!(EmailStatus::of(Status::Queued, true), EmailStatus::Deferred);
        assert_eq!(EmailStatus::of(Status::Sent, false), EmailStatus::Delivered);
        assert_eq!(EmailStatus::of(Status::Failed, false), EmailStatus::Bounced);
        assert_eq!(
            EmailStatus::of(Status::Expired, false),
            EmailStatus::NotSent
        );
    }

    #[test]
    fn request_uids_have_the_specs_shape() {
        let uid = new_request_uid([0xA5; 15]);
        assert_eq!(uid.len(), 29);
        assert_eq!(uid.matches('-').count(), 5);
        assert!(is_request_uid(&uid));
        assert_ne!(uid, new_request_uid([0x5A; 15]));
        assert!(!is_request_uid("../x"));
        assert!(!is_request_uid(""));
    }

    #[test]
    fn callback_replies_need_base64_content() {
        let r = CallbackReply::parse(br#"{"meta":"m","content":"aGVsbG8="}"#).unwrap();
        assert_eq!(r.content, b"hello");
        assert!(CallbackReply::parse(br#"{"meta":"m"}"#).is_err());
        assert!(CallbackReply::parse(br#"{"content":"***"}"#).is_err());
        assert!(CallbackReply::parse(b"  ").is_err());
    }
}
