//! Keys: '4' or '6', then the address as 32 zero-padded lower-case hex digits, so keys sort like addresses on both databases; a pool's blocks as numbers.
use super::*;

/// The text key of an address: sorts like the address (IPv4 before IPv6) on both databases.
pub fn address_key(address: IpAddr) -> String {
    key(address.family(), address.to_u128())
}

pub(super) fn key(family: IpFamily, value: u128) -> String {
    let digit = match family {
        IpFamily::Ipv4 => '4',
        IpFamily::Ipv6 => '6',
    };
    format!("{digit}{value:032x}")
}

pub(super) fn parse_key(text: &str) -> Option<(IpFamily, u128)> {
    let family = match text.get(..1)? {
        "4" => IpFamily::Ipv4,
        "6" => IpFamily::Ipv6,
        _ => return None,
    };
    let value = u128::from_str_radix(text.get(1..)?, 16).ok()?;
    Some((family, value))
}

pub(super) fn audit_object(address: IpAddr) -> String {
    format!("address/{address}")
}

/// A pool block as numbers, for the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extent {
    pub(super) family: IpFamily,
    pub(super) first: u128,
    pub(super) last: u128,
}

impl Extent {
    pub(super) fn size(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }
}

/// The pool's blocks in address order.
pub(super) fn extents(pool: &VipPool) -> Vec<Extent> {
    let mut extents: Vec<Extent> = pool
        .blocks
        .iter()
        .map(|b| Extent { family: b.family(), first: b.first_u128(), last: b.last_u128() })
        .collect();
    extents.sort_by_key(|e| (e.family, e.first));
    extents
}
