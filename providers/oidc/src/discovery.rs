//! OpenID Provider metadata: fetched from `{issuer}/.well-known/openid-configuration`, accepted
//! only when its `issuer` equals the configured issuer exactly (Discovery 1.0 section 4.3).

use idp_provider_api::ProviderError;
use serde::Deserialize;
use url::Url;

use crate::http::get_json;
use idp_provider_api::url_rule::is_loopback;

/// The few metadata fields the code flow needs. A struct of our own rather than
/// openidconnect's `CoreProviderMetadata`, which refuses whole documents over one unknown enum
/// value in fields we never read.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// The provider's issuer identifier.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: Url,
    /// Where codes are exchanged.
    pub token_endpoint: Url,
    /// The only place signing keys come from.
    pub jwks_uri: Url,
    /// Algorithms the provider may sign ID tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// RFC 9207: the authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// The discovery URL of an issuer: the issuer with `/.well-known/openid-configuration` appended
/// to its path (never replacing it: `https://h/tenant` → `https://h/tenant/.well-known/...`).
pub(crate) fn discovery_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = issuer.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{path}/.well-known/openid-configuration"));
    url
}

/// Fetches and checks the metadata.
///
/// # Errors
/// `Upstream` when the document cannot be fetched; `Misconfigured` when its issuer differs from
/// the configured one or an endpoint uses http on a non-loopback host without permission.
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &str,
    issuer_url: &Url,
    allow_insecure_http: bool,
) -> Result<Metadata, ProviderError> {
    let url = discovery_url(issuer_url);
    let metadata: Metadata = get_json(http, &url, "discovery document").await?;
    if metadata.issuer != issuer {
        return Err(ProviderError::Misconfigured(format!(
            "discovery document at {url} names issuer {:?}, but the configured issuer is {issuer:?}; they must be equal character for character",
            metadata.issuer
        )));
    }
    for (name, endpoint) in [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
    ] {
        let secure = endpoint.scheme() == "https"
            || (endpoint.scheme() == "http" && (allow_insecure_http || is_loopback(endpoint)));
        if !secure {
            return Err(ProviderError::Misconfigured(format!(
                "discovery document at {url}: {name} {endpoint} must be https"
            )));
        }
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_appends_to_the_issuer_path() {
        let cases = [
            ("https://h", "https://h/.well-known/openid-configuration"),
            ("https://h/", "https://h/.well-known/openid-configuration"),
            (
                "https://h/t/v2.0",
                "https://h/t/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://h/realms/x/",
                "https://h/realms/x/.well-known/openid-configuration",
            ),
        ];
        for (issuer, want) in cases {
            let url = Url::parse(issuer).expect("test URL");
            assert_eq!(discovery_url(&url).as_str(), want);
        }
    }
}
