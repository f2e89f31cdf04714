//! The smallest set of CIDRs that covers an address range exactly, for router prefix lists.

use domain::{Cidr, IpAddr, IpRange};

/// The CIDRs that together hold exactly the addresses of `range`, in address order, without
/// overlap, and as few as possible: `192.168.101.240–250` → `.240/29`, `.248/31`, `.250/32`.
///
/// Greedy from the start: each step takes the largest block that is aligned at the current
/// address and does not reach past the end. No cover can do with fewer, because any cover
/// must start with an aligned block at the current address, and a smaller one only leaves
/// more to cover.
pub fn cover_range(range: &IpRange) -> Vec<Cidr> {
    let family = range.family();
    let bits = u32::from(family.bits());
    let (mut first, last) = (range.first_u128(), range.last_u128());
    let mut cidrs = Vec::new();
    loop {
        // Host bits of the block: as many as the alignment of `first` allows, then fewer
        // until the block ends inside the range.
        let mut host_bits = first.trailing_zeros().min(bits);
        while host_bits > 0 && first.saturating_add(block_mask(host_bits)) > last {
            host_bits -= 1;
        }
        let prefix_len = u8::try_from(bits - host_bits).unwrap_or(0);
        let block_last = first + block_mask(host_bits);
        let Some(cidr) = IpAddr::from_u128(family, first).and_then(|a| Cidr::containing(a, prefix_len)) else {
            break;
        };
        cidrs.push(cidr);
        if block_last >= last {
            break;
        }
        first = block_last + 1;
    }
    cidrs
}

/// `2^host_bits - 1`: the offset of a block's last address from its first.
fn block_mask(host_bits: u32) -> u128 {
    if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn range(start: &str, stop: &str) -> IpRange {
        IpRange::from_parts(start, stop).unwrap_or_else(|e| panic!("{e}"))
    }

    fn texts(cidrs: &[Cidr]) -> Vec<String> {
        cidrs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn seed_prod_range() {
        let cidrs = cover_range(&range("192.168.101.240", "192.168.101.250"));
        assert_eq!(texts(&cidrs), ["192.168.101.240/29", "192.168.101.248/31", "192.168.101.250/32"]);
    }

    #[test]
    fn edge_ranges() {
        assert_eq!(texts(&cover_range(&range("10.0.0.7", "10.0.0.7"))), ["10.0.0.7/32"]);
        assert_eq!(texts(&cover_range(&range("10.0.0.0", "10.0.0.255"))), ["10.0.0.0/24"]);
        assert_eq!(texts(&cover_range(&range("0.0.0.0", "255.255.255.255"))), ["0.0.0.0/0"]);
        assert_eq!(texts(&cover_range(&range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))), ["::/0"]);
        assert_eq!(
            texts(&cover_range(&range("255.255.255.254", "255.255.255.255"))),
            ["255.255.255.254/31"]
        );
        assert_eq!(texts(&cover_range(&range("10.0.0.255", "10.0.1.0"))), ["10.0.0.255/32", "10.0.1.0/32"]);
        assert_eq!(
            texts(&cover_range(&range("2001:db8::1", "2001:db8::4"))),
            ["2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/128"]
        );
    }

    /// Checks that `cidrs` are in order, adjacent, and span exactly `first..=last`.
    fn assert_exact_cover(cidrs: &[Cidr], first: u128, last: u128) -> Result<(), TestCaseError> {
        prop_assert!(!cidrs.is_empty());
        prop_assert_eq!(cidrs[0].first_u128(), first);
        prop_assert_eq!(cidrs[cidrs.len() - 1].last_u128(), last);
        for pair in cidrs.windows(2) {
            // Adjacent: no gap and no overlap.
            prop_assert_eq!(pair[0].last_u128().checked_add(1), Some(pair[1].first_u128()));
        }
        Ok(())
    }

    /// The fewest aligned blocks covering `first..=last` of a `bits`-bit space, by trying every
    /// block at every step (dynamic programming from the end) — independent of the greedy.
    fn minimal_count(first: u32, last: u32, bits: u32) -> usize {
        let len = (last - first + 1) as usize;
        let mut best = vec![usize::MAX; len + 1];
        best[len] = 0;
        for i in (0..len).rev() {
            let address = first + i as u32;
            for host_bits in 0..=bits {
                let size = 1u32 << host_bits;
                if !address.is_multiple_of(size) || i + size as usize > len {
                    break;
                }
                best[i] = best[i].min(1 + best[i + size as usize]);
            }
        }
        best[0]
    }

    proptest! {
        #[test]
        fn ipv4_ranges_are_covered_exactly(a in any::<u32>(), b in any::<u32>()) {
            let (first, last) = (a.min(b), a.max(b));
            let r = IpRange::new(IpAddr::from(std::net::Ipv4Addr::from(first)), IpAddr::from(std::net::Ipv4Addr::from(last)))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let cidrs = cover_range(&r);
            assert_exact_cover(&cidrs, u128::from(first), u128::from(last))?;
            // At most two blocks per prefix length: one rising to the largest, one falling.
            prop_assert!(cidrs.len() <= 62);
        }

        #[test]
        fn ipv6_ranges_are_covered_exactly(a in any::<u128>(), b in any::<u128>()) {
            let (first, last) = (a.min(b), a.max(b));
            let r = IpRange::new(IpAddr::from(std::net::Ipv6Addr::from(first)), IpAddr::from(std::net::Ipv6Addr::from(last)))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let cidrs = cover_range(&r);
            assert_exact_cover(&cidrs, first, last)?;
            prop_assert!(cidrs.len() <= 254);
        }

        /// Inside one /20 the exhaustive search is cheap: the greedy must match its count.
        #[test]
        fn covers_are_minimal(base in any::<u32>(), a in 0u32..4096, b in 0u32..4096) {
            let base = base & !0xfff;
            let (first, last) = (base + a.min(b), base + a.max(b));
            let r = IpRange::new(IpAddr::from(std::net::Ipv4Addr::from(first)), IpAddr::from(std::net::Ipv4Addr::from(last)))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(cover_range(&r).len(), minimal_count(first, last, 12));
        }
    }
}
