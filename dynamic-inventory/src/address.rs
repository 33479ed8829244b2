//! Address allocation for container networks.
//!
//! Upstream lists every address of every network in memory and shuffles it, so an IPv6
//! /64 cannot work and every regeneration hands out different addresses. Here a network
//! is only its first and last usable address. Each container gets a starting point
//! derived from a hash of the network and the container's name, and takes the first free
//! address from there on (wrapping around). Memory grows with the addresses handed out,
//! not with the size of the network, and the same inputs give the same addresses on every
//! machine and every run.
//!
//! Never handed out: the network and broadcast (first and last) addresses, `used_ips`,
//! the hosts' own addresses, addresses already in the inventory, and addresses handed out
//! earlier in the run (from any network, since networks may overlap).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP family; IPv4 and IPv6 addresses live in separate number spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

fn split(ip: IpAddr) -> (Family, u128) {
    match ip {
        IpAddr::V4(a) => (Family::V4, u32::from(a) as u128),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn join(family: Family, n: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// A parsed `cidr_networks` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    family: Family,
    /// The network address.
    base: u128,
    prefix: u8,
}

impl Network {
    /// Parses `ADDRESS/PREFIX`, `ADDRESS/NETMASK` (IPv4) or a bare address (a single-host
    /// network), as netaddr's `IPNetwork` does. Host bits may be set; the network is the
    /// one containing the address.
    pub fn parse(text: &str) -> Option<Network> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (family, n) = split(ip);
        let bits = match family {
            Family::V4 => 32,
            Family::V6 => 128,
        };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= bits => p,
                Ok(_) => return None,
                Err(_) => {
                    // An IPv4 netmask such as 255.255.252.0.
                    let mask: Ipv4Addr = p.parse().ok()?;
                    if family != Family::V4 {
                        return None;
                    }
                    let m = u32::from(mask);
                    let ones = m.leading_ones();
                    if m.checked_shl(ones).unwrap_or(0) != 0 {
                        return None;
                    }
                    ones as u8
                }
            },
        };
        let mut net = Network {
            family,
            base: 0,
            prefix,
        };
        net.base = n & net.mask_bits();
        Some(net)
    }

    fn bits(&self) -> u8 {
        match self.family {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    fn mask_bits(&self) -> u128 {
        let host_bits = (self.bits() - self.prefix) as u32;
        let all = match self.family {
            Family::V4 => u32::MAX as u128,
            Family::V6 => u128::MAX,
        };
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }

    fn last(&self) -> u128 {
        self.base | (!self.mask_bits() & self.all_ones())
    }

    fn all_ones(&self) -> u128 {
        match self.family {
            Family::V4 => u32::MAX as u128,
            Family::V6 => u128::MAX,
        }
    }

    /// The netmask as netaddr prints it: `255.255.252.0`, or `ffff:ffff:ffff:ffff::`.
    pub fn netmask(&self) -> String {
        join(self.family, self.mask_bits()).to_string()
    }

    /// `NETWORK/PREFIX`, the canonical text of the network.
    pub fn canonical(&self) -> String {
        format!("{}/{}", join(self.family, self.base), self.prefix)
    }

    /// Whether `ip` is in this network (the reference tests use it to recognise addresses).
    #[cfg(feature = "internals")]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (family, n) = split(ip);
        family == self.family && n & self.mask_bits() == self.base
    }
}

/// A pool to allocate from: the usable addresses of one network.
#[derive(Debug, Clone)]
pub struct Pool {
    pub network: Network,
    /// Usable range, inclusive; `None` when the network has no usable address.
    range: Option<(u128, u128)>,
    /// Text mixed into each container's starting point.
    key: String,
    /// Addresses of this range handed out during the run (from any pool).
    handed_out: u128,
    /// How many of the range's addresses are reserved, and as of which change to the
    /// reserved set: counted once, not on every allocation.
    reserved: Option<(u64, u128)>,
}

impl Pool {
    pub fn new(network: Network) -> Pool {
        // Network and broadcast addresses are never handed out, in either family.
        let (first, last) = (network.base, network.last());
        let range = if last - first >= 2 {
            Some((first + 1, last - 1))
        } else {
            None
        };
        Pool {
            key: network.canonical(),
            network,
            range,
            handed_out: 0,
            reserved: None,
        }
    }

    fn size(&self) -> u128 {
        match self.range {
            // Cannot overflow: the first and last addresses are excluded.
            Some((a, b)) => b - a + 1,
            None => 0,
        }
    }
}

