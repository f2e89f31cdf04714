//! Addresses and ranges: `IpAddr`, `Cidr`, `IpRange`, the u128 IP math behind them, and the
//! sort-and-sweep overlap search used by the checklist.
//!
//! Both families are mapped onto `u128` (IPv4 as its 32-bit value), always together with the
//! family, so an IPv4 range never "overlaps" the IPv4-sized start of the IPv6 space.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, serde_via_str};

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    Ipv4,
    Ipv6,
}

impl IpFamily {
    pub fn bits(self) -> u8 {
        match self {
            Self::Ipv4 => 32,
            Self::Ipv6 => 128,
        }
    }

    /// The highest address of the family as u128.
    pub fn max_u128(self) -> u128 {
        match self {
            Self::Ipv4 => u128::from(u32::MAX),
            Self::Ipv6 => u128::MAX,
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "IPv4",
            Self::Ipv6 => "IPv6",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// IpAddr

/// An IPv4 or IPv6 address (wraps `std::net::IpAddr`; parsed with a helpful error and
/// serialised as its string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpAddr(std::net::IpAddr);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpAddrError {
    #[error("an IP address is required")]
    Empty,
    #[error("`{input}` is a network, not a single address; drop the `/{prefix}`")]
    IsCidr { input: String, prefix: String },
    #[error("`{input}` is not an IP address; write IPv4 like 192.168.1.10 or IPv6 like 2001:db8::10")]
    Invalid { input: String },
}

impl ErrorCode for IpAddrError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_ip",
        }
    }
}

impl IpAddr {
    pub fn parse(input: &str) -> Result<Self, IpAddrError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(IpAddrError::Empty);
        }
        if let Some((addr, prefix)) = s.split_once('/')
            && addr.parse::<std::net::IpAddr>().is_ok()
        {
            return Err(IpAddrError::IsCidr { input: s.to_owned(), prefix: prefix.to_owned() });
        }
        s.parse::<std::net::IpAddr>().map(Self).map_err(|_| IpAddrError::Invalid { input: s.to_owned() })
    }

    /// The address with the given u128 value in `family`; `None` when the value does not fit.
    pub fn from_u128(family: IpFamily, value: u128) -> Option<Self> {
        match family {
            IpFamily::Ipv4 => u32::try_from(value).ok().map(|v| Self(Ipv4Addr::from(v).into())),
            IpFamily::Ipv6 => Some(Self(Ipv6Addr::from(value).into())),
        }
    }

    pub fn to_u128(self) -> u128 {
        match self.0 {
            std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
            std::net::IpAddr::V6(a) => u128::from(a),
        }
    }

    pub fn family(self) -> IpFamily {
        match self.0 {
            std::net::IpAddr::V4(_) => IpFamily::Ipv4,
            std::net::IpAddr::V6(_) => IpFamily::Ipv6,
        }
    }

    pub fn is_ipv4(self) -> bool {
        self.0.is_ipv4()
    }

    pub fn is_ipv6(self) -> bool {
        self.0.is_ipv6()
    }

    pub fn as_std(self) -> std::net::IpAddr {
        self.0
    }

    /// The next address, or `None` past the end of the family.
    pub fn next(self) -> Option<Self> {
        let v = self.to_u128();
        if v == self.family().max_u128() { None } else { Self::from_u128(self.family(), v + 1) }
    }
}

impl From<std::net::IpAddr> for IpAddr {
    fn from(a: std::net::IpAddr) -> Self {
        Self(a)
    }
}

impl From<Ipv4Addr> for IpAddr {
    fn from(a: Ipv4Addr) -> Self {
        Self(a.into())
    }
}

impl From<Ipv6Addr> for IpAddr {
    fn from(a: Ipv6Addr) -> Self {
        Self(a.into())
    }
}

impl From<IpAddr> for std::net::IpAddr {
    fn from(a: IpAddr) -> Self {
        a.0
    }
}

impl FromStr for IpAddr {
    type Err = IpAddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

serde_via_str!(IpAddr);

/// Mask of the host part of a prefix: the low `bits - prefix` bits set.
fn host_mask(family: IpFamily, prefix: u8) -> u128 {
    let host_bits = u32::from(family.bits() - prefix);
    if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 }
}

