//! The client's settings, built by `config` from `[appwrite]` and `[token]`.

use std::time::Duration;

use idp_provider_api::Secret;
use idp_provider_api::url_rule::{UrlRuleError, base_url};
use url::Url;

use super::id::ProjectId;

/// `[appwrite]`: the project and the server key the gateway mints with.
#[derive(Debug, Clone)]
pub struct AppwriteConfig {
    /// API base, e.g. `https://cloud.appwrite.io/v1`, without a trailing slash.
    pub endpoint: Url,
    /// Project id (`X-Appwrite-Project`).
    pub project: ProjectId,
    /// Server API key with users.read and users.write.
    pub api_key: Secret<String>,
    /// Timeout of each call.
    pub timeout: Duration,
}

/// Why an Appwrite endpoint is refused. Shows the text, never a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The text breaks the base-URL rule.
    #[error("{text:?} {rule}")]
    Rule {
        /// The endpoint as given.
        text: String,
        /// Which part of the rule it breaks.
        rule: UrlRuleError,
    },
    /// A URL, but not the API base.
    #[error("{0:?} must be the API base ending in /v1, e.g. https://cloud.appwrite.io/v1")]
    NotApiBase(String),
}

/// Parses an Appwrite endpoint: a base URL ([`base_url`]) whose path ends in `/v1`, returned
/// without a trailing slash.
///
/// # Errors
/// When `text` breaks the base-URL rule or is not the API base.
pub fn parse_endpoint(text: &str) -> Result<Url, EndpointError> {
    let url = base_url(text).map_err(|rule| EndpointError::Rule {
        text: text.to_string(),
        rule,
    })?;
    if url.path().ends_with("/v1") {
        Ok(url)
    } else {
        Err(EndpointError::NotApiBase(text.to_string()))
    }
}

/// `[token]`: how the Appwrite custom token is minted.
#[derive(Debug, Clone, Copy)]
pub struct TokenConfig {
    /// Secret length, 4..=128.
    pub length: u32,
    /// Lifetime in seconds, 60..=31536000.
    pub expire_seconds: u32,
}
