//! The Appwrite transport: the request with its project, key or JWT headers, bounded retries
//! with backoff where repeating a call cannot do harm, the size limit on answers, and the typed
//! error of each way a call can end. Each attempt is timed into the metrics.
//! Must not: know any route or model (the routes are in the parent module), put a URL in an
//! error (list queries carry an email), or quote an answer's values.

use std::time::{Duration, Instant};

use idp_provider_api::Secret;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

use super::AppwriteClient;
use super::error::{AppwriteError, AppwriteErrorType, ErrorBody};
use crate::metrics::AppwriteStatus;

/// Attempts for a call that may be repeated (1 + 2 retries).
const MAX_ATTEMPTS: u32 = 3;
/// First backoff; doubled after each failed attempt.
const BACKOFF: Duration = Duration::from_millis(100);
/// Answers larger than this are refused (a user list of one is far smaller).
const MAX_BODY: usize = 256 * 1024;

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Reads and idempotent writes: retried on connection errors, 429 and 5xx.
    Safe,
    /// Retried only on 429, which Appwrite answers before doing anything.
    OnlyIfRefused,
}

/// The calls the client makes: a name for errors and logs, a label for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    GetUser,
    CreateUser,
    VerifyEmail,
    SetLabels,
    ListUsers,
    CreateToken,
    DeleteSessions,
    GetAccount,
    Ping,
    ProbeWrite,
}

impl Operation {
    /// How errors name the call.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::GetUser => "get user",
            Self::CreateUser => "create user",
            Self::VerifyEmail => "verify email",
            Self::SetLabels => "set labels",
            // The readiness ping is a one-user list; its errors say so.
            Self::ListUsers | Self::Ping => "list users",
            Self::ProbeWrite => "probe users.write",
            Self::CreateToken => "create token",
            Self::DeleteSessions => "delete sessions",
            Self::GetAccount => "get account",
        }
    }

    /// The `operation` label of `idp_bridge_appwrite_request_duration_seconds`.
    fn label(self) -> &'static str {
        match self {
            Self::GetUser => "get_user",
            Self::CreateUser => "create_user",
            Self::VerifyEmail => "verify_email",
            Self::SetLabels => "set_labels",
            Self::ListUsers => "list_users",
            Self::CreateToken => "create_token",
            Self::DeleteSessions => "delete_sessions",
            Self::GetAccount => "get_account",
            Self::Ping => "ping",
            Self::ProbeWrite => "probe_write",
        }
    }
}

/// Who a call is made as.
#[derive(Clone, Copy)]
pub(super) enum Auth<'a> {
    /// The server API key (`X-Appwrite-Key`): every Users API call.
    Key,
    /// A user's account JWT (`X-Appwrite-JWT`), without the key: `GET /v1/account` then answers
    /// for that user and nobody else.
    Jwt(&'a Secret<String>),
}

impl AppwriteClient {
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub(super) fn request(
        &self,
        auth: Auth<'_>,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> RequestBuilder {
        let request = self
            .http
            .request(method, url)
            .header("X-Appwrite-Project", self.project.as_str())
            .header("X-Appwrite-Response-Format", "1.8.0");
        let request = match auth {
            Auth::Key => request.header("X-Appwrite-Key", self.key.expose()),
            Auth::Jwt(jwt) => request.header("X-Appwrite-JWT", jwt.expose()),
        };
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        operation: Operation,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
        retry: Retry,
    ) -> Result<T, AppwriteError> {
        self.call_as(Auth::Key, operation, method, url, body, retry)
            .await
    }

    pub(super) async fn call_as<T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        operation: Operation,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
        retry: Retry,
    ) -> Result<T, AppwriteError> {
        let mut attempt = 1;
        loop {
            let result = self
                .attempt(auth, operation, method.clone(), url.clone(), body.as_ref())
                .await;
            let retryable = match &result {
                Ok(_) => false,
                Err(AppwriteError::Api { status: 429, .. }) => true,
                Err(e) => retry == Retry::Safe && e.is_unavailable(),
            };
            if !retryable || attempt >= MAX_ATTEMPTS {
                return result;
            }
            if let Err(error) = &result {
                tracing::warn!(%error, attempt, "retrying Appwrite call");
            }
            tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
            attempt += 1;
        }
    }

    /// One request, timed into the metrics with how it ended.
    async fn attempt<T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        operation: Operation,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, AppwriteError> {
        let started = Instant::now();
        let (status, result) = self
            .exchange(auth, operation.name(), method, url, body)
            .await;
        self.calls
            .observe(operation.label(), status, started.elapsed());
        result
    }

    /// Sends one request and reads its answer; also says how it ended, for the metrics.
    async fn exchange<T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> (AppwriteStatus, Result<T, AppwriteError>) {
        let failed = |e: reqwest::Error| {
            let status = if e.is_timeout() {
                AppwriteStatus::Timeout
            } else {
                AppwriteStatus::Connection
            };
            let error = AppwriteError::Transport {
                operation,
                detail: describe(e),
            };
            (status, Err(error))
        };
        let mut response = match self.request(auth, method, url, body).send().await {
            Ok(response) => response,
            Err(e) => return failed(e),
        };
        let status = response.status();
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() > MAX_BODY => {
                    let error = AppwriteError::Protocol {
                        operation,
                        detail: format!("answer larger than {MAX_BODY} bytes"),
                    };
                    return (AppwriteStatus::Http(status.as_u16()), Err(error));
                }
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return failed(e),
            }
        }
        (
            AppwriteStatus::Http(status.as_u16()),
            read_answer(operation, status, &bytes),
        )
    }
}

/// The model of a 2xx answer, or the typed error of any other.
fn read_answer<T: DeserializeOwned>(
    operation: &'static str,
    status: reqwest::StatusCode,
    bytes: &[u8],
) -> Result<T, AppwriteError> {
    if status.is_success() {
        // 204 No Content has no body: it reads as JSON `null`, the unit model.
        let bytes = match (status, bytes) {
            (reqwest::StatusCode::NO_CONTENT, []) => b"null".as_slice(),
            _ => bytes,
        };
        // serde_json's message can quote a value of the body (a token's secret): only its
        // category and place are kept.
        return serde_json::from_slice(bytes).map_err(|e| AppwriteError::Protocol {
            operation,
            detail: format!(
                "HTTP {status} with a body that is not the documented model ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        });
    }
    let error: ErrorBody = serde_json::from_slice(bytes).unwrap_or(ErrorBody {
        message: format!("non-JSON error body ({} bytes)", bytes.len()),
        kind: String::new(),
    });
    Err(AppwriteError::Api {
        operation,
        status: status.as_u16(),
        kind: AppwriteErrorType::from_type(&error.kind),
        message: error.message,
    })
}

/// A transport error with its causes, without the URL (list queries carry an email).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    idp_provider_api::error_chain(&e.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appwrite::Token;

    #[test]
    fn an_answer_off_the_model_is_reported_without_its_values() {
        let body = br#"{"$id":"t1","userId":"u1","secret":"s3cr3t-token-value","expire":5}"#;
        let error = read_answer::<Token>("create_token", reqwest::StatusCode::CREATED, body)
            .expect_err("expire is not a string");
        let text = error.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("not the documented model"), "{text}");
        let typed = read_answer::<u32>("ping", reqwest::StatusCode::OK, br#""s3cr3t-token-value""#)
            .expect_err("a string is not a number");
        assert!(!typed.to_string().contains("s3cr3t"), "{typed}");
    }
}
