//! Which addresses the link checker may connect to: the SSRF guard. A mail's links are written by
//! whoever sent it, so by default nothing on this host, the local network or a cloud metadata
//! service is reachable through them. A name is resolved once, every address it resolves to is
//! vetted, and only vetted addresses are handed to the connector, so a name that changes its
//! answer between the check and the connect (DNS rebinding) cannot slip through.
//!
//! The classification ([`internal_range`]) is pure; the resolver is a trait so tests give names
//! whatever addresses they like without sending a packet.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;

/// A name lookup in flight.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Turns a host name into addresses. The system one asks the OS; tests inject their own.
pub trait Resolver: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Lookup;
}

/// The OS resolver (`getaddrinfo`, run off the async workers by tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_string();
        Box::pin(async move {
            // The port is irrelevant: only the addresses are used.
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The host is, or resolves to, an address in a range links may not reach.
    Internal {
        host: String,
        ip: IpAddr,
        range: &'static str,
    },
    /// The name resolves to no address at all.
    NoAddress { host: String },
    /// The lookup failed (no such host, resolver unreachable).
    Lookup { host: String, error: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Internal { host, ip, range } => {
                write!(f, "blocked request to {host} ({ip}): {range}")
            }
            Refusal::NoAddress { host } => write!(f, "{host}: no address"),
            Refusal::Lookup { host, error } => write!(f, "{host}: {error}"),
        }
    }
}

impl std::error::Error for Refusal {}

/// A resolver for reqwest that hands the connector only addresses the policy allows (IP literals
/// never reach a resolver: vet them with [`AddressPolicy::check_ip`]). Every HTTP client that
/// goes where mail or a setting says uses it: the link check, the webhooks.
pub struct Vetting {
    policy: AddressPolicy,
    resolver: Arc<dyn Resolver>,
}

impl Vetting {
    pub fn new(policy: AddressPolicy, resolver: Arc<dyn Resolver>) -> Vetting {
        Vetting { policy, resolver }
    }
}

impl reqwest::dns::Resolve for Vetting {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let resolver = Arc::clone(&self.resolver);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = policy.vet(&host, &resolver).await?;
            // Port 0: the connector puts in the URL's port.
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| std::net::SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Classifies an address: `None` for a public one, else the name of its range.
pub type Classifier = fn(IpAddr) -> Option<&'static str>;

/// The address policy: refuse internal addresses unless `--allow-internal-http-requests`.
#[derive(Clone)]
pub struct AddressPolicy {
    allow_internal: bool,
    classify: Classifier,
}

impl fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressPolicy")
            .field("allow_internal", &self.allow_internal)
            .finish_non_exhaustive()
    }
}

impl Default for AddressPolicy {
    fn default() -> Self {
        AddressPolicy::new(false)
    }
}

impl AddressPolicy {
    /// The standard policy; `allow_internal` turns the guard off.
    pub fn new(allow_internal: bool) -> AddressPolicy {
        AddressPolicy::with_classifier(allow_internal, internal_range)
    }

    /// A policy with another idea of what is internal (tests make one loopback address stand for
    /// a public server, to prove that a redirect from it to another one is refused).
    pub fn with_classifier(allow_internal: bool, classify: Classifier) -> AddressPolicy {
        AddressPolicy {
            allow_internal,
            classify,
        }
    }

    pub fn allows_internal(&self) -> bool {
        self.allow_internal
    }

    /// Refuses `ip` (named `host`) when it is internal and internal requests are not allowed.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Refusal> {
        if self.allow_internal {
            return Ok(());
        }
        match (self.classify)(ip) {
            None => Ok(()),
            Some(range) => Err(Refusal::Internal {
                host: host.to_string(),
                ip,
                range,
            }),
        }
    }

    /// Resolves `host` with `resolver` and vets every address: one internal address refuses the
    /// whole name (which one the connector would pick is not ours to guess). The addresses
    /// returned are the only ones a connection may use.
    pub async fn vet(
        &self,
        host: &str,
        resolver: &Arc<dyn Resolver>,
    ) -> Result<Vec<IpAddr>, Refusal> {
        // An IP literal needs no lookup (and must not get one).
        if let Some(ip) = ip_literal(host) {
            self.check_ip(host, ip)?;
            return Ok(vec![ip]);
        }
        let addrs = resolver.lookup(host).await.map_err(|e| Refusal::Lookup {
            host: host.to_string(),
            error: e.to_string(),
        })?;
        if addrs.is_empty() {
            return Err(Refusal::NoAddress {
                host: host.to_string(),
            });
        }
        for ip in &addrs {
            self.check_ip(host, *ip)?;
        }
        Ok(addrs)
    }
}

