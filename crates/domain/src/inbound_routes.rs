//! Where inbound messages that answer no reminder go: `policies/inbound/routes.toml`.
//!
//! ```toml
//! # The first word of the message, matched like STOP (case and accents ignored).
//! [[route]]
//! keyword = "REGISTER"
//! owner = "registry"                                   # the caller id that receives it
//! callback_url = "https://registry.example.gov/inbound"  # optional: without it, the
//!                                                      # owner polls GET /v1/inbound
//!
//! # Optional: everything no route and no reminder claims.
//! [default]
//! owner = "helpdesk"
//!
//! # The words citizens text to join a group (JOIN MOTHERS), and the one caller that may
//! # give a group each of them. A keyword is the operator's to hand out: a caller cannot
//! # claim one that another caller's citizens already know.
//! [[group_keyword]]
//! keyword = "MOTHERS"
//! owner = "registry"
//! ```
//!
//! Without a matching route or a default, the message is dropped and logged (without its
//! text or sender).

use crate::inbound::normalize_word;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub owner: String,
    pub callback_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundRoutes {
    routes: Vec<(String, Destination)>,
    default: Option<Destination>,
    /// Group keywords (normalised) and the caller each is reserved for.
    group_keywords: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    route: Vec<RouteEntry>,
    default: Option<DestinationEntry>,
    #[serde(default)]
    group_keyword: Vec<GroupKeywordEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupKeywordEntry {
    keyword: String,
    owner: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    keyword: String,
    owner: String,
    callback_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationEntry {
    owner: String,
    callback_url: Option<String>,
}

fn destination(
    file: &str,
    owner: String,
    callback_url: Option<String>,
) -> Result<Destination, String> {
    if owner.is_empty() {
        return Err(format!("{file}: owner must name a caller"));
    }
    if let Some(url) = &callback_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(format!("{file}: callback_url must be an http(s) URL"));
    }
    // Not even the operator's routes may call into the app: its components answer only
    // the app itself. (Private networks are for callback_private_networks, checked when
    // the notifier sends.)
    if let Some(url) = &callback_url
        && crate::callback_target::reach(url) == Some(crate::callback_target::Reach::OwnComponent)
    {
        return Err(format!(
            "{file}: callback_url: {}",
            crate::callback_target::Refusal::OwnComponent.message()
        ));
    }
    Ok(Destination {
        owner,
        callback_url,
    })
}

impl InboundRoutes {
    /// Parses the routes file; errors name the file and line.
    pub fn parse(file: &str, text: &str) -> Result<InboundRoutes, String> {
        let raw: RoutesFile = toml::from_str(text).map_err(|e| {
            match e
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1)
            {
                Some(line) => format!("{file}:{line}: {}", e.message()),
                None => format!("{file}: {}", e.message()),
            }
        })?;
        let mut routes = Vec::new();
        for entry in raw.route {
            let keyword = normalize_word(&entry.keyword);
            if keyword.is_empty() {
                return Err(format!("{file}: a route's keyword must be a word"));
            }
            routes.push((keyword, destination(file, entry.owner, entry.callback_url)?));
        }
        let default = raw
            .default
            .map(|d| destination(file, d.owner, d.callback_url))
            .transpose()?;
        let mut group_keywords: Vec<(String, String)> = Vec::new();
        for entry in raw.group_keyword {
            let keyword = crate::group::parse_keyword(&entry.keyword)
                .map_err(|e| format!("{file}: group_keyword {:?}: {}", entry.keyword, e.message))?;
            if entry.owner.is_empty() {
                return Err(format!(
                    "{file}: group_keyword {keyword}: owner must name a caller"
                ));
            }
            if group_keywords.iter().any(|(k, _)| *k == keyword) {
                return Err(format!("{file}: group_keyword {keyword} is reserved twice"));
            }
            group_keywords.push((keyword, entry.owner));
        }
        Ok(InboundRoutes {
            routes,
            default,
            group_keywords,
        })
    }

    /// The caller a group keyword (normalised) is reserved for, if any.
    pub fn group_keyword_owner(&self, keyword: &str) -> Option<&str> {
        self.group_keywords
            .iter()
            .find(|(k, _)| k == keyword)
            .map(|(_, owner)| owner.as_str())
    }

    /// The destination for a message whose first word is `keyword` (normalised).
    pub fn route(&self, keyword: &str) -> Option<&Destination> {
        self.routes
            .iter()
            .find(|(k, _)| k == keyword)
            .map(|(_, d)| d)
            .or(self.default.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[route]]
keyword = "Register"
owner = "registry"
callback_url = "https://registry.example.gov/inbound"

[[route]]
keyword = "AFYA"
owner = "health"

[default]
owner = "helpdesk"
"#;

    #[test]
    fn group_keywords_are_reserved_for_one_caller_each() {
        let routes = InboundRoutes::parse(
            "routes.toml",
            "[[group_keyword]]\nkeyword = \"Mothers\"\nowner = \"registry\"\n",
        )
        .unwrap();
        assert_eq!(routes.group_keyword_owner("MOTHERS"), Some("registry"));
        assert_eq!(routes.group_keyword_owner("FATHERS"), None);
        let twice = "[[group_keyword]]\nkeyword = \"MOTHERS\"\nowner = \"a\"\n\
                     [[group_keyword]]\nkeyword = \"mothers\"\nowner = \"b\"\n";
        assert!(
            InboundRoutes::parse("routes.toml", twice)
                .unwrap_err()
                .contains("twice")
        );
        let bad = "[[group_keyword]]\nkeyword = \"two words\"\nowner = \"a\"\n";
        assert!(InboundRoutes::parse("routes.toml", bad).is_err());
    }

    #[test]
    fn keywords_route_and_the_default_catches_the_rest() {
        let routes = InboundRoutes::parse("routes.toml", FILE).unwrap();
        let registry = routes.route("REGISTER").unwrap();
        assert_eq!(registry.owner, "registry");
        assert_eq!(
            registry.callback_url.as_deref(),
            Some("https://registry.example.gov/inbound")
        );
        assert_eq!(routes.route("AFYA").unwrap().owner, "health");
        assert_eq!(routes.route("HELLO").unwrap().owner, "helpdesk");
        assert_eq!(InboundRoutes::default().route("HELLO"), None);
    }

    #[test]
    fn a_bad_file_names_file_and_line() {
        let err = InboundRoutes::parse("routes.toml", "[[route]]\nkeyword = \"X\"\nownr = \"a\"\n")
            .unwrap_err();
        assert!(err.starts_with("routes.toml:3:"), "{err}");
        let err = InboundRoutes::parse(
            "routes.toml",
            "[default]\nowner = \"a\"\ncallback_url = \"ftp://x\"\n",
        )
        .unwrap_err();
        assert!(err.contains("callback_url"), "{err}");
        for url in [
            "http://deliver-sms.spin.internal/dispatch",
            "https://NOTIFIER.spin.internal./deliver",
        ] {
            let err = InboundRoutes::parse(
                "routes.toml",
                &format!("[default]\nowner = \"a\"\ncallback_url = \"{url}\"\n"),
            )
            .unwrap_err();
            assert!(err.contains("own components"), "{err}");
        }
    }
}
