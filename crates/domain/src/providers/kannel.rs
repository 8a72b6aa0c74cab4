//! Kannel's HTTP interface: `/cgi-bin/sendsms` and its delivery reports (DLR).
//!
//! Reference: the Kannel User's Guide, "SMS Push (send-sms) CGI interface" and "Delivery
//! reports". Kannel does not sign its DLR callbacks, so the gateway puts an HMAC token of the
//! message id into the `dlr-url` it hands to Kannel and checks it when the report comes back.

use crate::Status;

/// DLR events the gateway asks for: 1 delivered, 2 undelivered, 8 SMSC accepted, 16 SMSC
/// rejected. (4, "buffered", carries no decision and is not requested.)
pub const DLR_MASK: u8 = 1 | 2 | 8 | 16;

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Settings of one Kannel smsbox.
#[derive(Debug, Clone)]
pub struct KannelConfig {
    /// Base URL of the smsbox's sendsms port, e.g. `http://127.0.0.1:13013`.
    pub base_url: String,
    pub username: String,
    pub password: String,
    /// Sender id (`from`), optional.
    pub from: Option<String>,
}

/// Builds the `GET /cgi-bin/sendsms` URL for one message. The text is sent as UTF-8
/// (`charset=UTF-8`); `coding` is 0 (GSM-7) when every character fits the GSM alphabet and
/// 2 (UCS-2) otherwise, so Latin text gets 160-character segments and other scripts are not
/// mangled.
///
/// `dlr_url` is the gateway's receipt URL; Kannel replaces `%d` in it with the DLR type, so
/// `&kannel_type=%d` is appended here.
pub fn sendsms_url(config: &KannelConfig, to: &str, text: &str, dlr_url: Option<&str>) -> String {
    let mut url = format!(
        "{}/cgi-bin/sendsms?username={}&password={}&to={}&text={}&charset=UTF-8&coding={}",
        config.base_url.trim_end_matches('/'),
        encode_component(&config.username),
        encode_component(&config.password),
        encode_component(to),
        encode_component(text),
        if super::gsm7::is_gsm7(text) { 0 } else { 2 },
    );
    if let Some(from) = &config.from {
        url.push_str("&from=");
        url.push_str(&encode_component(from));
    }
    if let Some(dlr) = dlr_url {
        let sep = if dlr.contains('?') { '&' } else { '?' };
        let dlr = format!("{dlr}{sep}kannel_type=%d");
        url.push_str(&format!(
            "&dlr-mask={DLR_MASK}&dlr-url={}",
            encode_component(&dlr)
        ));
    }
    url
}

/// How Kannel answered a sendsms call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendsmsAnswer {
    /// `202 0: Accepted for delivery` (or `3: Queued for later delivery`).
    Accepted,
    /// Kannel is overloaded or the SMSC is down: try later.
    Retry(String),
    /// Kannel refused the request for good (authentication, bad number, bad parameters).
    Refused(String),
}

/// Interprets Kannel's status code and body.
pub fn interpret_sendsms(status: u16, body: &str) -> SendsmsAnswer {
    let summary: String = body.chars().take(120).collect();
    match status {
        200..=299 => SendsmsAnswer::Accepted,
        // 503: "Temporal failure, try again later"; 429 on newer builds.
        429 | 500..=599 => SendsmsAnswer::Retry(format!("kannel {status}: {summary}")),
        _ => SendsmsAnswer::Refused(format!("kannel {status}: {summary}")),
    }
}

