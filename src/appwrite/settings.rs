//! The client's settings, built by `config` from `[appwrite]` and `[token]`.

use std::time::Duration;

use idp_provider_api::Secret;
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

/// `[token]`: how the Appwrite custom token is minted.
#[derive(Debug, Clone, Copy)]
pub struct TokenConfig {
    /// Secret length, 4..=128.
    pub length: u32,
    /// Lifetime in seconds, 60..=31536000.
    pub expire_seconds: u32,
}
