//! The real client behind CDNs and load balancers: trusted proxies and forwarding headers.
//!
//! A request that reaches the shop through a CDN comes from the CDN's address; the client is
//! in a header the CDN added. Headers are only believed when the peer is a configured trusted
//! proxy, because anyone can send them: otherwise an attacker writes `X-Forwarded-For:
//! 127.0.0.1` and every rule keys on the wrong address.

use std::net::IpAddr;

use ipnet::IpNet;

/// Where the client address may be found, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIpSource {
    /// `X-Forwarded-For`: the rightmost address that is not a trusted proxy.
    XForwardedFor,
    /// RFC 7239 `Forwarded`: the rightmost `for=` that is not a trusted proxy.
    Forwarded,
    /// A header holding the client alone (`CF-Connecting-IP`, `True-Client-IP`, `X-Real-IP`),
    /// lower-case.
    Header(String),
    /// A log variable holding the client alone (`$realip_remote_addr`), without `$`.
    LogField(String),
}

impl ClientIpSource {
    /// Reads `x-forwarded-for`, `forwarded`, any other header name, or `$variable`.
    pub fn parse(text: &str) -> Result<ClientIpSource, String> {
        let text = text.trim();
        if let Some(field) = text.strip_prefix('$') {
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("`{text}` is not a log variable (`$` then letters, digits and `_`)"));
            }
            return Ok(ClientIpSource::LogField(field.to_owned()));
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(format!("`{text}` is not a header name"));
        }
        Ok(match text.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ClientIpSource::XForwardedFor,
            "forwarded" => ClientIpSource::Forwarded,
            other => ClientIpSource::Header(other.to_owned()),
        })
    }

    /// The access-log variable that carries this source (`$http_x_forwarded_for` for the header).
    pub fn log_variable(&self) -> String {
        match self {
            ClientIpSource::XForwardedFor => "http_x_forwarded_for".into(),
            ClientIpSource::Forwarded => "http_forwarded".into(),
            ClientIpSource::Header(name) => format!("http_{}", name.replace('-', "_")),
            ClientIpSource::LogField(name) => name.clone(),
        }
    }

    /// The HTTP header of this source, if it is one.
    pub fn header(&self) -> Option<&str> {
        match self {
            ClientIpSource::XForwardedFor => Some("x-forwarded-for"),
            ClientIpSource::Forwarded => Some("forwarded"),
            ClientIpSource::Header(name) => Some(name),
            ClientIpSource::LogField(_) => None,
        }
    }
}

/// Decides the client address from the peer and the forwarding headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
    sources: Vec<ClientIpSource>,
}

impl Default for ClientIpResolver {
    /// No trusted proxies: the peer is always the client.
    fn default() -> Self {
        ClientIpResolver { trusted: Vec::new(), sources: vec![ClientIpSource::XForwardedFor, ClientIpSource::Forwarded] }
    }
}

/// The outcome: the client (`source.ip`) and, when it came from a header, the proxy
/// (`client.ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedClient {
    /// The client.
    pub client: IpAddr,
    /// The trusted proxy the request came through, when the client was taken from a header.
    pub proxy: Option<IpAddr>,
}

impl ClientIpResolver {
    /// Trusts `trusted` proxies and looks for the client in `sources`, in order.
    pub fn new(trusted: Vec<IpNet>, sources: Vec<ClientIpSource>) -> ClientIpResolver {
        ClientIpResolver { trusted, sources }
    }

    /// The sources tried, in order.
    pub fn sources(&self) -> &[ClientIpSource] {
        &self.sources
    }

    /// Whether `ip` is a trusted proxy.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer`. `lookup` gives a source's value (all values of a
    /// repeated header joined with `,`). Headers count only when the peer is trusted; a header
    /// whose relevant entry cannot be read leaves the peer as the client.
    pub fn resolve<'v>(&self, peer: IpAddr, mut lookup: impl FnMut(&ClientIpSource) -> Option<&'v str>) -> ResolvedClient {
        let peer = peer.to_canonical();
        let unresolved = ResolvedClient { client: peer, proxy: None };
        if self.trusted.is_empty() || !self.is_trusted(peer) {
            return unresolved;
        }
        for source in &self.sources {
            let Some(value) = lookup(source).filter(|v| !v.trim().is_empty() && v.trim() != "-") else { continue };
            let client = match source {
                ClientIpSource::XForwardedFor => self.rightmost_untrusted(value.split(',').map(parse_forwarded_address)),
                ClientIpSource::Forwarded => self.rightmost_untrusted(value.split(',').map(forwarded_for)),
                ClientIpSource::Header(_) | ClientIpSource::LogField(_) => parse_forwarded_address(value),
            };
            return match client {
                Some(client) => ResolvedClient { client, proxy: Some(peer) },
                None => unresolved,
            };
        }
        unresolved
    }

    /// Walks a hop list from the nearest hop outwards, skipping trusted proxies. An entry that
    /// cannot be read ends the walk without a client (it may be forged). When every hop is
    /// trusted, the farthest one is the client.
    fn rightmost_untrusted(&self, hops: impl DoubleEndedIterator<Item = Option<IpAddr>>) -> Option<IpAddr> {
        let mut farthest = None;
        for hop in hops.rev() {
            let hop = hop?;
            if !self.is_trusted(hop) {
                return Some(hop);
            }
            farthest = Some(hop);
        }
        farthest
    }
}

