//! RFC 5322 / MIME message text for one email: UTF-8 subject and names as RFC 2047
//! encoded-words, the body as base64 `text/plain; charset=UTF-8`, CRLF line endings.
//! Blind-copy recipients never appear in the text: they exist only in the SMTP envelope.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Everything the message text is made of.
pub struct Mail<'a> {
    pub from: &'a str,
    pub from_name: Option<&'a str>,
    pub to: &'a str,
    pub to_name: Option<&'a str>,
    pub cc: &'a [String],
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    /// `Message-ID` without angle brackets, e.g. `msg_...@gateway.example.org`.
    pub message_id: &'a str,
    /// RFC 5322 date, e.g. `Wed, 25 Nov 2026 17:00:00 +0000`.
    pub date: &'a str,
}

/// An unstructured header value: as is when printable ASCII, otherwise one or more
/// `=?UTF-8?B?...?=` encoded-words (each under 76 characters, split on character bounds).
pub fn encode_header_text(text: &str) -> String {
    if text.chars().all(|c| (' '..='~').contains(&c)) {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 45 bytes of UTF-8 become 60 base64 characters: 72 with the wrapper.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// `Name <address>` with the name quoted or encoded as needed.
pub fn mailbox(address: &str, name: Option<&str>) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => address.to_string(),
        Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') => {
            format!("{name} <{address}>")
        }
        Some(name) if name.chars().all(|c| (' '..='~').contains(&c)) => {
            format!(
                "\"{}\" <{address}>",
                name.replace('\\', "\\\\").replace('"', "\\\"")
            )
        }
        Some(name) => format!("{} <{address}>", encode_header_text(name)),
    }
}

/// The full message text, ending with CRLF.
pub fn render(mail: &Mail<'_>) -> String {
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("From", &mailbox(mail.from, mail.from_name));
    header("To", &mailbox(mail.to, mail.to_name));
    if !mail.cc.is_empty() {
        header("Cc", &mail.cc.join(", "));
    }
    if let Some(reply_to) = mail.reply_to {
        header("Reply-To", reply_to);
    }
    header("Subject", &encode_header_text(mail.subject));
    header("Date", mail.date);
    header("Message-ID", &format!("<{}>", mail.message_id));
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=UTF-8");
    header("Content-Transfer-Encoding", "base64");
    out.push_str("\r\n");
    let encoded = STANDARD.encode(mail.body.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ascii"));
        out.push_str("\r\n");
    }
    out
}

/// RFC 5322 date-time in UTC from Unix seconds.
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = crate::api::rfc3339_millis(unix_secs * 1000);
    let (y, m, d) = (
        &iso[0..4],
        iso[5..7].parse::<usize>().unwrap_or(1),
        &iso[8..10],
    );
    let weekday = DAYS[((unix_secs / 86_400) % 7) as usize];
    format!(
        "{weekday}, {} {} {y} {} +0000",
        d.trim_start_matches('0'),
        MONTHS[m - 1],
        &iso[11..19]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail<'a>(cc: &'a [String]) -> Mail<'a> {
        Mail {
            from: "clinic@example.org",
            from_name: Some("Clínica Central"),
            to: "patient@example.org",
            to_name: Some("Amina"),
            cc,
            reply_to: Some("desk@example.org"),
            subject: "Résultats prêts – 检查结果",
            body: "Bonjour,\nvos résultats sont prêts.\n.\nÀ bientôt",
            message_id: "msg_1@gateway.example.org",
            date: "Wed, 25 Nov 2026 17:00:00 +0000",
        }
    }

    #[test]
    fn headers_are_ascii_with_utf8_as_encoded_words() {
        let cc = vec!["guardian@example.org".to_string()];
        let text = render(&mail(&cc));
        assert!(text.is_ascii());
        assert!(text.contains("From: =?UTF-8?B?"));
        assert!(text.contains("To: Amina <patient@example.org>\r\n"));
        assert!(text.contains("Cc: guardian@example.org\r\n"));
        assert!(text.contains("Reply-To: desk@example.org\r\n"));
        assert!(text.contains("Content-Type: text/plain; charset=UTF-8\r\n"));
        assert!(!text.contains("Bcc"));
        let subject = text.lines().find(|l| l.starts_with("Subject: ")).unwrap();
        let encoded = subject
            .trim_start_matches("Subject: =?UTF-8?B?")
            .split("?=")
            .next()
            .unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert!("Résultats prêts – 检查结果".starts_with(&decoded));
        assert!(text.lines().all(|l| l.len() <= 998));
    }

    #[test]
    fn the_body_round_trips_through_base64() {
        let text = render(&mail(&[]));
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        let joined: String = body.split("\r\n").collect();
        assert_eq!(
            String::from_utf8(STANDARD.decode(joined).unwrap()).unwrap(),
            "Bonjour,\nvos résultats sont prêts.\n.\nÀ bientôt"
        );
        assert!(
            !text.contains("\nCc:"),
            "no Cc header without CC recipients"
        );
    }

    #[test]
    fn long_non_ascii_text_becomes_several_words() {
        let encoded = encode_header_text(&"é".repeat(60));
        assert!(encoded.split("\r\n ").count() >= 3);
        assert!(encoded.split("\r\n ").all(|w| w.len() <= 76));
        assert_eq!(encode_header_text("Plain subject"), "Plain subject");
    }

    #[test]
    fn names_are_quoted_when_needed_and_dates_are_rfc5322() {
        assert_eq!(
            mailbox("a@b.org", Some("Dr. A, Clinic")),
            "\"Dr. A, Clinic\" <a@b.org>"
        );
        assert_eq!(mailbox("a@b.org", None), "a@b.org");
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_617_000),
            "Wed, 25 Nov 2026 14:30:00 +0000"
        );
    }
}
