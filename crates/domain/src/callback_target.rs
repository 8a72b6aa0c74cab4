//! Where a URL given by a caller may make the gateway go. Callback URLs (message
//! `callback_url`, GovStack `callbackUri`) and Web Push endpoints are chosen by callers and
//! fetched by the gateway: without a check, a caller could make the gateway POST into the
//! application itself (`https://deliver-email.spin.internal/dispatch` runs a private
//! component: both Spin and the project host serve `*.spin.internal` in-process), or into
//! the deployment's own network (cloud metadata at 169.254.169.254, an admin port on
//! 127.0.0.1, a database on 10.x).
//!
//! [`reach`] classifies a URL by what its host names, in every spelling the URL parser
//! accepts (case, a trailing dot, decimal, octal and hex IPv4, IPv4-mapped IPv6). A name
//! that resolves to a private address cannot be seen from here: the project host refuses
//! those at connect time (`crates/host/src/outbound_pool.rs`), and `callback_hosts` (the
//! notifier's allowed_outbound_hosts) fences them on Spin.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The runtime's service-chaining domain: `<component>.spin.internal` is that component.
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";

/// What a URL's host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// One of the application's own components (`*.spin.internal`).
    OwnComponent,
    /// This machine: loopback addresses, `localhost` and `*.localhost`.
    Loopback,
    /// A private network: private, shared, link-local, unspecified, multicast or reserved
    /// addresses, and names that only mean something inside a network (one label, `.local`,
    /// `.internal`, `.home.arpa`, `.lan`).
    Private,
    /// Anything else.
    Public,
}

/// Why a caller's URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an http(s) URL with a host.
    NotAUrl,
    /// One of the gateway's own components.
    OwnComponent,
    /// Loopback or a private network, which the deployment does not allow.
    InternalNetwork,
}

impl Refusal {
    /// The sentence an API error or a log line carries.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotAUrl => "the URL is not an http(s) URL with a host",
            Refusal::OwnComponent => {
                "the URL names one of the gateway's own components (*.spin.internal); \
                 the gateway calls only systems outside itself"
            }
            Refusal::InternalNetwork => {
                "the URL names a private, loopback or link-local address or an internal \
                 name; the gateway does not call into its own network"
            }
        }
    }
}

/// What `url`'s host names; `None` when `url` is not an http(s) URL with a host.
pub fn reach(url: &str) -> Option<Reach> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    // The WHATWG parser has already lowercased the name and read every numeric IPv4
    // spelling (2130706433, 0x7f.1, 0177.0.0.1) as an address.
    Some(match url.host()? {
        url::Host::Domain(name) => reach_of_name(name),
        url::Host::Ipv4(ip) => reach_of_ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => reach_of_ip(IpAddr::V6(ip)),
    })
}

/// What a host name names (no IP literals; see [`reach_of_ip`]).
pub fn reach_of_name(name: &str) -> Reach {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if spin_internal_label(&name).is_some() {
        return Reach::OwnComponent;
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return Reach::Loopback;
    }
    // One label is completed by the resolver's search list: a name inside the network.
    let internal_suffix = [".local", ".internal", ".home.arpa", ".lan", ".intranet"]
        .iter()
        .any(|suffix| name.ends_with(suffix));
    if name.is_empty() || !name.contains('.') || internal_suffix {
        return Reach::Private;
    }
    Reach::Public
}

/// `Some(label)` when `host` is in the service-chaining domain, in any case and with or
/// without the root's trailing dot: the rest of the name before `.spin.internal`,
/// lowercase (empty for `spin.internal` itself; with dots when it is not one label, which
/// names no component).
pub fn spin_internal_label(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == SERVICE_CHAINING_DOMAIN {
        return Some(String::new());
    }
    host.strip_suffix(SERVICE_CHAINING_DOMAIN)?
        .strip_suffix('.')
        .map(str::to_string)
}

/// What an address is: public only when it is none of the special-purpose ranges a host
/// or its network keeps for itself.
pub fn reach_of_ip(ip: IpAddr) -> Reach {
    match ip {
        IpAddr::V4(ip) => reach_v4(ip),
        IpAddr::V6(ip) => reach_v6(ip),
    }
}

