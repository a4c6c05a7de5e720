//! Extractors whose rejections are our own error responses, and the client address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::{Form, http::Method};
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use super::error::ErrorPage;

/// A query string that, when malformed, gets a 400 page naming the problem. Repeated keys
/// (`scopes[]=a&scopes[]=b`) fill a `Vec` (axum-extra's `Query`, on serde_html_form).
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ErrorPage;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum_extra::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum_extra::extract::Query(v)| Self(v))
            .map_err(|e| {
                ErrorPage::bad_request(format!("The request's query is invalid: {}", e.body_text()))
            })
    }
}

/// Callback parameters from the query (GET) or a form body (POST, `response_mode=form_post`).
pub struct CallbackForm<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for CallbackForm<T> {
    type Rejection = ErrorPage;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bad = |text: String| ErrorPage::bad_request(format!("The callback is invalid: {text}"));
        if request.method() == Method::POST {
            Form::<T>::from_request(request, state)
                .await
                .map(|Form(v)| Self(v))
                .map_err(|e| bad(e.body_text()))
        } else {
            let (mut parts, _) = request.into_parts();
            Query::<T>::from_request_parts(&mut parts, state)
                .await
                .map(|Query(v)| Self(v))
                .map_err(|e| bad(e.body_text()))
        }
    }
}

/// The client's IP: the peer address, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (left-most entries are whatever
/// the client chose to send).
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().parse::<IpAddr>())
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry {
            Ok(ip) if is_trusted(ip) => continue,
            Ok(ip) => return *ip,
            Err(_) => break,
        }
    }
    peer
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
        assert_eq!(ip("6.6.6.6,1.2.3.4:80 ,[10.0.0.7]:1"), "1.2.3.4");
    }

    #[test]
    fn an_unparsable_rightmost_entry_is_a_client_of_its_own_not_the_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let key = |xff: &str| client_ip(&parts("10.0.0.2:5000", Some(xff)), &trusted).to_string();
        assert_ne!(key("garbage"), "10.0.0.2");
        assert_ne!(key("garbage"), key("rubbish"));
        assert_eq!(key("1.2.3.4, garbage"), key("garbage"), "right-most untrusted counts");
        assert_ne!(key("1.2.3.4:99999"), "10.0.0.2", "a port out of range is not an address");
    }

    #[test]
    fn rfc7239_forwarded_follows_the_same_trust_rules() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("cidr")];
        let key = |peer: &str, headers: &[(&str, &str)]| {
            client_ip(&with_headers(peer, headers), &trusted).to_string()
        };
        let fwd = |v: &str| key("10.0.0.2:5000", &[("forwarded", v)]);
        assert_eq!(fwd("for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60");
        assert_eq!(fwd("for=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17");
        assert_eq!(fwd("for=\"192.0.2.60:8080\""), "192.0.2.60");
        assert_eq!(fwd("FOR=192.0.2.60"), "192.0.2.60");
        assert_eq!(fwd("for=6.6.6.6, for=192.0.2.60, for=10.1.1.1"), "192.0.2.60");
        assert_eq!(
            key("10.0.0.2:5000", &[("forwarded", "for=6.6.6.6"), ("forwarded", "for=192.0.2.61")]),
            "192.0.2.61",
            "several header lines form one list"
        );
        // Obfuscated identifiers and `unknown` are keys of their own, never the proxy's.
        assert_ne!(fwd("for=_hidden"), "10.0.0.2");
        assert_ne!(fwd("for=_hidden"), fwd("for=_other"));
        assert_ne!(fwd("for=unknown"), "10.0.0.2");
        assert_ne!(fwd("for=\"_hidden:_port\""), "10.0.0.2");
        // Not from an untrusted peer.
        assert_eq!(key("203.0.113.9:1", &[("forwarded", "for=1.2.3.4")]), "203.0.113.9");
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
