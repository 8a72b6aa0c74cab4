//! Lists of callers in configuration: `caller:role+role:credential`, comma-separated. The
//! shape of `api_keys` (the credential is a key's SHA-256) and `service_keys` (the
//! credential is the service's signing secret); each reader judges its own credential.
//!
//! Also per-caller settings (`caller_rate_limits`, `daily_quotas`): `caller:setting`
//! entries, comma-separated, `*` for every caller without its own entry; each variable
//! parses its own entries ([`setting_for`], [`unreadable_entries`]).

/// One entry. Roles may be empty; the caller and credential are trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerEntry<'a> {
    pub caller: &'a str,
    pub roles: Vec<&'a str>,
    pub credential: &'a str,
}

/// The well-formed entries of `config`, in order; entries without three parts or with an
/// empty caller are skipped.
pub fn parse(config: &str) -> impl Iterator<Item = CallerEntry<'_>> {
    config.split(',').filter_map(|entry| {
        let mut parts = entry.trim().splitn(3, ':');
        let caller = parts.next()?.trim();
        let roles = parts
            .next()?
            .split('+')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        let credential = parts.next()?.trim();
        (!caller.is_empty()).then_some(CallerEntry {
            caller,
            roles,
            credential,
        })
    })
}

/// The setting of `caller` in a per-caller variable: its own entry, else `*`'s, else none.
/// Entries `parse_entry` cannot read are skipped.
pub fn setting_for<'a, T>(
    config: &'a str,
    caller: &str,
    parse_entry: impl Fn(&'a str) -> Option<(&'a str, T)>,
) -> Option<T> {
    let mut fallback = None;
    for (who, setting) in config.split(',').filter_map(parse_entry) {
        if who == caller {
            return Some(setting);
        }
        if who == "*" && fallback.is_none() {
            fallback = Some(setting);
        }
    }
    fallback
}

/// The entries of a per-caller variable that `parse_entry` cannot read, for a clear
/// message at start.
pub fn unreadable_entries<'a, T>(
    config: &'a str,
    parse_entry: impl Fn(&'a str) -> Option<(&'a str, T)>,
) -> Vec<&'a str> {
    config
        .split(',')
        .filter(|e| !e.trim().is_empty() && parse_entry(e).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number_entry(entry: &str) -> Option<(&str, u32)> {
        let (caller, n) = entry.trim().split_once(':')?;
        Some((caller.trim(), n.trim().parse().ok()?))
    }

    #[test]
    fn a_callers_own_setting_wins_over_the_default() {
        let config = "*:1, registry:2, *:3, clinic:x";
        assert_eq!(setting_for(config, "registry", number_entry), Some(2));
        assert_eq!(setting_for(config, "school", number_entry), Some(1));
        assert_eq!(setting_for(config, "clinic", number_entry), Some(1));
        assert_eq!(setting_for("registry:2", "school", number_entry), None);
        assert_eq!(unreadable_entries(config, number_entry), [" clinic:x"]);
    }

    #[test]
    fn entries_are_read_and_malformed_ones_skipped() {
        let entries: Vec<_> =
            parse(" registry:notify+alerts:abc , :x:y, broken, clinic::k:v").collect();
        assert_eq!(
            entries,
            [
                CallerEntry {
                    caller: "registry",
                    roles: vec!["notify", "alerts"],
                    credential: "abc"
                },
                CallerEntry {
                    caller: "clinic",
                    roles: vec![],
                    credential: "k:v"
                },
            ]
        );
    }
}
