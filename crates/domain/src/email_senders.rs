//! Which sender addresses each caller may send email as (`email_senders`).
//!
//! The GovStack email API lets a request name its sender (`senderInfo.email`), which
//! becomes the envelope sender and the `From` header. Left open, any caller could send as
//! any address, another ministry's or a bank's, through the government's relay. So a
//! caller may name only the addresses its entry allows; the gateway's own address
//! (`smtp_from`, used when a request names none) is always allowed.
//!
//! `email_senders` holds `caller:pattern|pattern` entries, comma-separated, `*` for every
//! caller without its own entry (a caller's own entry replaces `*`'s, as in
//! `daily_quotas`). A pattern is a full address (`desk@clinic.example.org`) or a whole
//! domain (`@clinic.example.org`): the domain itself, not its subdomains, since a
//! subdomain may belong to someone else. Empty (the default): every caller may send only
//! as `smtp_from`.
//!
//! Matching is exact apart from ASCII case (`Desk@Clinic.Example.ORG` is the same
//! mailbox). Non-ASCII characters are compared as written: a Unicode case fold would let
//! look-alikes through (the Kelvin sign `K` lowercases to `k`), and the Unicode and
//! punycode forms of a domain are matched only if the pattern is written in the form the
//! caller sends. Addresses that [`EmailAddress::parse`] refuses (quoted local parts, a
//! second `@`, IP literals, a trailing dot) never reach this check.

use crate::EmailAddress;

/// One allowed sender: a whole domain or one address (both lowercased, ASCII only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Domain(String),
    Address { local: String, domain: String },
}

