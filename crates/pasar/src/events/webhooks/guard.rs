//! The SSRF guard for webhook URLs (OWASP API7): https only, and no private, loopback,
//! link-local, multicast, reserved or cloud metadata addresses.
//!
//! It checks twice: when an endpoint is registered or changed ([`UrlGuard::check`], which
//! resolves the host), and on every connection the sender makes ([`PublicOnlyResolver`], the
//! sender's DNS resolver), so a name that later resolves somewhere private (DNS rebinding) is
//! refused too. Redirects are not followed, so they cannot lead elsewhere.
//!
//! `webhooks_allow_private` turns both checks off, for local development and tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("must be an https URL")]
    NotHttps,
    #[error("must not point at a private, loopback, link-local or metadata address ({0})")]
    NonPublicAddress(IpAddr),
    #[error("the host {0} does not resolve")]
    DoesNotResolve(String),
}

#[derive(Clone, Copy, Debug)]
pub struct UrlGuard {
    allow_private: bool,
}

impl UrlGuard {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// What can be told from the URL alone: the scheme, and the address when the host is an IP
    /// literal (the sender's resolver never sees those).
    pub fn check_form(self, url: &Url) -> Result<(), UrlRefused> {
        if self.allow_private {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(UrlRefused::NotHttps);
        }
        match literal_ip(url) {
            Some(ip) if !is_public(ip) => Err(UrlRefused::NonPublicAddress(ip)),
            _ => Ok(()),
        }
    }

    /// The form, then every address the host resolves to.
    pub async fn check(self, url: &Url) -> Result<(), UrlRefused> {
        self.check_form(url)?;
        if self.allow_private || literal_ip(url).is_some() {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = resolve(&host, port).await.map_err(|_| UrlRefused::DoesNotResolve(host.clone()))?;
        match addrs.iter().find(|addr| !is_public(addr.ip())) {
            Some(private) => Err(UrlRefused::NonPublicAddress(private.ip())),
            None if addrs.is_empty() => Err(UrlRefused::DoesNotResolve(host)),
            None => Ok(()),
        }
    }
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let lookup = tokio::net::lookup_host((host, port));
    match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(addrs) => Ok(addrs?.collect()),
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "DNS lookup timed out")),
    }
}

/// The sender's DNS resolver when private addresses are not allowed: it refuses a name when
/// any of its addresses is not public, so the connection can only go where the check looked.
#[derive(Debug)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve(&host, 0).await?;
            if let Some(private) = addrs.iter().find(|addr| !is_public(addr.ip())) {
                return Err(format!("{host} resolves to a non-public address {}", private.ip()).into());
            }
            if addrs.is_empty() {
                return Err(format!("{host} does not resolve").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// True for an address on the public internet; false for private, loopback, link-local
/// (including the 169.254.169.254 metadata service), multicast, shared (CGNAT, including
/// 100.100.100.200 metadata), documentation, benchmarking, reserved and unspecified ones, and
/// for IPv6 forms that embed such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240;
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d) reach IPv4.
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) || s[..6] == [0; 6] {
        return !ip.is_loopback() && !ip.is_unspecified() && is_public_v4(embedded);
    }
    let special = ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, including AWS's fd00:ec2::254 metadata
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local
        || (s[0] == 0x2001 && s[1] == 0x0db8); // documentation
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_loopback_link_local_multicast_and_metadata_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.8.8",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.0.170",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!public(ip), "{ip} must not be public");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn only_https_urls_to_public_hosts_pass_unless_private_ones_are_allowed() {
        let guard = UrlGuard::new(false);
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(guard.check(&url("http://93.184.216.34/")).await, Err(UrlRefused::NotHttps));
        for private in [
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://169.254.169.254/latest",
            "https://localhost/",
        ] {
            assert!(
                matches!(guard.check(&url(private)).await, Err(UrlRefused::NonPublicAddress(_))),
                "{private}"
            );
        }
        assert_eq!(guard.check(&url("https://93.184.216.34/hooks")).await, Ok(()));
        let open = UrlGuard::new(true);
        assert_eq!(open.check(&url("http://127.0.0.1:9000/")).await, Ok(()));
    }
}
