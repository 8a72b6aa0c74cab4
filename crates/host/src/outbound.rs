//! `allowed_outbound_hosts`, as Spin reads it: `scheme://host:port` patterns where scheme,
//! host and port may be `*`, a host may be `*.suffix`, a missing port means the scheme's
//! default, and `{{ variable }}` templates are expanded first.

use anyhow::{Result, bail};
use messaging_domain::callback_target::SERVICE_CHAINING_DOMAIN;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: String,
    host: String,
    port: Option<String>,
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    }
}

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<HostPattern> {
        let Some((scheme, rest)) = pattern.split_once("://") else {
            bail!(
                "allowed_outbound_hosts entry {pattern:?} needs a scheme (http://, https://, *://)"
            );
        };
        let authority = rest.split('/').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() => (h.to_string(), Some(p.to_string())),
            _ => (authority.to_string(), None),
        };
        if host.is_empty() {
            bail!("allowed_outbound_hosts entry {pattern:?} has no host");
        }
        Ok(HostPattern {
            scheme: scheme.to_ascii_lowercase(),
            // Names compare without case and without the root's trailing dot.
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
        })
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        let scheme_ok = self.scheme == "*" || self.scheme == scheme;
        let host_ok = self.host == "*"
            || self.host == host
            || self
                .host
                .strip_prefix("*.")
                .is_some_and(|suffix| host.ends_with(&format!(".{suffix}")));
        let port = port
            .map(|p| p.to_string())
            .or_else(|| default_port(scheme).map(String::from));
        let wanted = self
            .port
            .clone()
            .or_else(|| default_port(&self.scheme).map(String::from));
        let port_ok = match (wanted.as_deref(), port.as_deref()) {
            (Some("*"), _) => true,
            (Some(w), Some(p)) => w == p,
            _ => false,
        };
        scheme_ok && host_ok && port_ok
    }
}

impl HostPattern {
    /// Whether this pattern grants service chaining to `component` over `scheme` and
    /// `port`: as on Spin, only `*.spin.internal` or that component's own
    /// `<component>.spin.internal` does. A pattern that matches any host (`*`,
    /// `https://*:443`) grants no chaining: it is there for callers' systems, and a
    /// caller-chosen URL must never become a call into the app.
    pub fn grants_chaining(&self, scheme: &str, component: &str, port: Option<u16>) -> bool {
        let own = format!("{component}.{SERVICE_CHAINING_DOMAIN}");
        let host = self.host.trim_end_matches('.');
        (host == format!("*.{SERVICE_CHAINING_DOMAIN}") || host == own)
            && self.allows(scheme, &own, port)
    }

    /// Whether this pattern names its host rather than matching many (`*`, `*.suffix`). A
    /// request allowed only by patterns that name no host connects only to public
    /// addresses (`outbound_pool.rs`); a named host is the operator's choice, wherever it is
    /// (a Kannel on 127.0.0.1, an SMTP relay on 10.x).
    pub fn names_host(&self) -> bool {
        !self.host.starts_with('*')
    }

    /// Whether this pattern can grant raw TCP (`tcp://host:port`, or a `*` scheme).
    pub fn grants_tcp(&self) -> bool {
        self.scheme == "tcp" || self.scheme == "*"
    }

