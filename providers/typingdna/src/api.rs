//! The TypingDNA Authentication API client: `POST /auto/{id}`, `POST /verify/{id}` and (for
//! check-config) `GET /user/{id}`, HTTP
//! Basic `api_key:api_secret`, form bodies, JSON answers, and the mapping of every documented
//! error to a refusal that fails closed.

use std::time::Duration;

use idp_provider_api::{OutboundTls, ProviderError, Secret, error_chain};
use serde::Deserialize;
use url::Url;

/// Largest answer read from TypingDNA; its answers are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Public error types of TypingDNA's own refusals (stable, like every error type).
pub mod reason {
    /// TypingDNA is down, slow, in maintenance, or answered something unusable (503).
    pub const UNAVAILABLE: &str = "typingdna_unavailable";
    /// TypingDNA throttles this account or this gateway's address (429).
    pub const RATE_LIMITED: &str = "typingdna_rate_limited";
    /// TypingDNA refused the pattern itself: invalid, mixed devices or types, too many (400).
    pub const PATTERN_INVALID: &str = "typingdna_pattern_invalid";
    /// The TypingDNA subscription's user or verification cap is reached (503).
    pub const QUOTA_EXCEEDED: &str = "typingdna_quota_exceeded";
}

/// What `/auto` decided (a 200 answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AutoAnswer {
    /// `enroll`, `verify` or `verify;enroll`.
    pub action: String,
    /// 1 for a match.
    pub result: i64,
    /// 1 when TypingDNA is confident in `result`.
    pub high_confidence: i64,
    /// 1 when the pattern was stored.
    pub enrollment: i64,
    /// TypingDNA's message code (1: done).
    pub message_code: Option<i64>,
}

impl AutoAnswer {
    /// Whether `action` names step `name` (`verify`, `enroll`).
    pub fn did(&self, name: &str) -> bool {
        self.action.split(';').any(|a| a.trim() == name)
    }
}

#[derive(Deserialize)]
struct RawAnswer {
    status: Option<i64>,
    message_code: Option<i64>,
    name: Option<String>,
    action: Option<String>,
    result: Option<i64>,
    high_confidence: Option<i64>,
    enrollment: Option<i64>,
}

