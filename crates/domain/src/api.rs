//! Request and response shapes of the `/v1` API, and the parsing that turns a request body
//! into a [`SendCommand`] or a precise [`ApiError`].

use crate::callback_events::CallbackEvents;
use crate::conversation::ExpectsReply;
use crate::error::{ApiError, ErrorCode};
use crate::group::Language;
use crate::providers::gsm7::{Encoding, Segments, segments};
use crate::providers::webpush;
use crate::{
    Channel, ChatId, EmailAddress, MessageId, PhoneNumber, PushSubscription, Recipient, Status,
};
use serde::{Deserialize, Serialize};

/// Largest accepted `POST /v1/messages` body. The host enforces a hard limit too.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest message content. SMS providers concatenate up to about 10 segments; email bodies
/// beyond this belong in attachments, which this API does not carry.
pub const MAX_CONTENT_CHARS: usize = 16 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 998;
pub const MAX_REFERENCE_CHARS: usize = 128;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// Most SMS one message may take: providers and handsets join about ten parts reliably.
pub const MAX_SMS_SEGMENTS: usize = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequestBody {
    channel: String,
    to: AddressBody,
    body: Option<String>,
    subject: Option<String>,
    template: Option<TemplateRefBody>,
    language: Option<String>,
    reference: Option<String>,
    callback_url: Option<String>,
    callback_events: Option<String>,
    policy: Option<String>,
    expects_reply: Option<crate::conversation::ExpectsReplyBody>,
    fallback: Option<FallbackBody>,
    send_at: Option<String>,
    repeat: Option<crate::schedule::RepeatBody>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackBody {
    channel: String,
    to: AddressBody,
    subject: Option<String>,
}

/// Where the message goes if every provider of its channel refuses it (the policy must
/// allow that fallback channel).
#[derive(Debug, Clone)]
pub struct Fallback {
    pub channel: Channel,
    pub to: Recipient,
    pub subject: Option<String>,
}

/// `to` as a request gives it: a string for most channels, an object (the browser's
/// `PushSubscription`) for push.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum AddressBody {
    Text(String),
    Object(serde_json::Map<String, serde_json::Value>),
}

/// Parses an address for `channel`, with the channel's own error code.
pub(crate) fn recipient(
    channel: Channel,
    to: &AddressBody,
    field: &str,
) -> Result<Recipient, ApiError> {
    let to = match (channel, to) {
        (Channel::Push, AddressBody::Object(object)) => {
            return PushSubscription::from_json(&serde_json::Value::Object(object.clone()))
                .map(Recipient::Push)
                .map_err(|m| {
                    ApiError::new(ErrorCode::InvalidPushSubscription, format!("{field}: {m}"))
                });
        }
        (_, AddressBody::Text(text)) => text.as_str(),
        (_, AddressBody::Object(_)) => {
            return Err(invalid(format!(
                "{field} must be a string for the {} channel",
                channel.as_str()
            )));
        }
    };
    Ok(match channel {
        Channel::Sms => {
            Recipient::Phone(PhoneNumber::parse(to).map_err(|m| {
                ApiError::new(ErrorCode::InvalidPhoneNumber, format!("{field}: {m}"))
            })?)
        }
        Channel::Email => {
            Recipient::Email(EmailAddress::parse(to).map_err(|m| {
                ApiError::new(ErrorCode::InvalidEmailAddress, format!("{field}: {m}"))
            })?)
        }
        Channel::Telegram => Recipient::Telegram(
            ChatId::parse(to)
                .map_err(|m| ApiError::new(ErrorCode::InvalidChatId, format!("{field}: {m}")))?,
        ),
        // The subscription object serialised as a string, as some systems store it.
        Channel::Push => Recipient::Push(PushSubscription::parse(to).map_err(|m| {
            ApiError::new(ErrorCode::InvalidPushSubscription, format!("{field}: {m}"))
        })?),
    })
}

pub(crate) fn check_subject(subject: &str) -> Result<(), ApiError> {
    if subject.chars().count() > MAX_SUBJECT_CHARS || subject.contains(['\r', '\n']) {
        return Err(invalid(
            "subject must be one line of at most 998 characters",
        ));
    }
    Ok(())
}

