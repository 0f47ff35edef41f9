//! SSRF policy: which IP addresses outbound deliveries may connect to.
//!
//! Owns the address classification only; it does no I/O. The client applies it to every
//! address DNS returns (and to IP-literal URL hosts before sending), so the connection
//! always goes to an address that was checked.
//!
//! Addresses that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are
//! judged by the embedded address, so `::ffff:127.0.0.1` is as blocked as `127.0.0.1`.
//!
//! It also names the networks `allowed_networks` accepts as words (`loopback`, `private`),
//! and judges URL hosts known without DNS (literals, `localhost`) so the API can warn when
//! an endpoint will be refused.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The refusal of an address, recognisable in an error's source chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsrfBlocked {
    /// The refused address (as resolved or as written in the URL).
    pub addr: IpAddr,
}

impl fmt::Display for SsrfBlocked {
    /// Names the address and the setting that would allow it, with the narrowest value
    /// that does: a named network for loopback and private addresses, else the address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = self.addr;
        let within = |word: &str| {
            let nets = named_networks(word).expect("a name this module defines");
            let embedded = embedded_v4(addr).map(IpAddr::V4);
            nets.iter()
                .any(|n| n.contains(&addr) || embedded.is_some_and(|e| n.contains(&e)))
        };
        write!(
            f,
            "destination address {addr} is not allowed (SSRF protection); \
             allow it with HOOKD_ALLOWED_NETWORKS (e.g. HOOKD_ALLOWED_NETWORKS="
        )?;
        if within(LOOPBACK) {
            f.write_str(LOOPBACK)?;
        } else if within(PRIVATE) {
            f.write_str(PRIVATE)?;
        } else {
            write!(f, "{}", IpNet::from(addr))?;
        }
        f.write_str(")")
    }
}

/// `allowed_networks` word for `127.0.0.0/8` and `::1/128` together: `localhost` may
/// resolve to either, and a name is allowed only if every address it has is.
pub const LOOPBACK: &str = "loopback";
/// `allowed_networks` word for the private ranges: RFC 1918 and IPv6 unique-local.
pub const PRIVATE: &str = "private";

/// The networks an `allowed_networks` word stands for (`loopback`, `private`;
/// case-insensitive), or `None` if `word` names none.
pub fn named_networks(word: &str) -> Option<Vec<IpNet>> {
    let nets: &[&str] = if word.eq_ignore_ascii_case(LOOPBACK) {
        &["127.0.0.0/8", "::1/128"]
    } else if word.eq_ignore_ascii_case(PRIVATE) {
        &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    } else {
        return None;
    };
    Some(
        nets.iter()
            .map(|n| n.parse().expect("a valid CIDR literal"))
            .collect(),
    )
}

impl std::error::Error for SsrfBlocked {}

/// Refuses non-global addresses unless they fall inside an allowed network.
#[derive(Clone, Debug, Default)]
pub struct SsrfPolicy {
    /// Networks exempt from blocking (`HOOKD_ALLOWED_NETWORKS`).
    allowed: Vec<IpNet>,
}

impl SsrfPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// `Ok` if a connection to `addr` is allowed.
    pub fn check(&self, addr: IpAddr) -> Result<(), SsrfBlocked> {
        let embedded = embedded_v4(addr).map(IpAddr::V4);
        let allowed = |ip: IpAddr| self.allowed.iter().any(|net| net.contains(&ip));
        if allowed(addr) || embedded.is_some_and(allowed) {
            return Ok(());
        }
        let forbidden = match (addr, embedded) {
            (_, Some(IpAddr::V4(v4))) | (IpAddr::V4(v4), _) => forbidden_v4(v4),
            (IpAddr::V6(v6), _) => forbidden_v6(v6),
        };
        if forbidden {
            Err(SsrfBlocked { addr })
        } else {
            Ok(())
        }
    }
}