/// Number of addresses in `first..=last`, saturating at `u128::MAX` for the whole IPv6 space.
fn span_size(first: u128, last: u128) -> u128 {
    (last - first).saturating_add(1)
}

// ---------------------------------------------------------------------------------------------
// Cidr

/// A network in CIDR notation (`192.168.101.0/24`, `fd00:10::/64`). Host bits are never set:
/// `192.168.1.5/24` is rejected with the suggestion `192.168.1.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("a network in CIDR notation is required, like 10.10.0.0/16")]
    Empty,
    #[error("`{input}` has no prefix length; write it as a network like `{suggestion}`")]
    MissingPrefix { input: String, suggestion: String },
    #[error("`{input}`: `{address}` is not an IP address; write a network like 10.10.0.0/16")]
    InvalidAddress { input: String, address: String },
    #[error("`{input}`: the prefix length must be a number from 0 to {max} for {family}")]
    InvalidPrefix { input: String, max: u8, family: IpFamily },
    #[error("{input} has host bits set; did you mean {network}?")]
    HostBitsSet { input: String, network: Cidr },
}

impl ErrorCode for CidrError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_cidr",
        }
    }
}

impl Cidr {
    pub fn parse(input: &str) -> Result<Self, CidrError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(CidrError::Empty);
        }
        let Some((addr, prefix)) = s.split_once('/') else {
            return Err(match s.parse::<std::net::IpAddr>() {
                Ok(a) => CidrError::MissingPrefix {
                    input: s.to_owned(),
                    suggestion: format!("{a}/{}", IpAddr(a).family().bits()),
                },
                Err(_) => CidrError::InvalidAddress { input: s.to_owned(), address: s.to_owned() },
            });
        };
        let address: IpAddr = addr
            .parse::<std::net::IpAddr>()
            .map(IpAddr)
            .map_err(|_| CidrError::InvalidAddress { input: s.to_owned(), address: addr.to_owned() })?;
        let family = address.family();
        let prefix_len = (!prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit()))
            .then(|| prefix.parse::<u8>().ok())
            .flatten()
            .filter(|p| *p <= family.bits())
            .ok_or_else(|| CidrError::InvalidPrefix { input: s.to_owned(), max: family.bits(), family })?;
        let network = Self::containing(address, prefix_len).unwrap_or(Self { network: address, prefix: prefix_len });
        if network.network != address {
            return Err(CidrError::HostBitsSet { input: s.to_owned(), network });
        }
        Ok(network)
    }

    /// The network of `address` with no host bits: `new(192.168.1.0, 24)`; errors when host
    /// bits are set or the prefix is too long for the family.
    pub fn new(address: IpAddr, prefix_len: u8) -> Result<Self, CidrError> {
        let input = format!("{address}/{prefix_len}");
        let family = address.family();
        let network = Self::containing(address, prefix_len).ok_or_else(|| CidrError::InvalidPrefix {
            input: input.clone(),
            max: family.bits(),
            family,
        })?;
        if network.network != address {
            return Err(CidrError::HostBitsSet { input, network });
        }
        Ok(network)
    }

    /// The network of the given length that contains `address` (host bits cleared).
    pub fn containing(address: IpAddr, prefix_len: u8) -> Option<Self> {
        let family = address.family();
        if prefix_len > family.bits() {
            return None;
        }
        let first = address.to_u128() & !host_mask(family, prefix_len);
        let network = IpAddr::from_u128(family, first)?;
        Some(Self { network, prefix: prefix_len })
    }

    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The last address of the network (the broadcast address for IPv4).
    pub fn broadcast(&self) -> IpAddr {
        self.last()
    }

    pub fn last(&self) -> IpAddr {
        IpAddr::from_u128(self.family(), self.last_u128()).unwrap_or(self.network)
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    pub fn family(&self) -> IpFamily {
        self.network.family()
    }

    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    pub fn first_u128(&self) -> u128 {
        self.network.to_u128()
    }

    pub fn last_u128(&self) -> u128 {
        self.first_u128() | host_mask(self.family(), self.prefix)
    }

    /// Number of addresses; saturates at `u128::MAX` for `::/0`.
    pub fn size(&self) -> u128 {
        span_size(self.first_u128(), self.last_u128())
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        address.family() == self.family() && (self.first_u128()..=self.last_u128()).contains(&address.to_u128())
    }

    /// Whether `other` lies wholly inside this network.
    pub fn contains_span(&self, family: IpFamily, first: u128, last: u128) -> bool {
        family == self.family() && self.first_u128() <= first && last <= self.last_u128()
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.family() == other.family()
            && self.first_u128() <= other.last_u128()
            && other.first_u128() <= self.last_u128()
    }

    /// This network as a sweep span owned by `owner`.
    pub fn span<O>(&self, owner: O) -> Span<O> {
        Span { family: self.family(), start: self.first_u128(), end: self.last_u128(), owner }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

serde_via_str!(Cidr);

// ---------------------------------------------------------------------------------------------
// IpRange

/// An inclusive range of addresses `start`–`stop` of one family, `start ≤ stop`. Parsed from
/// `"a-b"` or from two parts; serialised as `{"start": …, "stop": …}` (the shape of a
/// CiliumLoadBalancerIPPool block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "IpRangeParts")]
pub struct IpRange {
    start: IpAddr,
    stop: IpAddr,
}

/// The raw two-part form of a range, as found in JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IpRangeParts {
    start: String,
    stop: String,
}

impl TryFrom<IpRangeParts> for IpRange {
    type Error = IpRangeError;
    fn try_from(p: IpRangeParts) -> Result<Self, Self::Error> {
        IpRange::from_parts(&p.start, &p.stop)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpRangeError {
    #[error("an address range is required, like 192.168.101.240-192.168.101.250")]
    Empty,
    #[error("`{input}` is not a range; write it as start-stop, like 192.168.101.240-192.168.101.250")]
    MissingDash { input: String },
    #[error("the range start `{input}` is not an IP address")]
    InvalidStart { input: String },
    #[error("the range stop `{input}` is not an IP address")]
    InvalidStop { input: String },
    #[error("{start}-{stop} mixes IPv4 and IPv6; both ends must be of the same family")]
    MixedFamilies { start: IpAddr, stop: IpAddr },
    #[error("{start}-{stop} ends before it starts; did you mean {stop}-{start}?")]
    Reversed { start: IpAddr, stop: IpAddr },
}

impl ErrorCode for IpRangeError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "required",
            _ => "invalid_ip_range",
        }
    }
}

