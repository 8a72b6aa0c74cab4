//! Outbound HTTP from components: `allowed_outbound_hosts` is enforced here, and requests
//! to `http://<component>.spin.internal` are served in-process by that component (Spin's
//! local service chaining), never touching the network. Calls to providers that set no
//! timeouts get the host's (`--outbound-timeout-ms`): a provider that hangs must give the
//! call back well inside a delivery claim (60 s), or another instance could retry the
//! message while the first call still waits for an answer.
//!
//! Private routes answer only the app's own components, and only those granted them: a
//! host in `spin.internal` (any case, a trailing dot) is chained only when one of the
//! caller's patterns is `*.spin.internal` or that component's own name, and otherwise
//! refused, never looked up in DNS. A request whose host only a wildcard pattern allows
//! (`https://*:443`, callers' systems) connects only to public addresses
//! (`outbound_pool.rs`), checked on the addresses it actually connects to.

use crate::app::App;
use crate::outbound::HostPattern;
use crate::outbound_pool::ConnectionPool;
use messaging_domain::callback_target::spin_internal_label;
use std::sync::{Arc, Weak};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send>;

pub struct OutboundHooks {
    pub component: Arc<str>,
    pub allowed: Arc<Vec<HostPattern>>,
    pub app: Weak<App>,
    /// Where calls to providers and callers' systems go (`outbound_pool.rs`). Its timeout
    /// is the longest wait for a connection, the first byte and each later byte of an
    /// answer, where the component set none.
    pub pool: Arc<ConnectionPool>,
}

/// Where a request may go, from the caller's patterns.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Served in-process by this component.
    Chain(String),
    /// Over the network; `public_only` when no pattern that names its host allows it.
    Send {
        public_only: bool,
    },
    Deny,
}

/// The decision for a request to `scheme://host:port` from a component with `allowed`.
pub fn decide(allowed: &[HostPattern], scheme: &str, host: &str, port: Option<u16>) -> Decision {
    if let Some(label) = spin_internal_label(host) {
        // One label names a component; anything else in the domain names nothing, and
        // goes nowhere (not to DNS either).
        let single = !label.is_empty() && !label.contains('.');
        return if single
            && allowed
                .iter()
                .any(|p| p.grants_chaining(scheme, &label, port))
        {
            Decision::Chain(label)
        } else {
            Decision::Deny
        };
    }
    let matching = allowed.iter().filter(|p| p.allows(scheme, host, port));
    let mut any = false;
    for pattern in matching {
        if pattern.names_host() {
            return Decision::Send { public_only: false };
        }
        any = true;
    }
    if any {
        Decision::Send { public_only: true }
    } else {
        Decision::Deny
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Io,
    ) -> Sent {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16();
        let public_only = match decide(&self.allowed, &scheme, &host, port) {
            Decision::Deny => {
                tracing::warn!(component = %self.component, %scheme, %host, "outbound request refused by allowed_outbound_hosts");
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
            Decision::Chain(target) => {
                let app = self.app.clone();
                return Box::new(async move {
                    let app = app.upgrade().ok_or(Error::DestinationUnavailable)?;
                    let response = app
                        .call_component(&target, request, None)
                        .await
                        .map_err(|e| {
                            tracing::error!(component = %target, error = %e, "internal request failed");
                            Error::DestinationUnavailable
                        })?;
                    Ok((response, Box::new(async { Ok(()) }) as Io))
                });
            }
            Decision::Send { public_only } => public_only,
        };
        _ = fut;
        let timeout = self.pool.timeout();
        let options = options.unwrap_or_default();
        let connect = options.connect_timeout.unwrap_or(timeout);
        let first_byte = options.first_byte_timeout.unwrap_or(timeout);
        let between_bytes = options.between_bytes_timeout.unwrap_or(timeout);
        let pool = self.pool.clone();
        let component = self.component.clone();
        Box::new(async move {
            let answer = if connect == pool.timeout() {
                pool.send(request, first_byte, between_bytes, public_only)
                    .await
            } else {
                // A component asking for its own connection timeout gets a connection of
                // its own, with the same address rule.
                ConnectionPool::new(connect)
                    .send(request, first_byte, between_bytes, public_only)
                    .await
            };
            if matches!(answer, Err(Error::HttpRequestDenied)) {
                tracing::warn!(component = %component, %host, "outbound request refused: a wildcard pattern reaches public addresses only");
            }
            Ok((answer?, Box::new(async { Ok(()) }) as Io))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(entries: &[&str]) -> Vec<HostPattern> {
        entries
            .iter()
            .map(|p| HostPattern::parse(p).unwrap())
            .collect()
    }

    #[test]
    fn a_wildcard_for_callers_systems_never_chains_in_any_spelling() {
        let notifier = patterns(&["https://*:443", "https://im.invalid"]);
        for host in [
            "deliver-email.spin.internal",
            "DELIVER-EMAIL.SPIN.INTERNAL",
            "deliver-email.spin.internal.",
            "Deliver-Email.Spin.Internal.",
            "a.b.spin.internal",
            "spin.internal",
        ] {
            assert_eq!(
                decide(&notifier, "https", host, None),
                Decision::Deny,
                "{host}"
            );
        }
        let everything = patterns(&["*://*:*"]);
        assert_eq!(
            decide(&everything, "http", "notifier.spin.internal", Some(80)),
            Decision::Deny
        );
    }

    #[test]
    fn spin_internal_patterns_chain_to_their_components() {
        let ingress = patterns(&["http://*.spin.internal"]);
        assert_eq!(
            decide(&ingress, "http", "notifier.spin.internal", None),
            Decision::Chain("notifier".into())
        );
        assert_eq!(
            decide(&ingress, "http", "NOTIFIER.spin.internal.", None),
            Decision::Chain("notifier".into())
        );
        assert_eq!(
            decide(&ingress, "http", "x.notifier.spin.internal", None),
            Decision::Deny
        );
        let one = patterns(&["http://sweeper.spin.internal"]);
        assert_eq!(
            decide(&one, "http", "sweeper.spin.internal", None),
            Decision::Chain("sweeper".into())
        );
        assert_eq!(
            decide(&one, "http", "notifier.spin.internal", None),
            Decision::Deny
        );
    }

    #[test]
    fn named_hosts_go_anywhere_and_wildcards_only_to_public_addresses() {
        let cell = patterns(&["http://127.0.0.1:13013", "https://*:443"]);
        assert_eq!(
            decide(&cell, "http", "127.0.0.1", Some(13013)),
            Decision::Send { public_only: false }
        );
        assert_eq!(
            decide(&cell, "https", "registry.example.org", None),
            Decision::Send { public_only: true }
        );
        assert_eq!(
            decide(&cell, "https", "127.0.0.1", None),
            Decision::Send { public_only: true }
        );
        assert_eq!(decide(&cell, "http", "127.0.0.1", Some(80)), Decision::Deny);
    }
}