/// Whether a connection to `ip` leaves the deployment's own networks.
pub fn is_public_ip(ip: IpAddr) -> bool {
    reach_of_ip(ip) == Reach::Public
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    let private = ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        // "This network" (0/8), shared address space (RFC 6598), IETF protocol
        // assignments (192.0.0/24), benchmarking (198.18/15), reserved (240/4).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240;
    if private {
        Reach::Private
    } else {
        Reach::Public
    }
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    // Addresses that carry an IPv4 address are what that address is: mapped
    // (::ffff:a.b.c.d), the deprecated compatible form (::a.b.c.d), NAT64 (64:ff9b::/96)
    // and 6to4 (2002::/16).
    let segments = ip.segments();
    let octets = ip.octets();
    let embedded =
        |at: usize| Ipv4Addr::new(octets[at], octets[at + 1], octets[at + 2], octets[at + 3]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return reach_v4(v4);
    }
    if segments[..6] == [0; 6] && !ip.is_unspecified() {
        return reach_v4(embedded(12));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return reach_v4(embedded(12));
    }
    if segments[0] == 0x2002 {
        return reach_v4(embedded(2));
    }
    let first = segments[0];
    let private = ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0; // site-local (deprecated, still routed inside some networks)
    if private {
        Reach::Private
    } else {
        Reach::Public
    }
}

/// Whether the gateway may call `url` for a caller: an http(s) URL that never names one of
/// the gateway's own components, and names loopback or a private network only where the
/// deployment allows it (`callback_private_networks`, for receivers beside the gateway on
/// premises; never the app's own components).
pub fn check(url: &str, private_networks: bool) -> Result<(), Refusal> {
    match reach(url) {
        None => Err(Refusal::NotAUrl),
        Some(Reach::OwnComponent) => Err(Refusal::OwnComponent),
        Some(Reach::Loopback | Reach::Private) if !private_networks => {
            Err(Refusal::InternalNetwork)
        }
        Some(_) => Ok(()),
    }
}

/// The notifier's check of a notification at send time: [`check`], except that the
/// deployment's own Information Mediator room (`im_room`, the `im_pubsub_url` publications
/// are made under, with `im.` events) may be on a private network whatever
/// `callback_private_networks` says. A notification stored before a check existed, or
/// under another setting, is refused here rather than sent.
pub fn check_notification(
    url: &str,
    event: &str,
    private_networks: bool,
    im_room: &str,
) -> Result<(), Refusal> {
    let room = im_room.trim_end_matches('/');
    let in_room =
        !room.is_empty() && event.starts_with("im.") && url.starts_with(&format!("{room}/pub/"));
    check(url, private_networks || in_room)
}

