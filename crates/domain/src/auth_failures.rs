//! Failed authentications per client address: a client that presents wrong credentials
//! `limit` times within a window is answered 429 with `Retry-After` until the window ends,
//! before its credentials are even looked at, so keys and service secrets cannot be
//! guessed at the gateway's speed.
//!
//! Counted per address block, not per address: one IPv4 address, or one IPv6 /64 (what a
//! single client is usually given, so rotating through it gains nothing). The address is
//! the runtime's (`spin-client-addr`, which Spin and the project host set and no client
//! can), and it is stored only as a keyed hash. The counter of a window is an atomic
//! increment (`authfail/<hash>/<window>`), so every instance on every host shares it.

use std::net::{IpAddr, SocketAddr};

/// The window failures are counted in: one minute.
pub const WINDOW_MS: u64 = 60_000;

/// At most `failures` failed authentications per block in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub failures: u64,
}

/// Reads `auth_failure_limit`: failures per minute per client address block; empty means
/// the default of 20, `0` turns the limit off.
pub fn parse_limit(setting: &str) -> Result<Option<Limit>, String> {
    let failures = match setting.trim() {
        "" => 20,
        text => text.parse::<u64>().map_err(|_| {
            format!("auth_failure_limit is {text:?}; expected a number of failures per minute")
        })?,
    };
    Ok((failures > 0).then_some(Limit { failures }))
}

/// The block a client address (`ip:port`, as the runtime writes it) is counted in.
pub fn client_block(client_addr: &str) -> Option<String> {
    let ip = client_addr
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| client_addr.parse::<IpAddr>())
        .ok()?;
    Some(match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    })
}

/// The counter of `block`'s failures in the window that holds `now_ms`.
pub fn counter_key(hashing_key: &[u8], block: &str, now_ms: u64) -> String {
    let hash = crate::hashing::keyed_hash(hashing_key, format!("authfail:{block}").as_bytes());
    format!("authfail/{}/{}", &hash[..32], now_ms / WINDOW_MS)
}

/// Whether a block that failed `failures` times in this window is refused; if so, after
/// how many milliseconds it may try again (the window's end).
pub fn refusal(failures: i64, limit: Limit, now_ms: u64) -> Option<u64> {
    (failures >= limit.failures as i64).then(|| WINDOW_MS - now_ms % WINDOW_MS)
}

/// Whether a counter key ([`counter_key`]) is past use at `now_ms`: its window is over.
/// Keys of another shape are kept.
pub fn counter_past_use(key: &str, now_ms: u64) -> bool {
    key.rsplit('/')
        .next()
        .and_then(|w| w.parse::<u64>().ok())
        .is_some_and(|window| (window + 1) * WINDOW_MS <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_failures_per_minute_with_a_default_and_an_off() {
        assert_eq!(parse_limit("").unwrap(), Some(Limit { failures: 20 }));
        assert_eq!(parse_limit(" 5 ").unwrap().unwrap().failures, 5);
        assert_eq!(parse_limit("0").unwrap(), None);
        assert!(parse_limit("-1").is_err());
        assert!(parse_limit("lots").is_err());
    }

    #[test]
    fn addresses_are_counted_by_host_or_by_ipv6_64() {
        assert_eq!(client_block("203.0.113.7:51234").unwrap(), "203.0.113.7");
        assert_eq!(client_block("203.0.113.7").unwrap(), "203.0.113.7");
        // An IPv4-mapped address is the IPv4 host, however the listener wrote it.
        assert_eq!(
            client_block("[::ffff:203.0.113.7]:80").unwrap(),
            "203.0.113.7"
        );
        let a = client_block("[2001:db8:1:2:aaaa::1]:443").unwrap();
        let b = client_block("[2001:db8:1:2:ffff::9]:443").unwrap();
        assert_eq!(a, b, "one /64 is one client");
        assert_ne!(a, client_block("[2001:db8:1:3::1]:443").unwrap());
        assert_eq!(client_block("not an address"), None);
        assert_eq!(client_block(""), None);
    }

    #[test]
    fn the_counter_is_per_block_and_window_and_hides_the_address() {
        let key = counter_key(b"k", "203.0.113.7", 125_000);
        assert!(key.starts_with("authfail/") && key.ends_with("/2"), "{key}");
        assert!(!key.contains("203.0"));
        assert_ne!(key, counter_key(b"k", "203.0.113.8", 125_000));
        assert_ne!(key, counter_key(b"k", "203.0.113.7", 185_000));
    }

    #[test]
    fn a_counter_is_past_use_once_its_minute_is_over() {
        let key = counter_key(b"k", "203.0.113.7", 125_000);
        assert!(!counter_past_use(&key, 179_999));
        assert!(counter_past_use(&key, 180_000));
        assert!(!counter_past_use("authfail/garbage", u64::MAX));
    }

    #[test]
    fn the_limit_refuses_until_the_window_ends() {
        let limit = Limit { failures: 3 };
        assert_eq!(refusal(2, limit, 125_000), None);
        assert_eq!(refusal(3, limit, 125_000), Some(55_000));
        assert_eq!(refusal(40, limit, 179_999), Some(1));
    }
}
