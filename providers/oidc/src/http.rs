//! The HTTP client a provider uses to reach its issuer.

use std::time::Duration;

pub(crate) use idp_jose::fetch::{get_json, without_url};
use idp_provider_api::{OutboundTls, ProviderError};

/// One client per provider, from the gateway's shared builder: the configured trust roots
/// (`[tls]`), redirects off (a redirect from the token endpoint or the JWKS URL could point
/// anywhere: SSRF), a timeout on every request.
pub(crate) fn client(
    timeout: Duration,
    tls: &OutboundTls,
) -> Result<reqwest::Client, ProviderError> {
    tls.client_builder(timeout)
        .user_agent(concat!("idp-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Misconfigured(format!("cannot build the HTTP client: {e}")))
}
