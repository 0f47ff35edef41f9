//! SSRF policy: which IP addresses outbound deliveries may connect to.
//!
//! Owns the address classification only; it does no I/O. The client applies it to every
//! address DNS returns (and to IP-literal URL hosts before sending), so the connection
//! always goes to an address that was checked.
//!
//! Addresses that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are
//! judged by the embedded address, so `::ffff:127.0.0.1` is as blocked as `127.0.0.1`.

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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "destination address {} is not allowed (SSRF protection)",
            self.addr
        )
    }
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
            "destination address 10.0.0.1 is not allowed (SSRF protection)"
        );
    }
}
