//! Recipient addresses, parsed once at the edge.

pub use crate::push_subscription::PushSubscription;
use std::fmt;

/// A phone number in E.164 form: `+`, a country code that does not start with 0, and at most
/// 15 digits in all. Spaces, dashes, dots and parentheses that people type are removed
/// before checking; nothing else is guessed (no national formats).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<PhoneNumber, String> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact
            .strip_prefix('+')
            .ok_or("a phone number must be in E.164 form, starting with '+'")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a phone number may contain only digits after '+'".into());
        }
        if digits.starts_with('0') {
            return Err("an E.164 country code never starts with 0".into());
        }
        if !(8..=15).contains(&digits.len()) {
            return Err("an E.164 number has 8 to 15 digits".into());
        }
        Ok(PhoneNumber(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: one `@`, a local part of at most 64 characters without spaces or
/// control characters, and a domain of dot-separated labels (letters, digits, hyphens, or
/// internationalised characters) with at least one dot. Quoted local parts and IP literals
/// are refused: no government sender needs them and they are a common injection vector.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, String> {
        let s = input.trim();
        if s.len() > 254 {
            return Err("an email address has at most 254 characters".into());
        }
        let (local, domain) = s.rsplit_once('@').ok_or("an email address needs an '@'")?;
        if local.is_empty() || local.len() > 64 {
            return Err("the part before '@' must have 1 to 64 characters".into());
        }
        let local_ok = local.chars().all(|c| {
            !c.is_control()
                && !c.is_whitespace()
                && !matches!(
                    c,
                    '@' | '"' | '<' | '>' | ',' | ';' | ':' | '\\' | '(' | ')' | '[' | ']'
                )
        });
        if !local_ok || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err("the part before '@' has characters an address cannot have".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err("the domain of an email address needs a dot".into());
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-');
            if !ok {
                return Err("the domain of an email address is not valid".into());
            }
        }
        Ok(EmailAddress(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated recipient on its channel.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    Phone(PhoneNumber),
    Email(EmailAddress),
    Telegram(ChatId),
    Push(PushSubscription),
}

impl Recipient {
    pub fn as_str(&self) -> &str {
        match self {
            Recipient::Phone(p) => p.as_str(),
            Recipient::Email(e) => e.as_str(),
            Recipient::Telegram(c) => c.as_str(),
            Recipient::Push(s) => s.as_str(),
        }
    }
}

/// A Telegram chat id: the integer the Bot API names a chat by (negative for groups), at
/// most 52 bits. A bot learns it when the citizen first writes to it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChatId(String);

impl ChatId {
    pub fn parse(input: &str) -> Result<ChatId, String> {
        let s = input.trim();
        let digits = s.strip_prefix('-').unwrap_or(s);
        if digits.is_empty()
            || digits.len() > 16
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err("a Telegram chat id is a non-zero integer".into());
        }
        Ok(ChatId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Addresses are personal data: their Debug forms never print them, so a stray `{:?}` in a
// log line cannot leak one.
macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
    )*};
}
redacted_debug!(
    PhoneNumber,
    EmailAddress,
    ChatId,
    PushSubscription,
    Recipient
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_are_nonzero_integers() {
        assert_eq!(ChatId::parse("123456789").unwrap().as_str(), "123456789");
        assert_eq!(
            ChatId::parse("-1001234567890").unwrap().as_str(),
            "-1001234567890"
        );
        for bad in ["", "-", "0", "012", "12a", "12345678901234567", "@user"] {
            assert!(ChatId::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", ChatId::parse("123456789").unwrap()).contains("1234"));
    }

    #[test]
    fn e164_numbers_are_accepted_and_normalised() {
        assert_eq!(
            PhoneNumber::parse("+254 712-345-678").unwrap().as_str(),
            "+254712345678"
        );
        assert_eq!(
            PhoneNumber::parse("+4915112345678").unwrap().as_str(),
            "+4915112345678"
        );
    }

    #[test]
    fn non_e164_numbers_are_refused() {
        for bad in [
            "0712345678",
            "+0712345678",
            "+12",
            "+1234567890123456",
            "+25471234abc",
            "",
            "+",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn plausible_email_addresses_are_accepted() {
        for ok in [
            "a@b.org",
            "first.last+tag@health.gov.ke",
            "nuñez@correo.gob.es",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn broken_email_addresses_are_refused() {
        for bad in [
            "plain",
            "@b.org",
            "a@b",
            "a b@c.org",
            "a@-b.org",
            "a..b@c.org",
            "a@b..org",
            "\"q\"@b.org",
            "a@[127.0.0.1]",
            "a@b.org\r\nBcc: x@y.org",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_address() {
        let p = PhoneNumber::parse("+254712345678").unwrap();
        assert!(!format!("{p:?}").contains("712"));
        let e = Recipient::Email(EmailAddress::parse("a@b.org").unwrap());
        assert!(!format!("{e:?}").contains("b.org"));
    }
}
