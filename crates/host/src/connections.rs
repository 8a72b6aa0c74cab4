//! Open connections, counted in total and per client address. A connection costs a task,
//! a socket and buffers even while it sends nothing, so an attacker who opens thousands
//! and keeps them idle would exhaust file descriptors and memory long before any request
//! turn. Past either cap a new connection is answered 503 and closed; the caps are wide
//! enough for a burst of legitimate callers (a batch job behind one NAT address).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The caps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once, from everyone.
    pub total: usize,
    /// Connections open at once from one client (an IPv4 host or an IPv6 /64).
    pub per_client: usize,
}

/// Which cap refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerClient,
}

/// Whom a connection is counted against: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber's network: a client there can use any of 2^64 addresses). IPv4-mapped IPv6
/// counts as its IPv4 address. The same blocks as the failed-authentication limit.
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// The counts of open connections, shared by the accept loop and every connection task.
#[derive(Clone)]
pub struct Gate {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

/// An admitted connection; dropping it (when the connection ends) frees its place.
pub struct Admitted {
    client: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl Gate {
    pub fn new(limits: Limits) -> Gate {
        Gate {
            limits,
            counts: Arc::default(),
        }
    }

    /// Admits a connection from `peer`, or says which cap it would pass.
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refusal> {
        let client = client_of(peer);
        let mut counts = self
            .counts
            .lock()
            .expect("connection counts are never poisoned");
        if counts.total >= self.limits.total {
            return Err(Refusal::Total);
        }
        let of_client = counts.by_client.entry(client).or_insert(0);
        if *of_client >= self.limits.per_client {
            return Err(Refusal::PerClient);
        }
        *of_client += 1;
        counts.total += 1;
        Ok(Admitted {
            client,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .lock()
            .expect("connection counts are never poisoned");
        counts.total -= 1;
        if let Some(n) = counts.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_client_has_its_own_cap_and_everyone_shares_the_total() {
        let gate = Gate::new(Limits {
            total: 3,
            per_client: 2,
        });
        let a1 = gate.admit(ip("10.0.0.1")).unwrap();
        let _a2 = gate.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(gate.admit(ip("10.0.0.1")).err(), Some(Refusal::PerClient));
        let _b1 = gate.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(gate.admit(ip("10.0.0.3")).err(), Some(Refusal::Total));
        drop(a1);
        gate.admit(ip("10.0.0.1"))
            .expect("a closed connection frees its place");
    }

    #[test]
    fn an_ipv6_network_is_one_client_and_mapped_ipv4_is_its_ipv4_address() {
        let gate = Gate::new(Limits {
            total: 10,
            per_client: 1,
        });
        let _a = gate.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            gate.admit(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Refusal::PerClient)
        );
        gate.admit(ip("2001:db8:1:3::1")).expect("another /64");
        let _v4 = gate.admit(ip("192.0.2.7")).unwrap();
        assert_eq!(
            gate.admit(ip("::ffff:192.0.2.7")).err(),
            Some(Refusal::PerClient)
        );
    }
}