/// Maps a DLR type (the `%d` Kannel substitutes) to a status, or `None` for reports that do
/// not change the status (buffered) or are unknown.
pub fn dlr_status(dlr_type: u32) -> Option<Status> {
    match dlr_type {
        1 => Some(Status::Delivered),
        2 | 16 => Some(Status::Failed),
        8 => Some(Status::Sent),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> KannelConfig {
        KannelConfig {
            base_url: "http://127.0.0.1:13013/".into(),
            username: "gw".into(),
            password: "p&w".into(),
            from: None,
        }
    }

    #[test]
    fn sendsms_url_encodes_every_parameter() {
        let url = sendsms_url(
            &config(),
            "+254712345678",
            "Habari, 9:00 & €",
            Some("http://gw/webhooks/receipts/msg_1?t=ab"),
        );
        assert!(url.starts_with(
            "http://127.0.0.1:13013/cgi-bin/sendsms?username=gw&password=p%26w&to=%2B254712345678"
        ));
        assert!(url.contains("&text=Habari%2C%209%3A00%20%26%20%E2%82%AC&charset=UTF-8&coding=0"));
        assert!(sendsms_url(&config(), "+79161234567", "Привет", None).contains("&coding=2"));
        assert!(url.contains("&dlr-mask=27&dlr-url=http%3A%2F%2Fgw%2Fwebhooks%2Freceipts%2Fmsg_1%3Ft%3Dab%26kannel_type%3D%25d"));
    }

    #[test]
    fn answers_and_reports_map_to_outcomes() {
        assert_eq!(
            interpret_sendsms(202, "0: Accepted for delivery"),
            SendsmsAnswer::Accepted
        );
        assert!(matches!(
            interpret_sendsms(503, "Temporal failure"),
            SendsmsAnswer::Retry(_)
        ));
        assert!(matches!(
            interpret_sendsms(403, "Authorization failed for sendsms"),
            SendsmsAnswer::Refused(_)
        ));
        assert_eq!(dlr_status(1), Some(Status::Delivered));
        assert_eq!(dlr_status(16), Some(Status::Failed));
        assert_eq!(dlr_status(4), None);
    }
}

/// An SMS a citizen sent (mobile originated), as Kannel's smsbox reports it to an
/// `sms-service` `get-url` of the form
/// `.../webhooks/kannel/inbound/<token>?from=%p&to=%P&text=%a&id=%I`.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundSms {
    pub from: crate::PhoneNumber,
    /// The short code or number it was sent to.
    pub to: String,
    pub text: String,
    /// Kannel's id of the message, for dropping a repeated report.
    pub kannel_id: Option<String>,
}

impl std::fmt::Debug for InboundSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InboundSms(<redacted>)")
    }
}

/// Reads an inbound SMS from the query string. SMSCs give the sender with or without `+`
/// (`254712345678`); both are read as international numbers.
pub fn inbound_sms(query: &str) -> Result<InboundSms, String> {
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .map(crate::govstack::percent_decode)
    };
    let from = param("from").ok_or("from is missing")?;
    let from = from.trim();
    let international = if from.starts_with('+') {
        from.to_string()
    } else {
        format!("+{from}")
    };
    let from = crate::PhoneNumber::parse(&international).map_err(|e| format!("from: {e}"))?;
    let text = param("text").ok_or("text is missing")?;
    if text.chars().count() > crate::api::MAX_CONTENT_CHARS {
        return Err("text is too long".into());
    }
    Ok(InboundSms {
        from,
        to: param("to").unwrap_or_default(),
        text,
        kannel_id: param("id").filter(|id| !id.is_empty() && id.len() <= 64),
    })
}

#[cfg(test)]
mod inbound_tests {
    use super::*;

    #[test]
    fn an_inbound_sms_reads_with_or_without_plus() {
        let sms = inbound_sms("from=254712345678&to=12345&text=Ndio%2C+nitakuja&id=a1b2").unwrap();
        assert_eq!(sms.from.as_str(), "+254712345678");
        assert_eq!(sms.to, "12345");
        assert_eq!(sms.text, "Ndio, nitakuja");
        assert_eq!(sms.kannel_id.as_deref(), Some("a1b2"));
        let sms = inbound_sms("from=%2B254712345678&text=STOP").unwrap();
        assert_eq!(sms.from.as_str(), "+254712345678");
        assert!(!format!("{sms:?}").contains("2547"));
    }

    #[test]
    fn a_report_without_sender_or_text_is_refused() {
        assert!(inbound_sms("text=hi").is_err());
        assert!(inbound_sms("from=254712345678").is_err());
        assert!(inbound_sms("from=hello&text=hi").is_err());
    }
}
