//! Lists of callers in configuration: `caller:role+role:credential`, comma-separated. The
//! shape of `api_keys` (the credential is a key's SHA-256) and `service_keys` (the
//! credential is the service's signing secret); each reader judges its own credential.

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

#[cfg(test)]
mod tests {
    use super::*;

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