impl IpRange {
    pub fn new(start: IpAddr, stop: IpAddr) -> Result<Self, IpRangeError> {
        if start.family() != stop.family() {
            return Err(IpRangeError::MixedFamilies { start, stop });
        }
        if start.to_u128() > stop.to_u128() {
            return Err(IpRangeError::Reversed { start, stop });
        }
        Ok(Self { start, stop })
    }

    pub fn from_parts(start: &str, stop: &str) -> Result<Self, IpRangeError> {
        let start = IpAddr::parse(start).map_err(|_| IpRangeError::InvalidStart { input: start.trim().to_owned() })?;
        let stop = IpAddr::parse(stop).map_err(|_| IpRangeError::InvalidStop { input: stop.trim().to_owned() })?;
        Self::new(start, stop)
    }

    /// Parses `start-stop`. IPv6 addresses contain no `-`, so the first dash splits.
    pub fn parse(input: &str) -> Result<Self, IpRangeError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(IpRangeError::Empty);
        }
        let Some((start, stop)) = s.split_once('-') else {
            return Err(IpRangeError::MissingDash { input: s.to_owned() });
        };
        Self::from_parts(start, stop)
    }

    pub fn start(&self) -> IpAddr {
        self.start
    }

    pub fn stop(&self) -> IpAddr {
        self.stop
    }

    pub fn family(&self) -> IpFamily {
        self.start.family()
    }

    pub fn is_ipv4(&self) -> bool {
        self.start.is_ipv4()
    }

    pub fn first_u128(&self) -> u128 {
        self.start.to_u128()
    }

    pub fn last_u128(&self) -> u128 {
        self.stop.to_u128()
    }

    /// Number of addresses; saturates at `u128::MAX` for the whole IPv6 space.
    pub fn size(&self) -> u128 {
        span_size(self.first_u128(), self.last_u128())
    }

    pub fn contains(&self, address: &IpAddr) -> bool {
        address.family() == self.family() && (self.first_u128()..=self.last_u128()).contains(&address.to_u128())
    }

    pub fn overlaps(&self, other: &IpRange) -> bool {
        self.family() == other.family()
            && self.first_u128() <= other.last_u128()
            && other.first_u128() <= self.last_u128()
    }

    pub fn span<O>(&self, owner: O) -> Span<O> {
        Span { family: self.family(), start: self.first_u128(), end: self.last_u128(), owner }
    }
}