impl SsrfPolicy {
    /// Judges a URL host by the addresses it stands for without a DNS lookup: an IP
    /// literal, or `localhost` and its subdomains (always loopback, RFC 6761, so both
    /// `127.0.0.1` and `::1`). Other names are `Ok` here: they are judged at delivery,
    /// after resolution.
    pub fn check_host<S: AsRef<str>>(&self, host: &url::Host<S>) -> Result<(), SsrfBlocked> {
        let localhost = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        let addrs: &[IpAddr] = match host {
            url::Host::Ipv4(v4) => &[IpAddr::V4(*v4)],
            url::Host::Ipv6(v6) => &[IpAddr::V6(*v6)],
            url::Host::Domain(d) if is_localhost(d.as_ref()) => &localhost,
            url::Host::Domain(_) => &[],
        };
        addrs.iter().try_for_each(|a| self.check(*a))
    }
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The IPv4 address carried inside an IPv6 one, for the forms that route to it.
fn embedded_v4(addr: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = addr else { return None };
    let s = v6.segments();
    let o = v6.octets();
    let last32 = || Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match s {
        // IPv4-mapped ::ffff:a.b.c.d
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(last32()),
        // IPv4-compatible ::a.b.c.d (deprecated); `::` and `::1` are IPv6's own.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(last32()),
        // NAT64 well-known prefix 64:ff9b::/96
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last32()),
        // 6to4 2002:a.b.c.d::/48
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network"
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 168) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Only global unicast (2000::/3) is reachable on the Internet; this covers `::`, `::1`,
    // unique-local fc00::/7, link-local fe80::/10, multicast ff00::/8, discard 100::/64,
    // and the local-use NAT64 prefix 64:ff9b:1::/48.
    if s[0] & 0xe000 != 0x2000 {
        return true;
    }
    // 2001:db8::/32 documentation; 2001::/23 IETF protocol assignments (Teredo, ORCHID).
    let special_2001 = s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] < 0x0200);
    // 3fff::/20 documentation.
    special_2001 || (s[0] & 0xfff0) == 0x3ff0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> SsrfPolicy {
        SsrfPolicy::new(allowed.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn classifies_address_forms() {
        let cases: &[(&str, bool)] = &[
            // (address, allowed by the default policy)
            ("93.184.216.34", true),
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("172.15.255.255", true),
            ("172.32.0.1", true),
            ("100.63.255.255", true),
            ("100.128.0.1", true),
            ("198.17.255.255", true),
            ("223.255.255.255", true),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("10.0.0.1", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("169.254.0.1", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("255.255.255.255", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("192.0.2.1", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("192.0.0.8", false),
            ("192.88.99.1", false),
            ("2606:4700:4700::1111", true),
            ("2001:4860:4860::8888", true),
            ("::1", false),
            ("::", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("febf::1", false),
            ("ff02::1", false),
            ("ff0e::1", false),
            ("2001:db8::1", false),
            ("2001:0:4136:e378::1", false),
            ("3fff::1", false),
            ("100::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::ffff:10.1.2.3", false),
            ("::ffff:8.8.8.8", true),
            ("::127.0.0.1", false),
            ("::10.0.0.1", false),
            ("::8.8.8.8", true),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a9fe:a9fe", false),
            ("64:ff9b::808:808", true),
            ("64:ff9b:1::1", false),
            ("2002:7f00:1::1", false),
            ("2002:c0a8:101::1", false),
            ("2002:808:808::1", true),
        ];
        let p = SsrfPolicy::default();
        for (addr, want) in cases {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(p.check(ip).is_ok(), *want, "{addr}");
        }
    }

    #[test]
    fn allow_list_exempts_networks_and_their_embedded_forms() {
        let p = policy(&["127.0.0.0/8", "10.1.0.0/16", "fd00::/8"]);
        for ok in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "::ffff:127.0.0.1",
            "fd00::5",
        ] {
            assert!(p.check(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for blocked in [
            "10.2.0.1",
            "169.254.169.254",
            "::1",
            "fc00::1",
            "192.168.0.1",
        ] {
            assert!(p.check(blocked.parse().unwrap()).is_err(), "{blocked}");
        }
        let v6 = policy(&["::1/128"]);
        assert!(v6.check("::1".parse().unwrap()).is_ok());
        assert!(v6.check("127.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn refusal_message_names_the_address_and_the_reason() {
        let err = SsrfPolicy::default()
            .check("10.0.0.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination address 10.0.0.1 is not allowed (SSRF protection); allow it with \
             HOOKD_ALLOWED_NETWORKS (e.g. HOOKD_ALLOWED_NETWORKS=private)"
        );
    }

    #[test]
    fn refusal_message_suggests_the_narrowest_value_that_allows_the_address() {
        let suggestion = |addr: &str| {
            let err = SsrfPolicy::default()
                .check(addr.parse().unwrap())
                .unwrap_err()
                .to_string();
            let (_, rest) = err.split_once("HOOKD_ALLOWED_NETWORKS=").unwrap();
            rest.trim_end_matches(')').to_owned()
        };
        assert_eq!(suggestion("127.0.0.1"), "loopback");
        assert_eq!(suggestion("::1"), "loopback");
        assert_eq!(suggestion("::ffff:127.0.0.1"), "loopback");
        assert_eq!(suggestion("192.168.1.1"), "private");
        assert_eq!(suggestion("fd12::1"), "private");
        assert_eq!(suggestion("169.254.169.254"), "169.254.169.254/32");
        assert_eq!(suggestion("fe80::1"), "fe80::1/128");
        // Each suggestion, given to the policy, allows the address it was made for.
        for addr in ["127.0.0.1", "::1", "10.1.2.3", "fd12::1", "169.254.169.254"] {
            let nets = named_networks(&suggestion(addr))
                .unwrap_or_else(|| vec![suggestion(addr).parse().unwrap()]);
            assert!(
                SsrfPolicy::new(nets).check(addr.parse().unwrap()).is_ok(),
                "{addr}"
            );
        }
    }

    #[test]
    fn named_networks_cover_loopback_and_private_ranges() {
        let loopback = SsrfPolicy::new(named_networks("Loopback").unwrap());
        for ok in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(loopback.check(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for blocked in ["10.0.0.1", "fd00::1", "169.254.169.254"] {
            assert!(
                loopback.check(blocked.parse().unwrap()).is_err(),
                "{blocked}"
            );
        }
        let private = SsrfPolicy::new(named_networks("private").unwrap());
        for ok in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "fd00::1",
        ] {
            assert!(private.check(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for blocked in [
            "127.0.0.1",
            "::1",
            "169.254.169.254",
            "100.64.0.1",
            "fe80::1",
        ] {
            assert!(
                private.check(blocked.parse().unwrap()).is_err(),
                "{blocked}"
            );
        }
        assert!(named_networks("127.0.0.0/8").is_none());
        assert!(named_networks("").is_none());
    }

    #[test]
    fn hosts_known_without_dns_are_judged_and_other_names_wait_for_delivery() {
        let host = |h: &str| url::Host::parse(h).unwrap();
        let none = SsrfPolicy::default();
        for refused in [
            "127.0.0.1",
            "[::1]",
            "10.0.0.1",
            "localhost",
            "LocalHost.",
            "a.localhost",
        ] {
            assert!(none.check_host(&host(refused)).is_err(), "{refused}");
        }
        for open in ["8.8.8.8", "example.com", "localhost.example.com"] {
            assert!(none.check_host(&host(open)).is_ok(), "{open}");
        }
        // `localhost` is both 127.0.0.1 and ::1: allowing one leaves it refused.
        let v4_only = policy(&["127.0.0.0/8"]);
        let err = v4_only.check_host(&host("localhost")).unwrap_err();
        assert_eq!(err.addr, "::1".parse::<IpAddr>().unwrap());
        let loopback = SsrfPolicy::new(named_networks("loopback").unwrap());
        assert!(loopback.check_host(&host("localhost")).is_ok());
    }
}
