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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutesFile {
    #[serde(default)]
    route: Vec<RouteEntry>,
    default: Option<DestinationEntry>,
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
        Ok(InboundRoutes { routes, default })
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
    }
}