    /// Whether a TCP connection to `addr` is allowed. Host names in the pattern are
    /// resolved at connection time, since components connect to addresses.
    pub async fn allows_tcp(&self, addr: std::net::SocketAddr) -> bool {
        if !self.grants_tcp() {
            return false;
        }
        let port_ok = match self.port.as_deref() {
            Some("*") => true,
            Some(p) => p == addr.port().to_string(),
            None => false,
        };
        if !port_ok {
            return false;
        }
        if self.host == "*" || self.host == addr.ip().to_string() {
            return true;
        }
        match tokio::net::lookup_host((self.host.as_str(), addr.port())).await {
            Ok(mut resolved) => resolved.any(|a| a.ip() == addr.ip()),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, scheme: &str, host: &str, port: Option<u16>) -> bool {
        HostPattern::parse(pattern)
            .unwrap()
            .allows(scheme, host, port)
    }

    #[test]
    fn exact_hosts_need_matching_scheme_and_port() {
        assert!(allows(
            "http://127.0.0.1:13013",
            "http",
            "127.0.0.1",
            Some(13013)
        ));
        assert!(!allows(
            "http://127.0.0.1:13013",
            "http",
            "127.0.0.1",
            Some(13014)
        ));
        assert!(!allows(
            "http://127.0.0.1:13013",
            "https",
            "127.0.0.1",
            Some(13013)
        ));
        assert!(allows(
            "https://api.example.org",
            "https",
            "api.example.org",
            None
        ));
        assert!(!allows(
            "https://api.example.org",
            "https",
            "evil.org",
            None
        ));
    }

    #[test]
    fn wildcards() {
        assert!(allows(
            "http://*.spin.internal",
            "http",
            "deliver-sms.spin.internal",
            None
        ));
        assert!(!allows(
            "http://*.spin.internal",
            "http",
            "spin.internal.evil.org",
            None
        ));
        assert!(allows("*://*:*", "https", "anything", Some(8443)));
        assert!(allows("http://localhost:*", "http", "localhost", Some(1)));
    }

    fn chains(pattern: &str, scheme: &str, component: &str) -> bool {
        HostPattern::parse(pattern)
            .unwrap()
            .grants_chaining(scheme, component, None)
    }

    #[test]
    fn only_spin_internal_patterns_grant_chaining() {
        assert!(chains("http://*.spin.internal", "http", "deliver-email"));
        assert!(chains(
            "http://deliver-email.spin.internal",
            "http",
            "deliver-email"
        ));
        assert!(chains(
            "HTTP://Deliver-Email.SPIN.internal.",
            "http",
            "deliver-email"
        ));
        assert!(!chains(
            "http://notifier.spin.internal",
            "http",
            "deliver-email"
        ));
        // Wildcards for callers' systems never reach the app's components.
        assert!(!chains("https://*:443", "https", "deliver-email"));
        assert!(!chains("*://*:*", "http", "deliver-email"));
        assert!(!chains("https://*.internal", "https", "deliver-email"));
        // Scheme and port still count.
        assert!(!chains("http://*.spin.internal", "https", "deliver-email"));
        assert!(
            !HostPattern::parse("http://*.spin.internal")
                .unwrap()
                .grants_chaining("http", "deliver-email", Some(8080))
        );
    }

    #[test]
    fn wildcard_hosts_name_no_host() {
        assert!(
            HostPattern::parse("http://127.0.0.1:*")
                .unwrap()
                .names_host()
        );
        assert!(
            HostPattern::parse("https://api.example.org")
                .unwrap()
                .names_host()
        );
        assert!(!HostPattern::parse("https://*:443").unwrap().names_host());
        assert!(!HostPattern::parse("*://*:*").unwrap().names_host());
        assert!(
            !HostPattern::parse("https://*.example.org")
                .unwrap()
                .names_host()
        );
    }

    #[tokio::test]
    async fn tcp_patterns_allow_only_their_address_and_port() {
        let smtp = HostPattern::parse("tcp://127.0.0.1:2525").unwrap();
        assert!(smtp.allows_tcp("127.0.0.1:2525".parse().unwrap()).await);
        assert!(!smtp.allows_tcp("127.0.0.1:25".parse().unwrap()).await);
        assert!(!smtp.allows_tcp("10.0.0.1:2525".parse().unwrap()).await);
        assert!(
            HostPattern::parse("tcp://localhost:2525")
                .unwrap()
                .allows_tcp("127.0.0.1:2525".parse().unwrap())
                .await
        );
        assert!(
            !HostPattern::parse("https://127.0.0.1:2525")
                .unwrap()
                .allows_tcp("127.0.0.1:2525".parse().unwrap())
                .await
        );
    }

    #[test]
    fn entries_without_scheme_are_refused() {
        assert!(HostPattern::parse("example.org").is_err());
    }
}