/// A fully validated request to send one message.
#[derive(Debug, Clone)]
pub struct SendCommand {
    pub channel: Channel,
    pub to: Recipient,
    /// Empty until [`SendCommand::fill`] when the request names a template.
    pub body: String,
    pub subject: Option<String>,
    /// The template to render instead of a body; ingress renders it and calls `fill`.
    pub template: Option<TemplateRef>,
    /// The recipient's language: picks the template's variant.
    pub language: Option<Language>,
    pub reference: Option<String>,
    pub callback_url: Option<String>,
    /// Which statuses reach `callback_url`: the final one unless the request asks for all.
    pub callback_events: CallbackEvents,
    pub policy: Option<String>,
    /// A reminder that waits for the citizen's answer.
    pub expects_reply: Option<ExpectsReply>,
    /// For SMS: the encoding and the number of SMS the body takes (what it costs).
    pub segments: Option<Segments>,
    /// The address on another channel if this one's providers all refuse.
    pub fallback: Option<Fallback>,
    /// When to send (and repeat); none: now.
    pub schedule: Option<crate::schedule::Schedule>,
    /// The recipient's UTC offset in minutes (`"timezone": "+03:00"`), for quiet hours.
    pub utc_offset_min: Option<i16>,
}

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

impl SendCommand {
    /// Parses a request body. Every refusal names the field at fault.
    pub fn parse(bytes: &[u8]) -> Result<SendCommand, ApiError> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body exceeds {MAX_BODY_BYTES} bytes"),
            ));
        }
        let raw: SendRequestBody = serde_json::from_slice(bytes).map_err(|e| {
            if e.is_data() {
                // serde's data errors name fields and types, never echo values.
                invalid(format!("the body does not match the message schema: {e}"))
            } else {
                ApiError::new(ErrorCode::InvalidJson, "the body is not valid JSON")
            }
        })?;
        let channel = Channel::parse(&raw.channel).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownChannel,
                "channel must be \"sms\", \"email\", \"telegram\" or \"push\"",
            )
        })?;
        let to = recipient(channel, &raw.to, "to")?;
        let template = match (&raw.body, raw.template) {
            (Some(_), None) => None,
            (None, Some(t)) => {
                if raw.subject.is_some() {
                    return Err(invalid("subject comes from the template"));
                }
                Some(TemplateRef::parse(t)?)
            }
            _ => return Err(invalid("give exactly one of body and template")),
        };
        let language = raw
            .language
            .as_deref()
            .map(Language::parse)
            .transpose()
            .map_err(|m| invalid(format!("language: {m}")))?;
        if let Some(reference) = &raw.reference
            && (reference.is_empty()
                || reference.chars().count() > MAX_REFERENCE_CHARS
                || reference.chars().any(char::is_control))
        {
            return Err(invalid(format!(
                "reference must have 1 to {MAX_REFERENCE_CHARS} printable characters"
            )));
        }
        if let Some(url) = &raw.callback_url
            && (!(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048)
        {
            return Err(invalid(
                "callback_url must be an http(s) URL of at most 2048 characters",
            ));
        }
        let callback_events = match (&raw.callback_events, &raw.callback_url) {
            (None, _) => CallbackEvents::default(),
            (Some(_), None) => {
                return Err(invalid("callback_events needs a callback_url"));
            }
            (Some(events), Some(_)) => CallbackEvents::parse(events)
                .ok_or_else(|| invalid("callback_events must be \"final\" or \"all\""))?,
        };
        if let Some(policy) = &raw.policy
            && !is_policy_name(policy)
        {
            return Err(invalid(
                "policy must be a name of lowercase letters, digits and hyphens",
            ));
        }
        let expects_reply = raw.expects_reply.map(ExpectsReply::parse).transpose()?;
        let fallback = match raw.fallback {
            None => None,
            Some(f) => {
                let fallback_channel = Channel::parse(&f.channel).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::UnknownChannel,
                        "fallback.channel is not a channel",
                    )
                })?;
                if fallback_channel == channel {
                    return Err(invalid("fallback.channel must differ from channel"));
                }
                if let Some(subject) = &f.subject {
                    if !matches!(fallback_channel, Channel::Email | Channel::Push) {
                        return Err(invalid("fallback.subject is only for the email channel"));
                    }
                    check_subject(subject)?;
                }
                Some(Fallback {
                    channel: fallback_channel,
                    to: recipient(fallback_channel, &f.to, "fallback.to")?,
                    subject: f.subject,
                })
            }
        };
        let schedule = crate::schedule::Schedule::parse(raw.send_at.as_deref(), raw.repeat)?;
        if schedule.is_some() && expects_reply.is_some() {
            return Err(invalid(
                "a reminder that expects a reply cannot be scheduled yet",
            ));
        }
        let mut command = SendCommand {
            channel,
            to,
            body: String::new(),
            subject: None,
            template,
            language,
            reference: raw.reference,
            callback_url: raw.callback_url,
            callback_events,
            policy: raw.policy,
            expects_reply,
            segments: None,
            fallback,
            schedule,
            utc_offset_min: raw
                .timezone
                .as_deref()
                .map(|t| {
                    crate::quiet_hours::parse_offset(t)
                        .ok_or_else(|| invalid("timezone must be a UTC offset such as +03:00"))
                })
                .transpose()?,
        };
        if let Some(body) = raw.body {
            command = command.fill(raw.subject, body)?;
        }
        Ok(command)
    }

    /// Sets the text (given in the request, or rendered from its template) and checks it
    /// for the channel: not empty, not too long, at most ten SMS, one push record.
    pub fn fill(mut self, subject: Option<String>, body: String) -> Result<SendCommand, ApiError> {
        let channel = self.channel;
        self.segments = check_text(channel, subject.as_deref(), &body)?;
        self.subject = subject;
        self.body = body;
        Ok(self)
    }
}

