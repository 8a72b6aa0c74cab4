//! Messaging policies: the files under `policies/`, one policy per file, named by the file.
//!
//! ```toml
//! description = "Everyday messages"
//! roles = ["*"]            # roles allowed to use the policy; "*" means any caller
//! validity = "24h"         # how long an unsent message stays worth sending (s, m, h, d)
//! priority = "transactional"  # emergency | transactional (default) | bulk; emergency
//!                          # messages reach recipients who opted out of the others
//! quiet_hours = "21:00-07:00"  # optional: not sent in this window of the recipient's
//!                          # local day (its "timezone", else default_timezone); not
//!                          # for emergency policies
//! reply_wait_max = "7d"    # optional: the longest expects_reply.expires_in its
//!                          # messages may ask for (default 7d)
//! templates = ["vaccination-reminder"]  # optional, before the tables: the only
//!                          # templates (policies/templates/<name>.toml) its messages may
//!                          # use; without it, any template
//!
//! [channels.sms]
//! cell = "deliver-sms"     # the delivery cell (Spin component id) for this channel
//! # or, for failover between providers, several cells tried in order:
//! # cells = ["deliver-sms", "deliver-sms-backup"]
//! # failover_after = 3     # deferrals by one provider before the next is tried
//! # fallback = "email"     # when every sms cell refused: the email channel's cells, to
//!                          # the request's fallback address
//! # roles = ["health"]     # only these of the policy's roles may use this channel
//! # fallback_unless_delivered_within = "10m"
//!                          # also fall back when a sent SMS is not reported delivered in
//!                          # this time, or its provider reports it undelivered (SMS only:
//!                          # the channel whose providers send delivery receipts)
//!
//! [channels.email]
//! cell = "deliver-email"
//!
//! [retry]                  # optional: without it, retries start at the cell's
//! first = "30s"            # retry_base_ms and double up to 15m until the validity ends
//! max_interval = "15m"
//! give_up_after = "24h"    # a message still deferred this long after acceptance fails
//! ```
//!
//! Every file is checked when the gateway starts (`policy_files::check`); a problem names
//! the file and line.

use crate::Channel;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;

/// A policy's priority class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Emergency,
    #[default]
    Transactional,
    Bulk,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub roles: Vec<String>,
    pub validity_seconds: u64,
    pub priority: Priority,
    pub routes: BTreeMap<Channel, Route>,
    /// The retry schedule, if the policy sets one.
    pub retry: Option<crate::retry::Schedule>,
    /// The window of the recipient's day in which its messages wait.
    pub quiet_hours: Option<crate::quiet_hours::QuietHours>,
    /// The templates its messages may use; `None`: any template.
    pub templates: Option<BTreeSet<String>>,
    /// The longest a reminder under this policy may wait for an answer, in seconds.
    pub reply_wait_max_seconds: u64,
}

/// The default of `reply_wait_max`: a week.
pub const DEFAULT_REPLY_WAIT_MAX_SECONDS: u64 = 7 * 86_400;

/// The delivery cells of one channel, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// At least one cell; the first is tried first.
    pub cells: Vec<String>,
    /// Deferrals by one cell before the message moves to the next (a refusal moves it at
    /// once).
    pub failover_after: u32,
    /// The channel tried when every cell of this one refused the message, if the request
    /// gives an address on it.
    pub fallback: Option<Channel>,
    /// Seconds after sending within which a delivery receipt must come, or the message
    /// goes to the fallback channel too.
    pub fallback_unless_delivered_within: Option<u64>,
    /// Roles that may use this channel under the policy; `None`: every role the policy
    /// admits.
    pub roles: Option<Vec<String>>,
}

impl Route {
    /// Whether a caller with these roles may use the channel (the policy admitting them).
    pub fn admits(&self, caller_roles: &[String]) -> bool {
        self.roles
            .as_ref()
            .is_none_or(|roles| roles.iter().any(|r| r == "*" || caller_roles.contains(r)))
    }
}

/// Default number of deferrals before failover.
pub const DEFAULT_FAILOVER_AFTER: u32 = 3;

