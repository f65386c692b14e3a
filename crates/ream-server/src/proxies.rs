//! The client's address behind reverse proxies: taken from `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` only when the connection comes from a proxy the configuration
//! trusts (`security.trusted_proxies`), and then the nearest address no trusted proxy
//! has: a client cannot choose the address its failed attempts are counted under by
//! sending the header itself.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Net, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr =
            addr.trim().parse().map_err(|_| format!("{s:?} is not an address or a network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{s:?}: bad prefix length"))?,
            None => max,
        };
        Ok(Net { addr, bits })
    }
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix(u32::from(n) as u128, u32::from(a) as u128, self.bits, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix(u128::from(n), u128::from(a), self.bits, 128),
            _ => false,
        }
    }
}

fn prefix(net: u128, addr: u128, bits: u8, width: u8) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = u32::from(width - bits);
    (net >> shift) == (addr >> shift)
}

/// An IPv4 address seen through an IPv6 socket is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses a request went through, nearest proxy last, from `Forwarded` or else
/// `X-Forwarded-For`; `None` where a value is not an address (the header is then not
/// believed at all).
fn hops(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
    if !forwarded.is_empty() {
        let mut out = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let Some(node) = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim().trim_matches('"'))
            }) else {
                continue;
            };
            // `[2001:db8::1]:4711`, `192.0.2.1:80`, `192.0.2.1`.
            let host = match node.strip_prefix('[') {
                Some(v6) => v6.split(']').next()?,
                None => node.split(':').next()?,
            };
            out.push(host.parse().ok()?);
        }
        return Some(out);
    }
    let list: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    list.iter().flat_map(|v| v.split(',')).map(|a| a.trim().parse().ok()).collect()
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case
/// the nearest forwarded address that is not one.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Net]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(hops) = hops(headers) else { return peer };
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = canonical(hop);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<Net> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn networks_contain_their_addresses() {
        let n: Net = "10.1.0.0/16".parse().unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()) && !n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()), "IPv4 through an IPv6 socket");
        let v6: Net = "2001:db8::/32".parse().unwrap();
        assert!(
            v6.contains("2001:db8:1::1".parse().unwrap()) && !v6.contains("2001:db9::1".parse().unwrap())
        );
        assert!("127.0.0.1".parse::<Net>().unwrap().contains("127.0.0.1".parse().unwrap()));
        for bad in ["x", "10.0.0.0/33", "::/129", "10.0.0.0/"] {
            assert!(bad.parse::<Net>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_addresses_count_only_through_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = nets(&["10.0.0.0/24"]);
        let xff = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        assert_eq!(client_address(proxy, &xff, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        // A client that is not a trusted proxy cannot name another address.
        let stranger: IpAddr = "198.51.100.4".parse().unwrap();
        assert_eq!(client_address(stranger, &xff, &trusted), stranger);
        assert_eq!(client_address(proxy, &xff, &[]), proxy, "nobody trusted");
        // A client's own X-Forwarded-For before the proxy's: the proxy's addition wins.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(client_address(proxy, &spoofed, &trusted), "203.0.113.9".parse::<IpAddr>().unwrap());
        let forwarded = headers(&[("forwarded", r#"for="[2001:db8::7]:4711";proto=https, for=10.0.0.5"#)]);
        assert_eq!(client_address(proxy, &forwarded, &trusted), "2001:db8::7".parse::<IpAddr>().unwrap());
        // Garbage in the header: not believed.
        let garbage = headers(&[("x-forwarded-for", "not-an-address")]);
        assert_eq!(client_address(proxy, &garbage, &trusted), proxy);
        // Only trusted hops: the farthest is the client.
        let all = headers(&[("x-forwarded-for", "10.0.0.9")]);
        assert_eq!(client_address(proxy, &all, &trusted), "10.0.0.9".parse::<IpAddr>().unwrap());
    }
}