/// The checks every text meets before it is accepted; for SMS, the segments it takes.
pub(crate) fn check_text(
    channel: Channel,
    subject: Option<&str>,
    body: &str,
) -> Result<Option<Segments>, ApiError> {
    if body.trim().is_empty() {
        return Err(invalid("body must not be empty"));
    }
    if body.chars().count() > MAX_CONTENT_CHARS {
        return Err(invalid(format!(
            "body has more than {MAX_CONTENT_CHARS} characters"
        )));
    }
    if let Some(subject) = subject {
        if !matches!(channel, Channel::Email | Channel::Push) {
            return Err(invalid(
                "subject is only for the email channel (and the title of a push message)",
            ));
        }
        check_subject(subject)?;
    }
    if channel == Channel::Push && !webpush::fits(subject, body) {
        return Err(invalid(format!(
            "subject and body are too long for one push message ({} bytes encrypted)",
            webpush::MAX_PLAINTEXT
        )));
    }
    let segments = (channel == Channel::Sms).then(|| segments(body));
    if let Some(s) = segments
        && s.count > MAX_SMS_SEGMENTS
    {
        return Err(invalid(format!(
            "body needs {} SMS ({}); at most {MAX_SMS_SEGMENTS} are sent as one message",
            s.count,
            match s.encoding {
                Encoding::Gsm7 => "GSM-7, 153 characters each",
                Encoding::Ucs2 => "UCS-2, 67 characters each",
            }
        )));
    }
    Ok(segments)
}

/// A request's template: its name and the placeholder values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    pub name: String,
    pub values: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateRefBody {
    name: String,
    #[serde(default)]
    values: std::collections::BTreeMap<String, String>,
}

impl TemplateRef {
    pub(crate) fn parse(raw: TemplateRefBody) -> Result<TemplateRef, ApiError> {
        if !is_policy_name(&raw.name) {
            return Err(invalid(
                "template.name must be lowercase letters, digits and hyphens",
            ));
        }
        Ok(TemplateRef {
            name: raw.name,
            values: raw.values,
        })
    }
}

/// Policy names are file names under `policies/`: keep them to a safe alphabet.
pub fn is_policy_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks an `Idempotency-Key` header value.
pub fn parse_idempotency_key(s: &str) -> Result<&str, ApiError> {
    if s.is_empty()
        || s.len() > MAX_IDEMPOTENCY_KEY_CHARS
        || !s.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        )));
    }
    Ok(s)
}

/// `202` body of `POST /v1/messages`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Accepted {
    pub id: MessageId,
    pub status: Status,
    /// For SMS: encoding and number of SMS, so callers see what a message costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<Segments>,
    /// With `repeat`: every occurrence's message, the first being `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<MessageId>>,
}

