//! Who the client of a request is: the peer address, or, behind a trusted proxy, the client
//! the forwarding headers name ([`client_ip`]), as the key rate limits count by
//! ([`ClientKey`]).
//! Owns: reading `X-Forwarded-For` and `Forwarded` under the trusted-proxy rule. Must not: use
//! another module of `http` (the extractors, the limiter and the state all use this one).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use ipnet::IpNet;
use sha2::Digest;

/// Who a request is counted as for rate limiting: an address, or, when a trusted proxy
/// reports a client it does not name by address (an RFC 7239 obfuscated identifier such as
/// `_hidden`, `unknown`, or a `X-Forwarded-For` entry that is no address), that token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// A client address.
    Ip(IpAddr),
    /// A token the proxy wrote instead of an address (at most [`MAX_OPAQUE_KEY`] bytes; longer
    /// ones are replaced by a SHA-256 prefix, so the limiter's map stays small).
    Opaque(String),
}

/// Longest opaque client token kept as it is.
pub const MAX_OPAQUE_KEY: usize = 64;

impl ClientKey {
    fn opaque(token: &str) -> Self {
        if token.len() <= MAX_OPAQUE_KEY {
            Self::Opaque(token.to_string())
        } else {
            let digest = sha2::Sha256::digest(token.as_bytes());
            Self::Opaque(format!(
                "sha256:{}",
                data_encoding::HEXLOWER.encode(&digest[..16])
            ))
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            // Escaped and quoted: the token came from a header.
            Self::Opaque(token) => write!(f, "{token:?}"),
        }
    }
}