impl Pattern {
    /// Reads one pattern: `@domain` or `local@domain`. One trailing dot of the domain (its
    /// absolute form, as operators write it from DNS) is dropped; anything an address
    /// could not be is refused.
    pub fn parse(text: &str) -> Option<Pattern> {
        let text = text.trim();
        let (local, domain) = text.rsplit_once('@')?;
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if local.is_empty() {
            EmailAddress::parse(&format!("x@{domain}")).ok()?;
            return Some(Pattern::Domain(domain.to_ascii_lowercase()));
        }
        EmailAddress::parse(&format!("{local}@{domain}")).ok()?;
        Some(Pattern::Address {
            local: local.to_ascii_lowercase(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// Whether `address` is this pattern's address, or in its domain.
    pub fn matches(&self, address: &EmailAddress) -> bool {
        // A parsed address has exactly one '@': everything after it is the domain.
        let Some((local, domain)) = address.as_str().rsplit_once('@') else {
            return false;
        };
        match self {
            Pattern::Domain(allowed) => domain.eq_ignore_ascii_case(allowed),
            Pattern::Address {
                local: allowed_local,
                domain: allowed_domain,
            } => {
                local.eq_ignore_ascii_case(allowed_local)
                    && domain.eq_ignore_ascii_case(allowed_domain)
            }
        }
    }
}

/// Whether `caller` may send as `sender`: it is the gateway's own address `gateway_from`
/// (`smtp_from`), or matches a pattern of the caller's entry (else `*`'s) in `config`.
pub fn may_send_as(config: &str, caller: &str, gateway_from: &str, sender: &EmailAddress) -> bool {
    if Pattern::parse(gateway_from)
        .is_some_and(|own| matches!(own, Pattern::Address { .. }) && own.matches(sender))
    {
        return true;
    }
    crate::caller_entries::setting_for(config, caller, parse_entry)
        .is_some_and(|patterns| patterns.iter().any(|p| p.matches(sender)))
}

/// Entries that do not parse, for `GET /health` to name.
pub fn invalid_entries(config: &str) -> Vec<&str> {
    crate::caller_entries::unreadable_entries(config, parse_entry)
}

/// `caller:pattern|pattern`. One unreadable pattern makes the whole entry unreadable: an
/// entry is the operator's full list, and half of it would be a different list.
fn parse_entry(entry: &str) -> Option<(&str, Vec<Pattern>)> {
    let (caller, patterns) = entry.trim().split_once(':')?;
    let caller = caller.trim();
    if caller.is_empty() {
        return None;
    }
    let patterns = patterns
        .split('|')
        .map(Pattern::parse)
        .collect::<Option<Vec<_>>>()?;
    Some((caller, patterns))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "messaging@gateway.example.gov";

    fn may(config: &str, caller: &str, sender: &str) -> bool {
        let sender = EmailAddress::parse(sender).expect("a valid address");
        may_send_as(config, caller, FROM, &sender)
    }

    #[test]
    fn with_no_setting_only_the_gateways_own_address_is_allowed() {
        assert!(may("", "registry", FROM));
        assert!(may("", "registry", "Messaging@Gateway.Example.GOV"));
        assert!(!may("", "registry", "minister@gateway.example.gov"));
        assert!(!may("", "registry", "sender@clinic.example.org"));
    }

    #[test]
    fn a_domain_allows_its_addresses_in_any_ascii_case_and_nothing_around_it() {
        let config = "registry:@clinic.example.org";
        for ok in [
            "sender@clinic.example.org",
            "desk@CLINIC.Example.Org",
            "Desk.Team+x@clinic.example.org",
        ] {
            assert!(may(config, "registry", ok), "{ok}");
        }
        for forged in [
            // Suffixes, prefixes and subdomains are other domains.
            "sender@evil-clinic.example.org",
            "sender@clinicexample.org",
            "sender@clinic.example.org.evil.net",
            "sender@mail.clinic.example.org",
            "sender@example.org",
            // A look-alike: the Kelvin sign lowercases to 'k' in Unicode, not in ASCII.
            "sender@clinic.example.\u{212A}r",
            // Cyrillic 'а' in place of Latin 'a'.
            "sender@clinic.ex\u{0430}mple.org",
        ] {
            assert!(!may(config, "registry", forged), "{forged}");
        }
    }

    #[test]
    fn spellings_that_hide_a_second_domain_never_parse_as_a_sender() {
        // The API parses senderInfo.email with EmailAddress::parse before this check:
        // these never reach it, so no matching trick can apply.
        for hidden in [
            "sender@clinic.example.org@evil.net",
            "\"sender@clinic.example.org\"@evil.net",
            "sender@clinic.example.org.",
            "sender@[127.0.0.1]",
            "sender@clinic.example.org\r\nBcc: x@evil.net",
            "Clinic <sender@clinic.example.org>",
        ] {
            assert!(EmailAddress::parse(hidden).is_err(), "{hidden:?}");
        }
    }

    #[test]
    fn an_address_pattern_allows_only_that_address() {
        let config = "registry:desk@clinic.example.org|@registry.example.gov";
        assert!(may(config, "registry", "desk@clinic.example.org"));
        assert!(may(config, "registry", "DESK@clinic.example.org"));
        assert!(may(config, "registry", "anyone@registry.example.gov"));
        assert!(!may(config, "registry", "doctor@clinic.example.org"));
        assert!(!may(config, "registry", "xdesk@clinic.example.org"));
        assert!(!may(config, "registry", "desk@clinic.example.org.evil.net"));
    }

    #[test]
    fn internationalised_domains_match_as_written() {
        let config = "registry:@bücher.example";
        assert!(may(config, "registry", "info@bücher.example"));
        assert!(may(config, "registry", "info@BüCHER.example"));
        // The punycode form is allowed only if the pattern says so.
        assert!(!may(config, "registry", "info@xn--bcher-kva.example"));
        assert!(!may(config, "registry", "info@BÜCHER.example"));
    }

    #[test]
    fn a_callers_own_entry_replaces_the_default() {
        let config = "*:@shared.example.gov, registry:@registry.example.gov";
        assert!(may(config, "registry", "a@registry.example.gov"));
        assert!(!may(config, "registry", "a@shared.example.gov"));
        assert!(may(config, "clinic", "a@shared.example.gov"));
        assert!(!may(config, "clinic", "a@registry.example.gov"));
        // Another caller's entry never applies.
        assert!(!may(
            "registry:@registry.example.gov",
            "clinic",
            "a@registry.example.gov"
        ));
        // smtp_from is allowed whatever the entries say.
        assert!(may(config, "clinic", FROM));
    }

    #[test]
    fn a_trailing_dot_in_a_pattern_is_the_same_domain() {
        assert!(may(
            "registry:@Clinic.Example.Org.",
            "registry",
            "a@clinic.example.org"
        ));
        assert!(may(
            "registry:a@clinic.example.org.",
            "registry",
            "a@clinic.example.org"
        ));
    }

    #[test]
    fn unreadable_entries_are_named_and_skipped_whole() {
        let config = "registry:@clinic.example.org|not-a-pattern, :@a.example, clinic, \
                      school:@school..example, *:@ok.example.org, x:@";
        assert_eq!(
            invalid_entries(config),
            vec![
                "registry:@clinic.example.org|not-a-pattern",
                " :@a.example",
                " clinic",
                " school:@school..example",
                " x:@"
            ]
        );
        // The broken entry is skipped, so registry falls back to `*`, never to a half list.
        assert!(!may(config, "registry", "a@clinic.example.org"));
        assert!(may(config, "registry", "a@ok.example.org"));
        assert!(invalid_entries("").is_empty());
    }

    #[test]
    fn an_unreadable_gateway_address_allows_nothing_by_itself() {
        let sender = EmailAddress::parse("a@example.org").unwrap();
        assert!(!may_send_as("", "registry", "", &sender));
        assert!(!may_send_as("", "registry", "@example.org", &sender));
    }
}