/// The client of one provider.
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    api_key: String,
    api_secret: Secret<String>,
    timeout: Duration,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("api_key", &"[redacted]")
            .field("api_secret", &self.api_secret)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A client for `api_url`, with the gateway's trust roots, no redirects, and `timeout` on
    /// every call.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        api_url: &Url,
        api_key: String,
        api_secret: Secret<String>,
        timeout: Duration,
        tls: &OutboundTls,
    ) -> Result<Self, String> {
        let http = tls
            .client_builder(timeout)
            .user_agent(concat!("idp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: api_url.as_str().trim_end_matches('/').to_string(),
            api_key,
            api_secret,
            timeout,
        })
    }

    /// `POST /auto/{id}` with form field `tp`: enrolls or verifies.
    ///
    /// # Errors
    /// A refusal for every non-success answer (see [`refusal`]).
    pub async fn auto(&self, id: &str, tp: &str) -> Result<AutoAnswer, ProviderError> {
        self.judge("/auto", id, tp).await
    }

    /// `POST /verify/{id}` with form field `tp`: verifies only and never stores a pattern (Pro
    /// and Enterprise plans). What `login` mode calls: a stranger's typing must never become
    /// part of someone's profile.
    ///
    /// # Errors
    /// A refusal for every non-success answer (see [`refusal`]).
    pub async fn verify(&self, id: &str, tp: &str) -> Result<AutoAnswer, ProviderError> {
        self.judge("/verify", id, tp).await
    }

    /// `GET /user/{id}` (TypingDNA's "check user"): reads how many patterns `id` has and
    /// stores nothing. What check-config calls to learn whether the credentials are accepted.
    ///
    /// # Errors
    /// A refusal for every non-success answer (see [`refusal`]).
    pub async fn check_user(&self, id: &str) -> Result<(), ProviderError> {
        let request = self.http.get(format!("{}/user/{id}", self.base));
        self.call(request, "/user").await.map(|_| ())
    }

    async fn judge(&self, endpoint: &str, id: &str, tp: &str) -> Result<AutoAnswer, ProviderError> {
        let request = self
            .http
            .post(format!("{}{endpoint}/{id}", self.base))
            .form(&[("tp", tp)]);
        let raw = self.call(request, endpoint).await?;
        let Some(action) = raw.action else {
            return Err(ProviderError::refused(
                reason::UNAVAILABLE,
                503,
                format!("TypingDNA {endpoint} answered 200 without an action"),
            ));
        };
        Ok(AutoAnswer {
            action,
            result: raw.result.unwrap_or(0),
            high_confidence: raw.high_confidence.unwrap_or(0),
            enrollment: raw.enrollment.unwrap_or(0),
            message_code: raw.message_code,
        })
    }

    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<RawAnswer, ProviderError> {
        let unavailable = |detail: String| {
            ProviderError::refused(
                reason::UNAVAILABLE,
                503,
                format!("TypingDNA {what}: {detail}"),
            )
        };
        let mut response = request
            .basic_auth(&self.api_key, Some(self.api_secret.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(self.transport(e)))?;
        let http_status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(self.transport(e)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(unavailable(format!(
                    "answer exceeds {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let raw: Option<RawAnswer> = serde_json::from_slice(&body).ok();
        // The envelope repeats the status; an error in a 200 answer counts as that error.
        let status = match raw.as_ref().and_then(|r| r.status) {
            Some(inner) if http_status == 200 => u16::try_from(inner).unwrap_or(599),
            _ => http_status,
        };
        match raw {
            Some(raw) if status == 200 => Ok(raw),
            Some(raw) => Err(refusal(what, status, raw.message_code, raw.name.as_deref())),
            None if status == 200 => Err(unavailable("answered 200 without a JSON body".into())),
            None => Err(refusal(what, status, None, None)),
        }
    }

    /// A transport failure, without the URL (the caller names the call).
    fn transport(&self, e: reqwest::Error) -> String {
        if e.is_timeout() {
            return format!(
                "no answer within {} ms (timeout_ms)",
                self.timeout.as_millis()
            );
        }
        error_chain(&e.without_url())
    }
}

/// The refusal for a TypingDNA error answer: HTTP `status` (or the envelope's), its
/// `message_code` and `name` (no secret: TypingDNA's own error title).
pub(crate) fn refusal(
    what: &str,
    status: u16,
    message_code: Option<i64>,
    name: Option<&str>,
) -> ProviderError {
    let name: String = name.unwrap_or("").chars().take(100).collect();
    let code = message_code.map_or_else(|| "none".to_string(), |c| c.to_string());
    let detail = format!("TypingDNA {what} answered {status} (message_code {code}: {name:?})");
    match status {
        // Throughput of the account (429/52) or of this address (452/43).
        429 | 452 => ProviderError::refused(reason::RATE_LIMITED, 429, detail),
        // The pattern: syntax (400/31), invalid (445/36), too large (447/42), mobile and
        // desktop mixed (448/40), other text or length (449/41), other types (450/44), mobile
        // without motion data (453/46), incompatible (458/55), too many (459/56).
        400 | 445 | 447 | 448 | 449 | 450 | 453 | 458 | 459 => {
            ProviderError::refused(reason::PATTERN_INVALID, 400, detail)
        }
        // The subscription: unsupported operation (456/53), user cap (461/51), verification cap
        // (462/57).
        456 | 461 | 462 => ProviderError::refused(reason::QUOTA_EXCEEDED, 503, detail),
        // The gateway's side: credentials (401/32, 403/33), a wrong api_url path (404/38,
        // 405/34), a user id TypingDNA refuses (444/35).
        401 | 403 | 404 | 405 | 444 => ProviderError::Misconfigured(detail),
        // Maintenance (451/45), match server down (454/47), 5xx, and anything undocumented.
        _ => ProviderError::refused(reason::UNAVAILABLE, 503, detail),
    }
}
