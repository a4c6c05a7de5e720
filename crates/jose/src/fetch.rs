//! Fetching a JSON document (discovery, JWKS) from an issuer: bounded, and with errors that
//! name the document and the URL once.

use idp_provider_api::ProviderError;
use serde::de::DeserializeOwned;
use url::Url;

/// Largest discovery or JWKS document accepted; anything bigger is an attack or a mistake.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// GETs a JSON document (discovery, JWKS) with a size cap.
///
/// # Errors
/// `Upstream` for transport errors, non-200 answers, oversized or unparsable bodies.
pub async fn get_json<T: DeserializeOwned>(
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
pub fn without_url(e: &reqwest::Error) -> String {
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