/// One step of a message's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub status: Status,
    /// RFC 3339 UTC timestamp.
    pub at: String,
}

/// `GET /v1/messages/{id}` body.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageView {
    pub id: MessageId,
    pub channel: Channel,
    pub status: Status,
    pub reference: Option<String>,
    pub history: Vec<HistoryEntry>,
    /// The citizen's answer to a reminder (`expects_reply`), once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyView>,
    /// For SMS: encoding and number of SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<Segments>,
    /// When it is scheduled to be sent (`send_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<String>,
    /// Each delivery attempt: which cell (provider), what came of it, when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptView>,
}

/// One delivery attempt as callers read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub cell: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

/// The answer recorded on a reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyView {
    pub answer: String,
    pub at: String,
}

/// Formats Unix milliseconds as RFC 3339 UTC with millisecond precision.
pub fn rfc3339_millis(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days, after Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<SendCommand, ApiError> {
        SendCommand::parse(v.to_string().as_bytes())
    }

    #[test]
    fn a_push_address_is_the_subscription_object_or_its_text() {
        let subscription = serde_json::json!({
            "endpoint": "https://fcm.googleapis.com/fcm/send/dXNlcg",
            "keys": {"auth": "BTBZMqHH6r4Tts7J_aSIgg",
                "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"}});
        let c = parse(serde_json::json!({"channel":"push","to":subscription,
            "subject":"Clinic","body":"Your visit is tomorrow"}))
        .unwrap();
        let Recipient::Push(s) = &c.to else {
            panic!("not a push address")
        };
        assert_eq!(s.endpoint(), "https://fcm.googleapis.com/fcm/send/dXNlcg");
        let as_text = parse(
            serde_json::json!({"channel":"push","to":subscription.to_string(),
            "body":"x"}),
        )
        .unwrap();
        assert_eq!(as_text.to, c.to);
        let mut http = subscription.clone();
        http["endpoint"] = "http://push.example.org/x".into();
        let e = parse(serde_json::json!({"channel":"push","to":http,"body":"x"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidPushSubscription);
        let e =
            parse(serde_json::json!({"channel":"sms","to":subscription,"body":"x"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = parse(serde_json::json!({"channel":"push","to":subscription,
            "body":"x".repeat(4000)}))
        .unwrap_err();
        assert!(e.message.contains("push message"), "{}", e.message);
    }

    #[test]
    fn a_fallback_address_is_parsed_for_its_own_channel() {
        let c = parse(
            serde_json::json!({"channel":"sms","to":"+254712345678","body":"x",
            "fallback":{"channel":"email","to":"amina@example.org","subject":"Clinic"}}),
        )
        .unwrap();
        let f = c.fallback.unwrap();
        assert_eq!(f.channel, Channel::Email);
        assert_eq!(f.to.as_str(), "amina@example.org");
        let bad = parse(
            serde_json::json!({"channel":"sms","to":"+254712345678","body":"x",
            "fallback":{"channel":"email","to":"not-an-address"}}),
        );
        assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidEmailAddress);
        let same = parse(
            serde_json::json!({"channel":"sms","to":"+254712345678","body":"x",
            "fallback":{"channel":"sms","to":"+254712345679"}}),
        );
        assert_eq!(same.unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn a_template_stands_for_the_body_until_filled() {
        let c = SendCommand::parse(
            br#"{"channel":"sms","to":"+254712345678","language":"SW","template":{"name":"reminder","values":{"a":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(c.template.as_ref().unwrap().name, "reminder");
        assert_eq!(c.language.as_ref().unwrap().as_str(), "sw");
        assert!(c.body.is_empty());
        let filled = c.fill(None, "Habari".into()).unwrap();
        assert_eq!(filled.segments.unwrap().count, 1);
        for bad in [
            r#"{"channel":"sms","to":"+254712345678"}"#,
            r#"{"channel":"sms","to":"+254712345678","body":"x","template":{"name":"r"}}"#,
            r#"{"channel":"sms","to":"+254712345678","template":{"name":"../r"}}"#,
            r#"{"channel":"email","to":"a@b.org","subject":"s","template":{"name":"r"}}"#,
            r#"{"channel":"sms","to":"+254712345678","body":"x","language":"english"}"#,
        ] {
            assert_eq!(
                SendCommand::parse(bad.as_bytes()).unwrap_err().code,
                ErrorCode::InvalidRequest,
                "{bad}"
            );
        }
    }

    #[test]
    fn sms_bodies_are_counted_and_capped_at_ten_segments() {
        let c = parse(serde_json::json!({"channel":"sms","to":"+254712345678","body":"Habari"}))
            .unwrap();
        assert_eq!(
            c.segments,
            Some(Segments {
                encoding: Encoding::Gsm7,
                count: 1
            })
        );
        let c = parse(
            serde_json::json!({"channel":"sms","to":"+254712345678","body":"Привет ".repeat(20)}),
        )
        .unwrap();
        assert_eq!(
            c.segments,
            Some(Segments {
                encoding: Encoding::Ucs2,
                count: 3
            })
        );
        let long = parse(
            serde_json::json!({"channel":"sms","to":"+254712345678","body":"a".repeat(1531)}),
        );
        let err = long.unwrap_err();
        assert!(err.message.contains("11 SMS"), "{}", err.message);
        let email = parse(
            serde_json::json!({"channel":"email","to":"a@example.org","body":"a".repeat(5000)}),
        )
        .unwrap();
        assert_eq!(email.segments, None);
    }

    #[test]
    fn a_plain_sms_parses() {
        let c = parse(serde_json::json!({"channel":"sms","to":"+254712345678","body":"Clinic tomorrow 9am","reference":"tx-1"})).unwrap();
        assert_eq!(c.channel, Channel::Sms);
        assert_eq!(c.to.as_str(), "+254712345678");
        assert_eq!(c.reference.as_deref(), Some("tx-1"));
    }

    #[test]
    fn each_bad_input_gets_its_own_code() {
        let cases = [
            (
                serde_json::json!({"channel":"fax","to":"+254712345678","body":"x"}),
                ErrorCode::UnknownChannel,
            ),
            (
                serde_json::json!({"channel":"sms","to":"0712345678","body":"x"}),
                ErrorCode::InvalidPhoneNumber,
            ),
            (
                serde_json::json!({"channel":"email","to":"nobody","body":"x"}),
                ErrorCode::InvalidEmailAddress,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"  "}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678"}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"x","extra":1}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"x","subject":"s"}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"email","to":"a@b.org","body":"x","subject":"a\r\nBcc: c@d.org"}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"x","callback_url":"ftp://x"}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"x","policy":"../etc"}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"x","callback_events":"all"}),
                ErrorCode::InvalidRequest,
            ),
            (
                serde_json::json!({"channel":"sms","to":"+254712345678","body":"x",
                    "callback_url":"https://r.example/s","callback_events":"every"}),
                ErrorCode::InvalidRequest,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(parse(body.clone()).unwrap_err().code, code, "{body}");
        }
        assert_eq!(
            SendCommand::parse(b"{not json").unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            SendCommand::parse(&vec![b' '; MAX_BODY_BYTES + 1])
                .unwrap_err()
                .code,
            ErrorCode::PayloadTooLarge
        );
    }

    #[test]
    fn callbacks_carry_the_final_status_unless_every_one_is_asked_for() {
        let with = |extra: serde_json::Value| {
            let mut body = serde_json::json!({"channel":"sms","to":"+254712345678","body":"x",
                "callback_url":"https://r.example/s"});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parse(body).unwrap().callback_events
        };
        assert_eq!(with(serde_json::json!({})), CallbackEvents::Final);
        assert_eq!(
            with(serde_json::json!({"callback_events": "final"})),
            CallbackEvents::Final
        );
        assert_eq!(
            with(serde_json::json!({"callback_events": "all"})),
            CallbackEvents::All
        );
    }

    #[test]
    fn refusals_do_not_echo_the_address() {
        let err = parse(serde_json::json!({"channel":"sms","to":"+25471234567x","body":"x"}))
            .unwrap_err();
        assert!(!err.message.contains("25471234567"));
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(parse_idempotency_key("order-42").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("has space").is_err());
        assert!(parse_idempotency_key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_795_617_000_123),
            "2026-11-25T14:30:00.123Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