impl From<Cidr> for IpRange {
    fn from(c: Cidr) -> Self {
        Self { start: c.network(), stop: c.last() }
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.stop)
    }
}

// ---------------------------------------------------------------------------------------------
// The sweep

/// One inclusive range `start..=end` of a family, as the sweep sees it, with the object that
/// owns it (a pool block, a pod CIDR, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span<O> {
    pub family: IpFamily,
    pub start: u128,
    pub end: u128,
    pub owner: O,
}

impl<O> Span<O> {
    pub fn overlaps<P>(&self, other: &Span<P>) -> bool {
        self.family == other.family && self.start <= other.end && other.start <= self.end
    }
}

/// Every pair of overlapping spans, as index pairs `(i, j)` with `i < j`, each pair once,
/// sorted. Sorts by (family, start) and sweeps with a min-heap of the open spans' ends, so
/// it costs O(n log n + k) for k overlapping pairs — never all pairs.
pub fn overlapping_pairs<O>(spans: &[Span<O>]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_unstable_by_key(|&i| (spans[i].family, spans[i].start));

    let mut pairs = Vec::new();
    // Open spans of the current family, smallest end on top.
    let mut open: BinaryHeap<Reverse<(u128, usize)>> = BinaryHeap::new();
    let mut family = None;
    for &i in &order {
        let span = &spans[i];
        if family != Some(span.family) {
            open.clear();
            family = Some(span.family);
        }
        while open.peek().is_some_and(|Reverse((end, _))| *end < span.start) {
            open.pop();
        }
        // Everything still open started at or before `span.start` and ends at or after it.
        pairs.extend(open.iter().map(|Reverse((_, j))| if *j < i { (*j, i) } else { (i, *j) }));
        open.push(Reverse((span.end, i)));
    }
    pairs.sort_unstable();
    pairs
}