/// `host` as an address when it is one (IPv6 with or without brackets).
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// IPv4 ranges links may not reach: (network, prefix length, name).
const V4_RANGES: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\" (0.0.0.0/8)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private (10.0.0.0/8)"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared CGNAT (100.64.0.0/10)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback (127.0.0.0/8)"),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link-local and cloud metadata (169.254.0.0/16)",
    ),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private (172.16.0.0/12)"),
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "IETF protocol assignments (192.0.0.0/24)",
    ),
    (
        Ipv4Addr::new(192, 0, 2, 0),
        24,
        "documentation (192.0.2.0/24)",
    ),
    (
        Ipv4Addr::new(192, 168, 0, 0),
        16,
        "private (192.168.0.0/16)",
    ),
    (
        Ipv4Addr::new(198, 18, 0, 0),
        15,
        "benchmarking (198.18.0.0/15)",
    ),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "documentation (198.51.100.0/24)",
    ),
    (
        Ipv4Addr::new(203, 0, 113, 0),
        24,
        "documentation (203.0.113.0/24)",
    ),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast (224.0.0.0/4)"),
    // Reserved for future use, and the broadcast address at its end.
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved (240.0.0.0/4)"),
];

/// IPv6 ranges links may not reach. Forms that carry an IPv4 address are decoded first
/// ([`embedded_v4`]) and judged by it.
const V6_RANGES: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified (::)"),
    (Ipv6Addr::LOCALHOST, 128, "loopback (::1)"),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "discard-only (100::/64)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation (2001:db8::/32)",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "unique local (fc00::/7)",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "link-local (fe80::/10)",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "site-local (fec0::/10)",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "multicast (ff00::/8)",
    ),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 address an IPv6 transition form carries: IPv4-mapped (`::ffff:a.b.c.d`, what a
/// dual-stack socket would really connect to), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002::/16`), Teredo (`2001::/32`, inverted) and
/// ISATAP (`…:0:5efe:a.b.c.d`). Without decoding them, `[::ffff:10.0.0.1]` would pass as
/// "public IPv6".
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let net = |a: u16, b: u16, len: u8| in_v6(ip, Ipv6Addr::new(a, b, 0, 0, 0, 0, 0, 0), len);
    if in_v6(ip, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96) {
        return Some(last);
    }
    // `::` and `::1` are themselves, not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1.
    if net(0, 0, 96) && u128::from(ip) > 1 {
        return Some(last);
    }
    if net(0x64, 0xff9b, 96) || in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48) {
        return Some(last);
    }
    if net(0x2002, 0, 16) {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if net(0x2001, 0, 32) {
        return Some(Ipv4Addr::from(!u32::from(last)));
    }
    if matches!(o[8], 0x00 | 0x02) && o[9] == 0 && o[10] == 0x5e && o[11] == 0xfe {
        return Some(last);
    }
    None
}