/// A set of closed intervals, merged and sorted once filled.
#[derive(Debug, Default, Clone)]
struct Intervals {
    items: Vec<(u128, u128)>,
    sorted: bool,
}

impl Intervals {
    fn add(&mut self, lo: u128, hi: u128) {
        self.items.push((lo, hi));
        self.sorted = false;
    }

    fn normalise(&mut self) {
        if self.sorted {
            return;
        }
        self.items.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(self.items.len());
        for &(lo, hi) in &self.items {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.items = merged;
        self.sorted = true;
    }

    /// The interval containing `n`, if any. Requires `normalise`.
    fn find(&self, n: u128) -> Option<(u128, u128)> {
        let i = self.items.partition_point(|&(lo, _)| lo <= n);
        let (lo, hi) = *self.items.get(i.checked_sub(1)?)?;
        (lo <= n && n <= hi).then_some((lo, hi))
    }

    /// How many members fall within [lo, hi]. Requires `normalise`.
    fn count_within(&self, lo: u128, hi: u128) -> u128 {
        self.items
            .iter()
            .filter(|&&(a, b)| a <= hi && b >= lo)
            .map(|&(a, b)| b.min(hi) - a.max(lo) + 1)
            .sum()
    }
}

/// Every address that must not be handed out, and the allocator.
#[derive(Debug, Default)]
pub struct AddressBook {
    reserved_v4: Intervals,
    reserved_v6: Intervals,
    /// Bumped whenever an address is reserved.
    generation: u64,
    allocated: HashSet<(Family, u128)>,
}

impl AddressBook {
    fn reserved(&mut self, family: Family) -> &mut Intervals {
        match family {
            Family::V4 => &mut self.reserved_v4,
            Family::V6 => &mut self.reserved_v6,
        }
    }

    /// Marks one address as used.
    pub fn reserve(&mut self, ip: IpAddr) {
        let (family, n) = split(ip);
        self.generation += 1;
        self.reserved(family).add(n, n);
    }

    /// Marks an inclusive range as used; false when the ends are of different families
    /// or out of order.
    pub fn reserve_range(&mut self, first: IpAddr, last: IpAddr) -> bool {
        let ((fa, a), (fb, b)) = (split(first), split(last));
        if fa != fb || a > b {
            return false;
        }
        self.generation += 1;
        self.reserved(fa).add(a, b);
        true
    }