/// Whether an `allowed_outbound_hosts` pattern (`scheme://host:port`) names its host
/// rather than matching many (`*`, `*.suffix`): an operator who names a host means that
/// host, wherever it is.
pub fn pattern_names_host(pattern: &str) -> bool {
    let Some((_, rest)) = pattern.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    !authority.is_empty() && !authority.starts_with('*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_own_components_are_recognised_in_every_spelling() {
        for url in [
            "https://deliver-email.spin.internal/dispatch",
            "http://notifier.spin.internal/deliver",
            "https://DELIVER-EMAIL.SPIN.INTERNAL/dispatch",
            "https://Deliver-Email.Spin.Internal/dispatch",
            "https://deliver-email.spin.internal./dispatch",
            "https://deliver-email.spin.internal.:443/dispatch",
            "http://deliver-email.spin.internal:8080/tick",
            "http://spin.internal/",
            "http://a.b.spin.internal/",
            "http://user:pw@sweeper.spin.internal/tick",
        ] {
            assert_eq!(reach(url), Some(Reach::OwnComponent), "{url}");
            assert_eq!(check(url, false), Err(Refusal::OwnComponent), "{url}");
            // callback_private_networks is for receivers on premises, never for these.
            assert_eq!(check(url, true), Err(Refusal::OwnComponent), "{url}");
        }
        // Names that only look alike are someone else's.
        assert_eq!(
            reach("https://spin.internal.evil.example/"),
            Some(Reach::Public)
        );
        assert_eq!(
            reach("https://myspin.internal.example/"),
            Some(Reach::Public)
        );
        assert_eq!(
            spin_internal_label("Notifier.SPIN.internal."),
            Some("notifier".into())
        );
        assert_eq!(spin_internal_label("a.b.spin.internal"), Some("a.b".into()));
        assert_eq!(spin_internal_label("xspin.internal"), None);
    }

    #[test]
    fn loopback_is_recognised_in_every_spelling() {
        for url in [
            "http://127.0.0.1:8080/cb",
            "http://127.1.2.3/cb",
            "http://localhost/cb",
            "http://LOCALHOST./cb",
            "https://api.localhost./cb",
            "http://2130706433/cb",
            "http://0x7f000001/cb",
            "http://0x7f.1/cb",
            "http://0177.0.0.1/cb",
            "http://017700000001/cb",
            "http://127.1/cb",
            "http://[::1]/cb",
            "http://[0:0:0:0:0:0:0:1]/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://[::ffff:7f00:1]/cb",
            "http://[::127.0.0.1]/cb",
            "http://[64:ff9b::127.0.0.1]/cb",
            "http://[2002:7f00:1::]/cb",
        ] {
            assert_eq!(reach(url), Some(Reach::Loopback), "{url}");
            assert_eq!(check(url, false), Err(Refusal::InternalNetwork), "{url}");
            assert_eq!(check(url, true), Ok(()), "{url}");
        }
    }

    #[test]
    fn private_networks_and_internal_names_are_recognised() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "https://10.1.2.3/cb",
            "https://172.16.0.9/cb",
            "https://192.168.1.1/cb",
            "https://100.64.0.1/cb",
            "https://192.0.0.8/cb",
            "https://198.18.0.1/cb",
            "https://240.0.0.1/cb",
            "https://255.255.255.255/cb",
            "https://224.0.0.1/cb",
            "http://0.0.0.0/",
            "http://0/",
            "http://0.1.2.3/",
            "http://[::]/cb",
            "http://[fd00::1]/cb",
            "http://[fe80::1]/cb",
            "http://[fec0::1]/cb",
            "http://[ff02::1]/cb",
            "http://[::ffff:10.0.0.1]/cb",
            "http://[::ffff:169.254.169.254]/cb",
            "http://[::ffff:0.0.0.0]/cb",
            "http://[64:ff9b::10.0.0.1]/cb",
            "http://012.0.0.1/cb",
            "http://0xa000001/cb",
            "http://167772161/cb",
            "https://redis/cb",
            "https://REDIS./cb",
            "https://printer.local/cb",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://router.home.arpa/",
            "https://nas.lan/",
        ] {
            assert_eq!(reach(url), Some(Reach::Private), "{url}");
            assert_eq!(check(url, false), Err(Refusal::InternalNetwork), "{url}");
            assert_eq!(check(url, true), Ok(()), "{url}");
        }
    }

    #[test]
    fn public_receivers_pass_and_what_is_not_a_url_is_refused() {
        for url in [
            "https://registry.health.gov.example/callbacks",
            "https://registry.health.gov.example./callbacks",
            "https://8.8.8.8/cb",
            "https://134744072/cb",
            "https://[2001:db8::1]/cb",
            "https://[2002:808:808::1]/cb",
            "https://[::ffff:8.8.8.8]/cb",
            "http://100.128.0.1/cb",
        ] {
            assert_eq!(reach(url), Some(Reach::Public), "{url}");
            assert_eq!(check(url, false), Ok(()), "{url}");
        }
        for url in [
            "not a url",
            "ftp://registry.example/cb",
            "file:///etc/passwd",
            "http://",
        ] {
            assert_eq!(check(url, true), Err(Refusal::NotAUrl), "{url}");
        }
    }

    #[test]
    fn only_the_deployments_own_room_may_be_private_without_the_setting() {
        let room = "http://10.0.0.5/r1/DEV/GOV/1234/messaging";
        let publication = format!("{room}/pub/v1/messageStatus");
        assert_eq!(
            check_notification(&publication, "im.messageStatus", false, room),
            Ok(())
        );
        assert_eq!(
            check_notification(&publication, "im.messageStatus", false, &format!("{room}/")),
            Ok(())
        );
        // A caller's callback aimed at the room's address is a caller's callback.
        assert_eq!(
            check_notification(&publication, "message.status", false, room),
            Err(Refusal::InternalNetwork)
        );
        assert_eq!(
            check_notification("http://10.0.0.6/x", "im.messageStatus", false, room),
            Err(Refusal::InternalNetwork)
        );
        assert_eq!(
            check_notification("http://10.0.0.6/x", "message.status", false, ""),
            Err(Refusal::InternalNetwork)
        );
        // Not even the room may name a component.
        let chained = "http://notifier.spin.internal/r";
        assert_eq!(
            check_notification(&format!("{chained}/pub/v1/x"), "im.x", true, chained),
            Err(Refusal::OwnComponent)
        );
    }

    #[test]
    fn patterns_that_name_their_host() {
        assert!(pattern_names_host("http://127.0.0.1:*"));
        assert!(pattern_names_host("https://fcm.googleapis.com"));
        assert!(!pattern_names_host("https://*:443"));
        assert!(!pattern_names_host("*://*:*"));
        assert!(!pattern_names_host("https://*.notify.windows.com"));
        assert!(!pattern_names_host("no scheme"));
    }
}
