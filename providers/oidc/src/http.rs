//! The HTTP client a provider uses to reach its issuer.

use std::time::Duration;

use idp_provider_api::{OutboundTls, ProviderError};
use serde::de::DeserializeOwned;
use url::Url;

/// Largest discovery or JWKS document accepted; anything bigger is an attack or a mistake.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

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

/// GETs a JSON document (discovery, JWKS) with a size cap.
///
/// # Errors
/// `Upstream` for transport errors, non-200 answers, oversized or unparsable bodies.
pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    what: &str,
) -> Result<T, ProviderError> {
    let upstream = |detail: String| ProviderError::Upstream(format!("{what} at {url}: {detail}"));
    let mut response = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| upstream(format!("request failed: {}", without_url(&e))))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(upstream(format!(
            "answered HTTP {}",
            response.status().as_u16()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| upstream(format!("reading the body failed: {}", without_url(&e))))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(upstream(format!("body exceeds {MAX_DOCUMENT_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| upstream(format!("not valid JSON for a {what}: {e}")))
}

/// A reqwest error with its causes, without its URL (the caller already names it).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{text}: {}", idp_provider_api::error_chain(source)),
        None => text,
    }
}
