//! The URL rule shared by provider issuers, the Appwrite endpoint, the public URL and the
//! redirect allow-list: an absolute https URL, or http on a loopback host (localhost,
//! 127.0.0.0/8, [::1]); no query, fragment or credentials.

use std::fmt;

use url::{Host, Url};

/// Why a URL breaks the rule. `Display` does not repeat the URL: callers name it with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRuleError {
    /// Not an absolute URL.
    NotAbsolute(String),
    /// `http://` on a host that is not loopback.
    Http,
    /// Neither http nor https.
    Scheme(String),
    /// A query or fragment.
    QueryOrFragment,
    /// `user:password@`.
    Credentials,
}

impl fmt::Display for UrlRuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAbsolute(e) => write!(f, "is not an absolute URL ({e})"),
            Self::Http => f.write_str("uses http: only https is allowed except on loopback hosts"),
            Self::Scheme(scheme) => write!(f, "has scheme {scheme:?}: must be https"),
            Self::QueryOrFragment => f.write_str("must not have a query or fragment"),
            Self::Credentials => f.write_str("must not contain credentials"),
        }
    }
}

/// Whether the URL's host is loopback (localhost, 127.0.0.0/8, [::1]). The host of a URL
/// whose scheme the URL standard does not know (`redis://127.0.0.1`) stays a name, so a name
/// that is an IPv4 address counts as that address.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses `text` under the rule; `allow_any_http` also permits http on other hosts (a
/// provider's `allow_insecure_http`).
///
/// # Errors
/// Which part of the rule `text` breaks.
pub fn secure_url(text: &str, allow_any_http: bool) -> Result<Url, UrlRuleError> {
    let url = Url::parse(text).map_err(|e| UrlRuleError::NotAbsolute(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_any_http || is_loopback(&url) => {}
        "http" => return Err(UrlRuleError::Http),
        other => return Err(UrlRuleError::Scheme(other.to_string())),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UrlRuleError::QueryOrFragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRuleError::Credentials);
    }
    Ok(url)
}

/// A base URL (the gateway's public URL, the Appwrite endpoint): [`secure_url`] without the
/// http exception, returned without a trailing slash so that paths can be appended.
///
/// # Errors
/// As [`secure_url`].
pub fn base_url(text: &str) -> Result<Url, UrlRuleError> {
    base_url_with(text, false)
}

/// [`base_url`], where `allow_any_http` also permits http on other hosts (the gateway's own
/// `public_url` in development, which check-config then warns about).
///
/// # Errors
/// As [`secure_url`].
pub fn base_url_with(text: &str, allow_any_http: bool) -> Result<Url, UrlRuleError> {
    let mut url = secure_url(text, allow_any_http)?;
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_of_any_scheme() {
        let loopback = |text: &str| is_loopback(&Url::parse(text).expect("URL"));
        for text in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "redis://127.0.0.1:6379",
            "redis://127.9.9.9",
            "redis://[::1]:6379",
            "valkey://localhost",
        ] {
            assert!(loopback(text), "{text}");
        }
        for text in [
            "redis://10.0.0.1:6379",
            "redis://cache.internal",
            "http://128.0.0.1/",
        ] {
            assert!(!loopback(text), "{text}");
        }
    }

    #[test]
    fn the_rule() {
        assert!(secure_url("https://login.example.com/", false).is_ok());
        assert!(secure_url("http://127.0.0.1:8080", false).is_ok());
        assert!(secure_url("http://localhost/x", false).is_ok());
        assert!(secure_url("http://[::1]:9/", false).is_ok());
        assert_eq!(
            secure_url("http://example.com/", false),
            Err(UrlRuleError::Http)
        );
        assert!(secure_url("http://example.com/", true).is_ok());
        assert_eq!(
            secure_url("ftp://example.com/", true),
            Err(UrlRuleError::Scheme("ftp".into()))
        );
        assert_eq!(
            secure_url("https://e.com/?q", false),
            Err(UrlRuleError::QueryOrFragment)
        );
        assert_eq!(
            secure_url("https://e.com/#f", false),
            Err(UrlRuleError::QueryOrFragment)
        );
        assert_eq!(
            secure_url("https://u:p@e.com/", false),
            Err(UrlRuleError::Credentials)
        );
        assert!(matches!(
            secure_url("/relative", false),
            Err(UrlRuleError::NotAbsolute(_))
        ));
    }

    #[test]
    fn base_urls_lose_the_trailing_slash() {
        let url = base_url("https://gw.example.com/sub/").map(|u| u.to_string());
        assert_eq!(url, Ok("https://gw.example.com/sub".to_string()));
        assert_eq!(
            base_url("http://example.com/"),
            Err(UrlRuleError::Http),
            "no http exception for base URLs"
        );
    }
}