impl PartialOrd for Channel {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Channel {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[allow(dead_code)]
    description: Option<String>,
    roles: Spanned<Vec<String>>,
    validity: Spanned<String>,
    #[serde(default)]
    priority: Priority,
    channels: BTreeMap<String, Spanned<ChannelEntry>>,
    retry: Option<Spanned<RetryEntry>>,
    quiet_hours: Option<Spanned<String>>,
    reply_wait_max: Option<Spanned<String>>,
    templates: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryEntry {
    first: String,
    max_interval: Option<String>,
    give_up_after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelEntry {
    cell: Option<String>,
    cells: Option<Vec<String>>,
    failover_after: Option<u32>,
    fallback: Option<String>,
    fallback_unless_delivered_within: Option<String>,
    roles: Option<Vec<String>>,
}

fn is_cell_name(cell: &str) -> bool {
    !cell.is_empty()
        && cell
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses `"90s"`, `"15m"`, `"24h"`, `"7d"` into seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor).filter(|&v| v > 0)
}

/// Seconds in the largest unit of [`parse_duration`] that divides them: `604800` → `"7d"`.
pub fn format_duration(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Where a problem sits in a file: `name.toml:LINE`, so an operator goes straight to it.
struct Place<'a> {
    file_name: &'a str,
    text: &'a str,
}

impl Place<'_> {
    fn at(&self, span: Range<usize>, message: impl std::fmt::Display) -> String {
        let line = self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        format!("{}:{line}: {message}", self.file_name)
    }
}

impl Policy {
    /// Parses one policy file. Every error names the file and the line it is about.
    pub fn parse(file_name: &str, text: &str) -> Result<Policy, String> {
        let name = file_name.strip_suffix(".toml").unwrap_or(file_name);
        if !crate::api::is_policy_name(name) {
            return Err(format!(
                "{file_name}: a policy file name must be lowercase letters, digits and hyphens"
            ));
        }
        let place = Place { file_name, text };
        let raw: PolicyFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => place.at(span, e.message()),
            None => format!("{file_name}: {}", e.message()),
        })?;
        let validity_seconds = parse_duration(raw.validity.get_ref()).ok_or_else(|| {
            place.at(
                raw.validity.span(),
                "validity must look like 90s, 15m, 24h or 7d",
            )
        })?;
        if raw.roles.get_ref().is_empty() {
            return Err(place.at(
                raw.roles.span(),
                "roles must name at least one role, or \"*\"",
            ));
        }
        let mut routes = BTreeMap::new();
        for (channel, entry) in raw.channels {
            let span = entry.span();
            let entry = entry.into_inner();
            let channel = Channel::parse(&channel).ok_or_else(|| {
                place.at(
                    span.clone(),
                    format!("unknown channel {channel:?} (sms, email, telegram, push)"),
                )
            })?;
            let channel_name = channel.as_str();
            let fail = |message: String| place.at(span.clone(), message);
            let cells = match (entry.cell, entry.cells) {
                (Some(cell), None) => vec![cell],
                (None, Some(cells)) if !cells.is_empty() => cells,
                _ => {
                    return Err(fail(format!(
                        "channel {channel_name} needs either cell or a non-empty cells list"
                    )));
                }
            };
            if !cells.iter().all(|c| is_cell_name(c)) {
                return Err(fail("cell must be a Spin component id".into()));
            }
            let failover_after = entry.failover_after.unwrap_or(DEFAULT_FAILOVER_AFTER);
            if failover_after == 0 {
                return Err(fail("failover_after must be at least 1".into()));
            }
            let fallback = match entry.fallback {
                None => None,
                Some(name) => match Channel::parse(&name) {
                    Some(fallback) if fallback != channel => Some(fallback),
                    _ => {
                        return Err(fail(format!(
                            "fallback of {channel_name} must be another channel"
                        )));
                    }
                },
            };
            let fallback_unless_delivered_within = match entry.fallback_unless_delivered_within {
                None => None,
                Some(_) if fallback.is_none() => {
                    return Err(fail(format!(
                        "fallback_unless_delivered_within of {channel_name} needs a fallback channel"
                    )));
                }
                Some(_) if channel != Channel::Sms => {
                    return Err(fail(format!(
                        "fallback_unless_delivered_within is for sms only: {channel_name} \
                         providers send no delivery receipts"
                    )));
                }
                Some(within) => Some(parse_duration(&within).ok_or_else(|| {
                    fail("fallback_unless_delivered_within must look like 90s, 15m or 2h".into())
                })?),
            };
            if entry.roles.as_ref().is_some_and(Vec::is_empty) {
                return Err(fail(format!(
                    "roles of {channel_name} must name at least one role (or leave it out)"
                )));
            }
            routes.insert(
                channel,
                (
                    span,
                    Route {
                        cells,
                        failover_after,
                        fallback,
                        fallback_unless_delivered_within,
                        roles: entry.roles,
                    },
                ),
            );
        }
        for (channel, (span, route)) in &routes {
            if let Some(fallback) = route.fallback
                && !routes.contains_key(&fallback)
            {
                return Err(place.at(
                    span.clone(),
                    format!(
                        "{} falls back to {}, which the policy has no cells for",
                        channel.as_str(),
                        fallback.as_str()
                    ),
                ));
            }
        }
        let routes = routes
            .into_iter()
            .map(|(channel, (_, route))| (channel, route))
            .collect();
        let retry = match raw.retry {
            None => None,
            Some(retry) => {
                let span = retry.span();
                let retry = retry.into_inner();
                let duration = |field: &str, value: &str| {
                    parse_duration(value).map(|s| s * 1000).ok_or_else(|| {
                        place.at(
                            span.clone(),
                            format!("retry.{field} must look like 90s, 15m, 24h or 7d"),
                        )
                    })
                };
                let first_ms = duration("first", &retry.first)?;
                let max_interval_ms = match &retry.max_interval {
                    Some(v) => duration("max_interval", v)?,
                    None => crate::retry::MAX_RETRY_MS.max(first_ms),
                };
                if max_interval_ms < first_ms {
                    return Err(place.at(
                        span.clone(),
                        "retry.max_interval is shorter than retry.first",
                    ));
                }
                let give_up_after_ms = retry
                    .give_up_after
                    .as_deref()
                    .map(|v| duration("give_up_after", v))
                    .transpose()?;
                Some(crate::retry::Schedule {
                    first_ms,
                    max_interval_ms,
                    give_up_after_ms,
                })
            }
        };
        let quiet_hours = match raw.quiet_hours {
            None => None,
            Some(text) if raw.priority == Priority::Emergency => {
                return Err(place.at(
                    text.span(),
                    "an emergency policy has no quiet hours: alerts go out at once",
                ));
            }
            Some(text) => Some(
                crate::quiet_hours::QuietHours::parse(text.get_ref()).ok_or_else(|| {
                    place.at(text.span(), "quiet_hours must look like \"21:00-07:00\"")
                })?,
            ),
        };
        let templates = match raw.templates {
            None => None,
            Some(names) => {
                let span = names.span();
                let names = names.into_inner();
                if let Some(bad) = names.iter().find(|n| !crate::api::is_policy_name(n)) {
                    return Err(place.at(
                        span,
                        format!("templates: {bad:?} is not a template file name"),
                    ));
                }
                Some(names.into_iter().collect())
            }
        };
        let reply_wait_max_seconds = match raw.reply_wait_max {
            None => DEFAULT_REPLY_WAIT_MAX_SECONDS,
            Some(text) => parse_duration(text.get_ref()).ok_or_else(|| {
                place.at(
                    text.span(),
                    "reply_wait_max must look like 90s, 15m, 48h or 7d",
                )
            })?,
        };
        Ok(Policy {
            name: name.to_string(),
            roles: raw.roles.into_inner(),
            validity_seconds,
            priority: raw.priority,
            routes,
            retry,
            quiet_hours,
            templates,
            reply_wait_max_seconds,
        })
    }

    /// Whether a caller with these roles may use the policy.
    pub fn allows(&self, caller_roles: &[String]) -> bool {
        self.roles
            .iter()
            .any(|r| r == "*" || caller_roles.contains(r))
    }

    /// Whether messages under this policy may use the template `name`: a policy without a
    /// `templates` list offers every template.
    pub fn offers_template(&self, name: &str) -> bool {
        self.templates.as_ref().is_none_or(|set| set.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = r#"
description = "Everyday messages"
roles = ["*"]
validity = "24h"

[channels.sms]
cell = "deliver-sms"
"#;

    #[test]
    fn reply_wait_max_defaults_to_a_week_and_is_parsed() {
        let base = "roles = [\"*\"]\nvalidity = \"1h\"\n";
        let tail = "[channels.sms]\ncell = \"deliver-sms\"\n";
        let p = Policy::parse("a.toml", &format!("{base}{tail}")).unwrap();
        assert_eq!(p.reply_wait_max_seconds, 7 * 86_400);
        let p =
            Policy::parse("a.toml", &format!("{base}reply_wait_max = \"48h\"\n{tail}")).unwrap();
        assert_eq!(p.reply_wait_max_seconds, 48 * 3600);
        let e = Policy::parse(
            "a.toml",
            &format!("{base}reply_wait_max = \"forever\"\n{tail}"),
        )
        .unwrap_err();
        assert!(
            e.starts_with("a.toml:3:") && e.contains("reply_wait_max"),
            "{e}"
        );
        assert_eq!(format_duration(7 * 86_400), "7d");
        assert_eq!(format_duration(90), "90s");
    }

    #[test]
    fn several_cells_make_a_failover_route() {
        let text = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncells = [\"deliver-sms\", \"deliver-sms-backup\"]\nfailover_after = 2\n";
        let route = &Policy::parse("resilient.toml", text).unwrap().routes[&Channel::Sms];
        assert_eq!(route.cells, ["deliver-sms", "deliver-sms-backup"]);
        assert_eq!(route.failover_after, 2);
        let both =
            "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"a\"\ncells = [\"b\"]\n";
        assert!(
            Policy::parse("x.toml", both)
                .unwrap_err()
                .contains("either cell")
        );
    }

    #[test]
    fn a_fallback_names_another_channel_of_the_policy() {
        let ok = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\nfallback = \"email\"\n[channels.email]\ncell = \"deliver-email\"\n";
        let p = Policy::parse("f.toml", ok).unwrap();
        assert_eq!(p.routes[&Channel::Sms].fallback, Some(Channel::Email));
        let missing = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\nfallback = \"email\"\n";
        assert!(
            Policy::parse("f.toml", missing)
                .unwrap_err()
                .contains("no cells for")
        );
        let itself = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\nfallback = \"sms\"\n";
        assert!(Policy::parse("f.toml", itself).is_err());
    }

    #[test]
    fn a_delivery_deadline_needs_an_sms_route_with_a_fallback() {
        let ok = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\nfallback = \"email\"\nfallback_unless_delivered_within = \"10m\"\n[channels.email]\ncell = \"deliver-email\"\n";
        let p = Policy::parse("f.toml", ok).unwrap();
        assert_eq!(
            p.routes[&Channel::Sms].fallback_unless_delivered_within,
            Some(600)
        );
        let no_fallback = ok.replace("fallback = \"email\"\n", "");
        assert!(
            Policy::parse("f.toml", &no_fallback)
                .unwrap_err()
                .contains("needs a fallback channel")
        );
        let bad = ok.replace("\"10m\"", "\"soon\"");
        assert!(Policy::parse("f.toml", &bad).unwrap_err().contains("15m"));
        let email = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.email]\ncell = \"deliver-email\"\nfallback = \"sms\"\nfallback_unless_delivered_within = \"10m\"\n[channels.sms]\ncell = \"deliver-sms\"\n";
        assert!(
            Policy::parse("f.toml", email)
                .unwrap_err()
                .contains("sms only")
        );
    }

    #[test]
    fn priority_defaults_to_transactional_and_reads_emergency() {
        assert_eq!(
            Policy::parse("default.toml", DEFAULT).unwrap().priority,
            Priority::Transactional
        );
        let alert = format!("priority = \"emergency\"\n{DEFAULT}");
        assert_eq!(
            Policy::parse("alerts.toml", &alert).unwrap().priority,
            Priority::Emergency
        );
        let bad = format!("priority = \"urgent\"\n{DEFAULT}");
        assert!(
            Policy::parse("x.toml", &bad)
                .unwrap_err()
                .starts_with("x.toml:1:")
        );
    }

    #[test]
    fn a_valid_policy_parses() {
        let p = Policy::parse("default.toml", DEFAULT).unwrap();
        assert_eq!(p.name, "default");
        assert_eq!(p.validity_seconds, 86_400);
        assert_eq!(p.routes[&Channel::Sms].cells, ["deliver-sms"]);
        assert_eq!(
            p.routes[&Channel::Sms].failover_after,
            DEFAULT_FAILOVER_AFTER
        );
        assert!(p.allows(&[]));
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = Policy::parse(
            "alerts.toml",
            "roles = [\"x\"]\nvalidity = \"1h\"\nchanels = 3\n",
        )
        .unwrap_err();
        assert!(err.starts_with("alerts.toml:3:"), "{err}");
        assert!(
            Policy::parse("a.toml", "roles=[\"x\"]\nvalidity=\"soon\"\nchannels={}")
                .unwrap_err()
                .contains("validity")
        );
        assert!(
            Policy::parse(
                "a.toml",
                "roles=[\"x\"]\nvalidity=\"1h\"\n[channels.fax]\ncell=\"x\""
            )
            .unwrap_err()
            .contains("fax")
        );
        assert!(Policy::parse("Bad Name.toml", DEFAULT).is_err());
    }

    #[test]
    fn roles_restrict_callers() {
        let p = Policy::parse(
            "p.toml",
            "roles=[\"emergency\"]\nvalidity=\"1h\"\nchannels={}",
        )
        .unwrap();
        assert!(!p.allows(&["dev".into()]));
        assert!(p.allows(&["emergency".into()]));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("5w"), None);
    }

    #[test]
    fn a_retry_schedule_is_read_and_checked() {
        let base = "roles = [\"*\"]\nvalidity = \"24h\"\n[channels.sms]\ncell = \"deliver-sms\"\n";
        let p = Policy::parse(
            "p.toml",
            &format!(
                "{base}[retry]\nfirst = \"30s\"\nmax_interval = \"10m\"\ngive_up_after = \"24h\"\n"
            ),
        )
        .unwrap();
        assert_eq!(
            p.retry,
            Some(crate::retry::Schedule {
                first_ms: 30_000,
                max_interval_ms: 600_000,
                give_up_after_ms: Some(86_400_000)
            })
        );
        assert_eq!(Policy::parse("p.toml", base).unwrap().retry, None);
        for bad in [
            "[retry]\nfirst = \"soon\"\n",
            "[retry]\nfirst = \"1h\"\nmax_interval = \"1m\"\n",
            "[retry]\nmax_interval = \"1m\"\n",
        ] {
            let e = Policy::parse("p.toml", &format!("{base}{bad}")).unwrap_err();
            assert!(e.starts_with("p.toml"), "{e}");
        }
    }

    #[test]
    fn quiet_hours_are_read_and_refused_for_emergencies() {
        let base = "roles = [\"*\"]\nvalidity = \"1h\"\n";
        let sms = "[channels.sms]\ncell = \"deliver-sms\"\n";
        let p = Policy::parse(
            "p.toml",
            &format!("{base}quiet_hours = \"21:00-07:00\"\n{sms}"),
        )
        .unwrap();
        assert_eq!(
            p.quiet_hours,
            crate::quiet_hours::QuietHours::parse("21:00-07:00")
        );
        let e = Policy::parse(
            "alerts.toml",
            &format!("{base}priority = \"emergency\"\nquiet_hours = \"21:00-07:00\"\n{sms}"),
        )
        .unwrap_err();
        assert!(e.contains("quiet hours"), "{e}");
        assert!(Policy::parse("p.toml", &format!("{base}quiet_hours = \"late\"\n{sms}")).is_err());
    }
    #[test]
    fn errors_after_parsing_name_their_line_too() {
        let text = "roles = [\"*\"]\nvalidity = \"1h\"\n\n[channels.sms]\ncell = \"deliver-sms\"\nfallback = \"sms\"\n";
        let e = Policy::parse("p.toml", text).unwrap_err();
        assert!(e.starts_with("p.toml:4:"), "{e}");
        let e =
            Policy::parse("p.toml", "roles = []\nvalidity = \"1h\"\nchannels = {}\n").unwrap_err();
        assert!(e.starts_with("p.toml:1:") && e.contains("roles"), "{e}");
        let e = Policy::parse(
            "p.toml",
            "roles = [\"*\"]\n\nvalidity = \"soon\"\nchannels = {}\n",
        )
        .unwrap_err();
        assert!(e.starts_with("p.toml:3:") && e.contains("validity"), "{e}");
    }

    #[test]
    fn a_channel_can_narrow_the_roles_of_its_policy() {
        let text = "roles = [\"*\"]\nvalidity = \"1h\"\n[channels.sms]\ncell = \"deliver-sms\"\nroles = [\"health\"]\n[channels.email]\ncell = \"deliver-email\"\n";
        let p = Policy::parse("p.toml", text).unwrap();
        assert!(p.routes[&Channel::Sms].admits(&["health".into()]));
        assert!(!p.routes[&Channel::Sms].admits(&["tax".into()]));
        assert!(p.routes[&Channel::Email].admits(&["tax".into()]));
        let empty = text.replace("[\"health\"]", "[]");
        let e = Policy::parse("p.toml", &empty).unwrap_err();
        assert!(e.starts_with("p.toml:3:"), "{e}");
    }

    #[test]
    fn a_template_set_limits_the_templates() {
        let open = Policy::parse("default.toml", DEFAULT).unwrap();
        assert!(open.offers_template("anything"));
        let text = format!("templates = [\"vaccination-reminder\"]\n{DEFAULT}");
        let limited = Policy::parse("clinic.toml", &text).unwrap();
        assert!(limited.offers_template("vaccination-reminder"));
        assert!(!limited.offers_template("tax-reminder"));
        let bad = format!("templates = [\"Not A Name\"]\n{DEFAULT}");
        let e = Policy::parse("clinic.toml", &bad).unwrap_err();
        assert!(
            e.starts_with("clinic.toml:1:") && e.contains("Not A Name"),
            "{e}"
        );
    }
}