/// `None` when `ip` is a public address; otherwise the name of the range it is in.
pub fn internal_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => V4_RANGES
            .iter()
            .find(|(net, len, _)| in_v4(v4, *net, *len))
            .map(|(_, _, name)| *name),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return internal_range(IpAddr::V4(v4));
            }
            V6_RANGES
                .iter()
                .find(|(net, len, _)| in_v6(v6, *net, *len))
                .map(|(_, _, name)| *name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Answers from a table and records every name asked; never touches the network.
    #[derive(Default)]
    struct Table {
        answers: HashMap<&'static str, Vec<IpAddr>>,
        asked: Mutex<Vec<String>>,
    }

    impl Resolver for Table {
        fn lookup(&self, host: &str) -> Lookup {
            if let Ok(mut asked) = self.asked.lock() {
                asked.push(host.to_string());
            }
            let answer =
                self.answers.get(host).cloned().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no such host".to_string())
                });
            Box::pin(async move { answer })
        }
    }

    fn ip(s: &str) -> IpAddr {
        match s.parse() {
            Ok(ip) => ip,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn internal_ranges_are_recognised() {
        for s in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "100.100.100.200",
            "192.0.0.170",
            "192.0.2.5",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd00:ec2::254",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            // Teredo carries the IPv4 inverted: !10.0.0.1 = f5ff:fffe.
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            "fe80::5efe:a00:1",
            "2001:470::200:5efe:c0a8:101",
        ] {
            assert!(
                internal_range(ip(s)).is_some(),
                "{s} must be refused as internal"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "192.169.0.1",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert_eq!(internal_range(ip(s)), None, "{s} is public");
        }
        assert_eq!(
            internal_range(ip("169.254.169.254")),
            Some("link-local and cloud metadata (169.254.0.0/16)")
        );
        assert_eq!(
            internal_range(ip("::ffff:10.0.0.1")),
            Some("private (10.0.0.0/8)"),
            "a mapped address is judged by its IPv4"
        );
    }

    #[tokio::test]
    async fn names_resolving_to_internal_addresses_are_refused() {
        let table = Arc::new(Table {
            answers: HashMap::from([
                ("public.test", vec![ip("93.184.216.34")]),
                ("metadata.test", vec![ip("169.254.169.254")]),
                ("private.test", vec![ip("10.1.2.3")]),
                ("mapped.test", vec![ip("::ffff:192.168.0.1")]),
                ("ula.test", vec![ip("fd12:3456::1")]),
                // One bad address among good ones refuses the name: the connector might pick it.
                ("mixed.test", vec![ip("93.184.216.34"), ip("127.0.0.1")]),
                ("empty.test", vec![]),
            ]),
            ..Table::default()
        });
        let resolver: Arc<dyn Resolver> = table.clone();
        let policy = AddressPolicy::default();
        assert_eq!(
            policy.vet("public.test", &resolver).await,
            Ok(vec![ip("93.184.216.34")])
        );
        for host in [
            "metadata.test",
            "private.test",
            "mapped.test",
            "ula.test",
            "mixed.test",
        ] {
            let refusal = policy.vet(host, &resolver).await;
            assert!(
                matches!(refusal, Err(Refusal::Internal { .. })),
                "{host}: {refusal:?}"
            );
        }
        assert!(matches!(
            policy.vet("empty.test", &resolver).await,
            Err(Refusal::NoAddress { .. })
        ));
        assert!(matches!(
            policy.vet("unknown.test", &resolver).await,
            Err(Refusal::Lookup { .. })
        ));
        // Literals are judged as they are, without a lookup.
        for literal in ["127.0.0.1", "[::1]", "::1", "10.0.0.1", "[::ffff:10.0.0.1]"] {
            assert!(
                matches!(
                    policy.vet(literal, &resolver).await,
                    Err(Refusal::Internal { .. })
                ),
                "{literal}"
            );
        }
        assert_eq!(
            policy.vet("[2606:4700::1]", &resolver).await,
            Ok(vec![ip("2606:4700::1")])
        );
        let asked = table.asked.lock().map(|a| a.clone()).unwrap_or_default();
        assert!(
            !asked
                .iter()
                .any(|h| h.contains(':') || h.starts_with(char::is_numeric)),
            "literals were looked up: {asked:?}"
        );

        // With the guard off, everything resolvable passes.
        let open = AddressPolicy::new(true);
        assert_eq!(
            open.vet("metadata.test", &resolver).await,
            Ok(vec![ip("169.254.169.254")])
        );
        assert!(open.check_ip("x", ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn refusals_say_what_and_why() {
        let refusal = AddressPolicy::default()
            .check_ip("metadata.test", ip("169.254.169.254"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            refusal.as_deref(),
            Some(
                "blocked request to metadata.test (169.254.169.254): link-local and cloud metadata (169.254.0.0/16)"
            )
        );
    }
}