/// The pairwise O(n²) answer to the same question as [`overlapping_pairs`]; kept as the
/// reference for the property test and the benchmark.
#[doc(hidden)]
pub fn naive_overlaps<O>(spans: &[Span<O>]) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for i in 0..spans.len() {
        for j in i + 1..spans.len() {
            if spans[i].overlaps(&spans[j]) {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "in tests a failed parse is a failed test")]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        IpAddr::parse(s).unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn ip_addresses_parse_with_helpful_errors() {
        assert_eq!(ip(" 192.168.101.11 ").to_string(), "192.168.101.11");
        assert_eq!(ip("2001:DB8::10").to_string(), "2001:db8::10");
        let err = IpAddr::parse("192.168.1.0/24").unwrap_err();
        assert_eq!(err.code(), "invalid_ip");
        assert!(err.to_string().contains("drop the `/24`"), "{err}");
        assert!(matches!(IpAddr::parse("192.168.1"), Err(IpAddrError::Invalid { .. })));
        assert_eq!(IpAddr::parse("").unwrap_err().code(), "required");
        assert_eq!(ip("10.0.0.1").to_u128(), 0x0a00_0001);
        assert_eq!(IpAddr::from_u128(IpFamily::Ipv4, 0x0a00_0001), Some(ip("10.0.0.1")));
        assert_eq!(IpAddr::from_u128(IpFamily::Ipv4, 1 << 40), None);
        assert_eq!(ip("10.0.0.255").next(), Some(ip("10.0.1.0")));
        assert_eq!(ip("255.255.255.255").next(), None);
        assert_eq!(serde_json::to_string(&ip("10.0.0.1")).unwrap(), r#""10.0.0.1""#);
    }

    #[test]
    fn cidr_with_host_bits_suggests_the_network() {
        let err = Cidr::parse("192.168.1.5/24").unwrap_err();
        assert_eq!(err.to_string(), "192.168.1.5/24 has host bits set; did you mean 192.168.1.0/24?");
        assert_eq!(err.code(), "invalid_cidr");
        let err = Cidr::parse("fd00:10::1/64").unwrap_err();
        assert_eq!(err.to_string(), "fd00:10::1/64 has host bits set; did you mean fd00:10::/64?");
        let err = Cidr::new(ip("10.0.0.1"), 8).unwrap_err();
        assert!(matches!(err, CidrError::HostBitsSet { .. }));
    }

    #[test]
    fn cidr_parse_errors() {
        let err = Cidr::parse("10.0.0.1").unwrap_err();
        assert!(err.to_string().contains("10.0.0.1/32"), "{err}");
        assert!(matches!(Cidr::parse("10.0.0.0/33"), Err(CidrError::InvalidPrefix { max: 32, .. })));
        assert!(matches!(Cidr::parse("::/129"), Err(CidrError::InvalidPrefix { max: 128, .. })));
        assert!(matches!(Cidr::parse("10.0.0.0/+8"), Err(CidrError::InvalidPrefix { .. })));
        assert!(matches!(Cidr::parse("10.0.0.0/"), Err(CidrError::InvalidPrefix { .. })));
        assert!(matches!(Cidr::parse("10.0.0/8"), Err(CidrError::InvalidAddress { .. })));
        assert_eq!(Cidr::parse(" ").unwrap_err().code(), "required");
    }

    #[test]
    fn cidr_math() {
        let c = cidr("192.168.101.0/24");
        assert_eq!(c.network(), ip("192.168.101.0"));
        assert_eq!(c.broadcast(), ip("192.168.101.255"));
        assert_eq!(c.prefix_len(), 24);
        assert_eq!(c.size(), 256);
        assert!(c.is_ipv4());
        assert!(c.contains(&ip("192.168.101.11")));
        assert!(!c.contains(&ip("192.168.102.1")));
        assert!(!c.contains(&ip("::ffff:192.168.101.11")), "families never mix");
        assert!(c.overlaps(&cidr("192.168.101.192/28")));
        assert!(c.overlaps(&cidr("192.168.0.0/16")));
        assert!(!c.overlaps(&cidr("192.168.102.0/24")));
        assert!(!cidr("0.0.0.0/0").overlaps(&cidr("::/0")));
        assert_eq!(cidr("10.0.0.0/32").size(), 1);
        assert_eq!(cidr("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(cidr("::/0").size(), u128::MAX, "saturates");
        assert_eq!(cidr("fd00::/64").size(), 1 << 64);
        assert_eq!(cidr("fd00::/64").last(), ip("fd00::ffff:ffff:ffff:ffff"));
        assert_eq!(Cidr::containing(ip("10.1.2.3"), 16), Some(cidr("10.1.0.0/16")));
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""192.168.101.0/24""#);
        assert!(serde_json::from_str::<Cidr>(r#""192.168.101.5/24""#).is_err());
    }

    #[test]
    fn ip_ranges() {
        let r = IpRange::parse("192.168.101.240-192.168.101.250").unwrap();
        assert_eq!(r.size(), 11);
        assert!(r.contains(&ip("192.168.101.240")) && r.contains(&ip("192.168.101.250")));
        assert!(!r.contains(&ip("192.168.101.251")));
        assert_eq!(r.to_string(), "192.168.101.240-192.168.101.250");
        assert!(r.overlaps(&IpRange::parse("192.168.101.250 - 192.168.101.255").unwrap()));
        assert!(!r.overlaps(&IpRange::parse("192.168.101.251-192.168.101.255").unwrap()));
        assert_eq!(IpRange::parse("fd00::1-fd00::ff").unwrap().size(), 255);

        let err = IpRange::parse("192.168.101.250-192.168.101.240").unwrap_err();
        assert!(err.to_string().contains("did you mean 192.168.101.240-192.168.101.250?"), "{err}");
        assert!(matches!(IpRange::parse("10.0.0.1-fd00::1"), Err(IpRangeError::MixedFamilies { .. })));
        assert!(matches!(IpRange::parse("10.0.0.1"), Err(IpRangeError::MissingDash { .. })));
        assert!(matches!(IpRange::parse("x-10.0.0.1"), Err(IpRangeError::InvalidStart { .. })));
        assert!(matches!(IpRange::from_parts("10.0.0.1", "y"), Err(IpRangeError::InvalidStop { .. })));

        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"start":"192.168.101.240","stop":"192.168.101.250"}"#);
        assert_eq!(serde_json::from_str::<IpRange>(&json).unwrap(), r);
        assert!(serde_json::from_str::<IpRange>(r#"{"start":"10.0.0.9","stop":"10.0.0.1"}"#).is_err());
        assert_eq!(IpRange::from(cidr("10.0.0.0/30")).to_string(), "10.0.0.0-10.0.0.3");
    }

    #[test]
    fn sweep_reports_each_overlapping_pair_once() {
        let spans = vec![
            cidr("10.0.0.0/8").span("a"),
            cidr("10.1.0.0/16").span("b"),
            cidr("10.1.2.0/24").span("c"),
            cidr("11.0.0.0/8").span("d"),
            cidr("::/0").span("e"),
            IpRange::parse("10.255.255.255-11.0.0.0").unwrap().span("f"),
        ];
        assert_eq!(overlapping_pairs(&spans), vec![(0, 1), (0, 2), (0, 5), (1, 2), (3, 5)]);
        assert_eq!(overlapping_pairs(&spans), naive_overlaps(&spans));
        assert!(overlapping_pairs::<()>(&[]).is_empty());
    }

    fn arb_family() -> impl Strategy<Value = IpFamily> {
        prop_oneof![Just(IpFamily::Ipv4), Just(IpFamily::Ipv6)]
    }

    /// Small address space so that random spans overlap often, touching ends included.
    fn arb_span() -> impl Strategy<Value = Span<()>> {
        (arb_family(), 0u128..200, 0u128..30).prop_map(|(family, start, len)| Span {
            family,
            start,
            end: start + len,
            owner: (),
        })
    }

    proptest! {
        #[test]
        fn sweep_equals_naive(spans in proptest::collection::vec(arb_span(), 0..80)) {
            prop_assert_eq!(overlapping_pairs(&spans), naive_overlaps(&spans));
        }

        #[test]
        fn cidr_round_trip(v4 in any::<u32>(), v6 in any::<u128>(), p4 in 0u8..=32, p6 in 0u8..=128) {
            for c in [Cidr::containing(IpAddr::from(Ipv4Addr::from(v4)), p4), Cidr::containing(IpAddr::from(Ipv6Addr::from(v6)), p6)] {
                let c = c.unwrap();
                prop_assert_eq!(Cidr::parse(&c.to_string()), Ok(c));
                prop_assert!(c.contains(&c.network()) && c.contains(&c.last()));
                if c.size() < u128::MAX {
                    prop_assert_eq!(c.last_u128() - c.first_u128() + 1, c.size());
                }
            }
        }

        #[test]
        fn cidr_host_bits_always_suggest_the_containing_network(v4 in any::<u32>(), p in 0u8..=32) {
            let address = IpAddr::from(Ipv4Addr::from(v4));
            let network = Cidr::containing(address, p).unwrap();
            match Cidr::parse(&format!("{address}/{p}")) {
                Ok(c) => prop_assert_eq!(c, network),
                Err(CidrError::HostBitsSet { network: suggested, .. }) => prop_assert_eq!(suggested, network),
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        #[test]
        fn range_round_trip(a in any::<u32>(), b in any::<u32>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let r = IpRange::new(Ipv4Addr::from(lo).into(), Ipv4Addr::from(hi).into()).unwrap();
            prop_assert_eq!(IpRange::parse(&r.to_string()), Ok(r));
            prop_assert_eq!(r.size(), u128::from(hi - lo) + 1);
        }

        #[test]
        fn garbage_never_panics(s in any::<String>(), t in "[0-9a-f:./ -]{0,40}") {
            for input in [s.as_str(), t.as_str()] {
                if let Ok(a) = IpAddr::parse(input) { prop_assert_eq!(IpAddr::parse(&a.to_string()), Ok(a)); }
                if let Ok(c) = Cidr::parse(input) { prop_assert_eq!(Cidr::parse(&c.to_string()), Ok(c)); }
                if let Ok(r) = IpRange::parse(input) { prop_assert_eq!(IpRange::parse(&r.to_string()), Ok(r)); }
            }
        }
    }
}