/// An address as proxies write it: `203.0.113.7`, `203.0.113.7:5123`, `2001:db8::1`,
/// `[2001:db8::1]:443`, optionally quoted.
fn parse_forwarded_address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let host = match text.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0,
        None => text.rsplit_once(':').filter(|(host, port)| !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()))?.0,
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The `for=` parameter of one `Forwarded` element (`for=192.0.2.60;proto=http`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| parse_forwarded_address(value))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn resolver(sources: &[&str]) -> ClientIpResolver {
        ClientIpResolver::new(
            vec!["10.0.0.0/8".parse().unwrap(), "173.245.48.0/20".parse().unwrap(), "2400:cb00::/32".parse().unwrap()],
            sources.iter().map(|s| ClientIpSource::parse(s).unwrap()).collect(),
        )
    }

    fn resolve(resolver: &ClientIpResolver, peer: &str, headers: &[(&str, &str)]) -> (IpAddr, Option<IpAddr>) {
        let resolved = resolver.resolve(ip(peer), |source| {
            let name = source.header().unwrap_or_default();
            headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
        });
        (resolved.client, resolved.proxy)
    }

    #[test]
    fn rightmost_untrusted_forwarded_for() {
        let r = resolver(&["x-forwarded-for"]);
        // The client forged the first entry; the CDN appended the real address.
        assert_eq!(
            resolve(&r, "173.245.48.5", &[("X-Forwarded-For", "127.0.0.1, 203.0.113.7, 10.1.1.1")]),
            (ip("203.0.113.7"), Some(ip("173.245.48.5")))
        );
        assert_eq!(resolve(&r, "10.0.0.2", &[("X-Forwarded-For", "203.0.113.7:5123")]), (ip("203.0.113.7"), Some(ip("10.0.0.2"))));
        assert_eq!(resolve(&r, "10.0.0.2", &[("X-Forwarded-For", "[2001:db8::7]:443")]), (ip("2001:db8::7"), Some(ip("10.0.0.2"))));
        // Every hop trusted: the farthest is the client.
        assert_eq!(resolve(&r, "10.0.0.2", &[("X-Forwarded-For", "10.9.9.9, 10.0.0.3")]), (ip("10.9.9.9"), Some(ip("10.0.0.2"))));
        // An unreadable nearest entry: keep the peer rather than guess.
        assert_eq!(resolve(&r, "10.0.0.2", &[("X-Forwarded-For", "203.0.113.7, garbage")]), (ip("10.0.0.2"), None));
    }

    #[test]
    fn spoofed_headers_from_untrusted_peers_are_ignored() {
        let r = resolver(&["x-forwarded-for", "forwarded", "cf-connecting-ip"]);
        for header in ["X-Forwarded-For", "Forwarded", "CF-Connecting-IP"] {
            let value = if header == "Forwarded" { "for=1.2.3.4" } else { "1.2.3.4" };
            assert_eq!(resolve(&r, "198.51.100.66", &[(header, value)]), (ip("198.51.100.66"), None), "{header}");
        }
        // With no trusted proxies configured, headers never count.
        let none = ClientIpResolver::default();
        assert_eq!(resolve(&none, "10.0.0.2", &[("X-Forwarded-For", "1.2.3.4")]), (ip("10.0.0.2"), None));
    }

    #[test]
    fn forwarded_header_and_single_address_headers() {
        let r = resolver(&["forwarded", "x-forwarded-for"]);
        let forwarded = r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#;
        assert_eq!(resolve(&r, "10.0.0.2", &[("Forwarded", forwarded)]), (ip("2001:db8:cafe::17"), Some(ip("10.0.0.2"))));
        assert_eq!(resolve(&r, "10.0.0.2", &[("Forwarded", "for=unknown")]), (ip("10.0.0.2"), None));
        // The first configured source present wins.
        assert_eq!(resolve(&r, "10.0.0.2", &[("X-Forwarded-For", "203.0.113.9")]), (ip("203.0.113.9"), Some(ip("10.0.0.2"))));
        let cf = resolver(&["cf-connecting-ip", "x-forwarded-for"]);
        assert_eq!(
            resolve(&cf, "2400:cb00::1", &[("CF-Connecting-IP", "203.0.113.8"), ("X-Forwarded-For", "203.0.113.9")]),
            (ip("203.0.113.8"), Some(ip("2400:cb00::1")))
        );
        // An IPv4-mapped peer is its IPv4 address.
        assert_eq!(resolve(&cf, "::ffff:10.0.0.2", &[("CF-Connecting-IP", "203.0.113.8")]).0, ip("203.0.113.8"));
    }

    #[test]
    fn sources_parse() {
        assert_eq!(ClientIpSource::parse("X-Forwarded-For"), Ok(ClientIpSource::XForwardedFor));
        assert_eq!(ClientIpSource::parse("True-Client-IP").unwrap().log_variable(), "http_true_client_ip");
        assert_eq!(ClientIpSource::parse("$realip_remote_addr"), Ok(ClientIpSource::LogField("realip_remote_addr".into())));
        assert!(ClientIpSource::parse("bad header").is_err());
        assert!(ClientIpSource::parse("$").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(value in "\\PC{0,100}") {
            let r = resolver(&["x-forwarded-for", "forwarded", "true-client-ip"]);
            let _ = r.resolve(ip("10.0.0.1"), |_| Some(value.as_str()));
        }
    }
}
