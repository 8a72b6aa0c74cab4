//! Callback URLs are given by callers and fetched by the gateway: without a check, a caller
//! could make the gateway POST into the deployment's own network (cloud metadata at
//! 169.254.169.254, an admin port on 127.0.0.1, a database on 10.x). This tells whether a
//! URL names such an address outright. Names that resolve to private addresses cannot be
//! seen from here; `callback_hosts` (the notifier's allowed_outbound_hosts) is the fence
//! for those.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `url`'s host is loopback, private (RFC 1918, RFC 4193), link-local, shared
/// (RFC 6598), unspecified, multicast or `localhost`. An unparsable URL counts as internal:
/// it is refused, not guessed at.
pub fn is_internal(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return true;
    };
    match url.host() {
        None => true,
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => internal_v4(ip),
        Some(url::Host::Ipv6(ip)) => internal_v6(ip),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || (a == 100 && (64..128).contains(&b))
        || a == 0
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::is_internal;

    #[test]
    fn internal_addresses_are_recognised_in_every_spelling() {
        for url in [
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
            "https://api.localhost./cb",
            "http://169.254.169.254/latest/meta-data/",
            "https://10.1.2.3/cb",
            "https://172.16.0.9/cb",
            "https://192.168.1.1/cb",
            "https://100.64.0.1/cb",
            "http://0.0.0.0/",
            "http://[::1]/cb",
            "http://[fd00::1]/cb",
            "http://[fe80::1]/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://2130706433/cb",
            "http://0x7f.1/cb",
            "not a url",
        ] {
            assert!(is_internal(url), "{url}");
        }
        for url in [
            "https://registry.health.gov.example/callbacks",
            "https://8.8.8.8/cb",
            "https://[2001:db8::1]/cb",
        ] {
            assert!(!is_internal(url), "{url}");
        }
    }
}