    /// Hands out the address for `owner` (a container name) from `pool`, or `None` when
    /// the pool is exhausted. The result depends only on the pool's network, the owner and
    /// the addresses already taken.
    pub fn allocate(&mut self, pools: &mut [Pool], pool: usize, owner: &str) -> Option<IpAddr> {
        self.reserved_v4.normalise();
        self.reserved_v6.normalise();
        let generation = self.generation;
        let p = pools.get_mut(pool)?;
        let (first, last) = p.range?;
        let family = p.network.family;
        let reserved = match family {
            Family::V4 => &self.reserved_v4,
            Family::V6 => &self.reserved_v6,
        };
        let reserved_count = match p.reserved {
            Some((g, count)) if g == generation => count,
            _ => {
                let count = reserved.count_within(first, last);
                p.reserved = Some((generation, count));
                count
            }
        };
        let p = &pools[pool];
        let free = p.size() - reserved_count - p.handed_out;
        if free == 0 {
            return None;
        }
        let seed = xxhash_rust::xxh3::xxh3_128(format!("{}\0{}", p.key, owner).as_bytes());
        let mut candidate = first + seed % p.size();
        // Free addresses exist, so this walk ends; reserved runs are skipped in one step.
        let found = loop {
            if let Some((_, hi)) = reserved.find(candidate) {
                candidate = if hi >= last { first } else { hi + 1 };
                continue;
            }
            if self.allocated.contains(&(family, candidate)) {
                candidate = if candidate >= last {
                    first
                } else {
                    candidate + 1
                };
                continue;
            }
            break candidate;
        };
        self.allocated.insert((family, found));
        let ip = join(family, found);
        for other in pools.iter_mut() {
            if other.range.is_some_and(|(a, b)| a <= found && found <= b)
                && other.network.family == family
            {
                other.handed_out += 1;
            }
        }
        Some(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_networks_like_netaddr() {
        let n = Network::parse("172.29.236.7/22").unwrap();
        assert_eq!(n.canonical(), "172.29.236.0/22");
        assert_eq!(n.netmask(), "255.255.252.0");
        assert_eq!(
            Network::parse("10.0.0.0/255.255.0.0").unwrap().canonical(),
            "10.0.0.0/16"
        );
        let v6 = Network::parse("fd00:1::/64").unwrap();
        assert_eq!(v6.netmask(), "ffff:ffff:ffff:ffff::");
        assert_eq!(
            Network::parse("10.0.0.1").unwrap().canonical(),
            "10.0.0.1/32"
        );
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(Network::parse("10.0.0.0/255.0.255.0").is_none());
        assert!(Network::parse("banana").is_none());
        assert_eq!(Network::parse("0.0.0.0/0").unwrap().netmask(), "0.0.0.0");
        assert_eq!(Network::parse("::/0").unwrap().netmask(), "::");
    }

    #[test]
    fn a_slash_30_gives_exactly_two_addresses() {
        let mut pools = vec![Pool::new(Network::parse("10.0.0.0/30").unwrap())];
        let mut book = AddressBook::default();
        let a = book.allocate(&mut pools, 0, "c1").unwrap();
        let b = book.allocate(&mut pools, 0, "c2").unwrap();
        let mut got = [a, b];
        got.sort();
        assert_eq!(got, [ip("10.0.0.1"), ip("10.0.0.2")]);
        assert_eq!(book.allocate(&mut pools, 0, "c3"), None);
    }

    #[test]
    fn reserved_addresses_and_ranges_are_never_handed_out() {
        for seed in 0..200 {
            let mut pools = vec![Pool::new(Network::parse("10.1.0.0/27").unwrap())];
            let mut book = AddressBook::default();
            assert!(book.reserve_range(ip("10.1.0.1"), ip("10.1.0.10")));
            book.reserve(ip("10.1.0.20"));
            let mut seen = HashSet::new();
            // 30 usable, 11 reserved: 19 to hand out.
            for i in 0..19 {
                let a = book
                    .allocate(&mut pools, 0, &format!("host{seed}-c{i}"))
                    .unwrap();
                let last = a
                    .to_string()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap();
                assert!((11..=30).contains(&last) && last != 20, "{a}");
                assert!(seen.insert(a), "{a} twice");
            }
            assert_eq!(book.allocate(&mut pools, 0, "one-too-many"), None);
        }
    }

    #[test]
    fn huge_networks_need_no_memory_and_stay_deterministic() {
        let net = Network::parse("fd00::/64").unwrap();
        let run = || {
            let mut pools = vec![Pool::new(net.clone())];
            let mut book = AddressBook::default();
            (0..1000)
                .map(|i| book.allocate(&mut pools, 0, &format!("c{i}")).unwrap())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.iter().all(|a| net.contains(*a)));
        let mut pools = vec![Pool::new(Network::parse("10.0.0.0/8").unwrap())];
        let mut book = AddressBook::default();
        assert!(book.reserve_range(ip("10.0.0.1"), ip("10.255.255.253")));
        assert_eq!(
            book.allocate(&mut pools, 0, "x"),
            Some(ip("10.255.255.254"))
        );
        assert_eq!(book.allocate(&mut pools, 0, "y"), None);
    }

    #[test]
    fn reserving_after_allocating_is_counted() {
        // A /29 has 6 usable addresses; take one, reserve four more: one is left.
        let mut pools = vec![Pool::new(Network::parse("10.0.0.0/29").unwrap())];
        let mut book = AddressBook::default();
        let first = book.allocate(&mut pools, 0, "c1").unwrap();
        let others: Vec<IpAddr> = (1..=6)
            .map(|i| ip(&format!("10.0.0.{i}")))
            .filter(|a| *a != first)
            .collect();
        for a in &others[..4] {
            book.reserve(*a);
        }
        assert_eq!(book.allocate(&mut pools, 0, "c2"), Some(others[4]));
        assert_eq!(book.allocate(&mut pools, 0, "c3"), None);
    }

    #[test]
    fn overlapping_networks_share_what_was_handed_out() {
        let mut pools = vec![
            Pool::new(Network::parse("10.0.0.0/30").unwrap()),
            Pool::new(Network::parse("10.0.0.0/30").unwrap()),
        ];
        let mut book = AddressBook::default();
        assert!(book.allocate(&mut pools, 0, "c1").is_some());
        assert!(book.allocate(&mut pools, 1, "c2").is_some());
        assert_eq!(book.allocate(&mut pools, 0, "c3"), None);
        assert_eq!(book.allocate(&mut pools, 1, "c3"), None);
    }
}