/// The client: the peer address, or, when the peer is a trusted proxy, the right-most entry of
/// the forwarding header that is not itself a trusted proxy (entries further left are whatever
/// the client chose to send; the right-most untrusted one was written by our own proxy).
///
/// Which header: `X-Forwarded-For` when the request has one, otherwise RFC 7239 `Forwarded`
/// (its `for=` parameters). Only one of them is read, never a mix: a proxy that writes only
/// `Forwarded` must remove a client-sent `X-Forwarded-For` (docs/operators/configuration.md says so).
///
/// An entry that is no address (`unknown`, `_hidden`, garbage) is counted as a client of its
/// own under that token, not as the proxy: falling back to the proxy's address would put every
/// client behind it in one rate-limit bucket, and refusing would lock out every client whose
/// proxy writes obfuscated identifiers. The token is written by the trusted proxy (it is the
/// right-most untrusted entry), so a client cannot pick it.
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> ClientKey {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return ClientKey::Ip(peer);
    }
    let values = |name: &str| {
        parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    let x_forwarded_for = values("x-forwarded-for");
    let entries: Vec<ClientKey> = if x_forwarded_for.is_empty() {
        values("forwarded")
            .iter()
            .flat_map(|v| forwarded_entries(v))
            .collect()
    } else {
        x_forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(x_forwarded_for_entry)
            .collect()
    };
    for entry in entries.into_iter().rev() {
        match entry {
            ClientKey::Ip(ip) if is_trusted(&ip) => continue,
            other => return other,
        }
    }
    ClientKey::Ip(peer)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`; anything else is an opaque token. (The std parsers cover these forms;
/// the header has no grammar beyond them.)
fn x_forwarded_for_entry(entry: &str) -> ClientKey {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return ClientKey::Ip(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return ClientKey::Ip(addr.ip());
    }
    if let Some(ip) = entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<std::net::Ipv6Addr>().ok())
    {
        return ClientKey::Ip(IpAddr::V6(ip));
    }
    ClientKey::opaque(entry)
}

/// The `for=` nodes of one `Forwarded` header line, left to right, each element parsed by the
/// `rfc7239` crate. A node that is obfuscated (`_hidden`) or `unknown` is an opaque token. An
/// element that does not parse or has no `for=` is an opaque token too (the raw element): it
/// was appended by the proxy, and skipping it would let the client's own entries further left
/// decide.
fn forwarded_entries(value: &str) -> Vec<ClientKey> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|raw| {
            // The crate does not trim around `;` (RFC 7239 has no whitespace there, but some
            // proxies write `; `).
            let element = raw.split(';').map(str::trim).collect::<Vec<_>>().join(";");
            let node = rfc7239::parse(&element)
                .next()
                .and_then(Result::ok)
                .and_then(|parsed| parsed.forwarded_for)
                .map(|node| match node.name {
                    rfc7239::NodeName::Ip(ip) => ClientKey::Ip(ip),
                    rfc7239::NodeName::Unknown => ClientKey::opaque("unknown"),
                    rfc7239::NodeName::Obfuscated(token) => ClientKey::opaque(token),
                });
            node.unwrap_or_else(|| ClientKey::opaque(raw))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut builder = Request::builder().uri("/");
        if let Some(x) = xff {
            builder = builder.header("x-forwarded-for", x);
        }
        let (mut parts, ()) = builder.body(()).expect("request").into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
        parts
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let ip = |p: &Parts| client_ip(p, &trusted).to_string();
        assert_eq!(
            ip(&parts("203.0.113.9:5000", Some("1.2.3.4"))),
            "203.0.113.9"
        );
        assert_eq!(ip(&parts("10.0.0.2:5000", Some("1.2.3.4"))), "1.2.3.4");
        assert_eq!(
            ip(&parts("10.0.0.2:5000", Some("6.6.6.6, 1.2.3.4, 10.0.0.7"))),
            "1.2.3.4"
        );
        assert_eq!(ip(&parts("10.0.0.2:5000", None)), "10.0.0.2");
    }

    fn with_headers(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut parts = parts(peer, None);
        for (name, value) in headers {
            parts.headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                axum::http::HeaderValue::from_str(value).expect("value"),
            );
        }
        parts
    }

    #[test]
    fn forwarded_for_entries_may_carry_ports() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let ip = |xff: &str| client_ip(&parts("10.0.0.2:5000", Some(xff)), &trusted).to_string();
        assert_eq!(ip("1.2.3.4:5678"), "1.2.3.4");
        assert_eq!(ip("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(ip("[2001:db8::1]"), "2001:db8::1");
        assert_eq!(ip("6.6.6.6, 1.2.3.4:80, 10.0.0.7:1"), "1.2.3.4");
        assert_eq!(ip("6.6.6.6,1.2.3.4:80 ,10.0.0.7:1"), "1.2.3.4");
        assert_eq!(ip("[2001:db8::2]:80, 10.0.0.7"), "2001:db8::2");
    }

    #[test]
    fn an_unparsable_rightmost_entry_is_a_client_of_its_own_not_the_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let key = |xff: &str| client_ip(&parts("10.0.0.2:5000", Some(xff)), &trusted).to_string();
        assert_ne!(key("garbage"), "10.0.0.2");
        assert_ne!(key("garbage"), key("rubbish"));
        assert_eq!(
            key("1.2.3.4, garbage"),
            key("garbage"),
            "right-most untrusted counts"
        );
        assert_ne!(
            key("1.2.3.4:99999"),
            "10.0.0.2",
            "a port out of range is not an address"
        );
    }

    #[test]
    fn rfc7239_forwarded_follows_the_same_trust_rules() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let key = |peer: &str, headers: &[(&str, &str)]| {
            client_ip(&with_headers(peer, headers), &trusted).to_string()
        };
        let fwd = |v: &str| key("10.0.0.2:5000", &[("forwarded", v)]);
        assert_eq!(
            fwd("for=192.0.2.60;proto=http;by=203.0.113.43"),
            "192.0.2.60"
        );
        assert_eq!(fwd("for=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17");
        assert_eq!(fwd("for=\"192.0.2.60:8080\""), "192.0.2.60");
        assert_eq!(fwd("FOR=192.0.2.60"), "192.0.2.60");
        assert_eq!(
            fwd("for=6.6.6.6, for=192.0.2.60, for=10.1.1.1"),
            "192.0.2.60"
        );
        assert_eq!(
            key(
                "10.0.0.2:5000",
                &[
                    ("forwarded", "for=6.6.6.6"),
                    ("forwarded", "for=192.0.2.61")
                ]
            ),
            "192.0.2.61",
            "several header lines form one list"
        );
        // Obfuscated identifiers and `unknown` are keys of their own, never the proxy's.
        assert_ne!(fwd("for=_hidden"), "10.0.0.2");
        assert_ne!(fwd("for=_hidden"), fwd("for=_other"));
        assert_ne!(fwd("for=unknown"), "10.0.0.2");
        assert_ne!(fwd("for=\"_hidden:_port\""), "10.0.0.2");
        // Not from an untrusted peer.
        assert_eq!(
            key("203.0.113.9:1", &[("forwarded", "for=1.2.3.4")]),
            "203.0.113.9"
        );
        // With both headers, X-Forwarded-For decides.
        assert_eq!(
            key(
                "10.0.0.2:5000",
                &[("forwarded", "for=1.1.1.1"), ("x-forwarded-for", "2.2.2.2")]
            ),
            "2.2.2.2"
        );
    }
}
