//! A small typed client for the Appwrite calls the gateway makes: the Users API routes (user,
//! labels, token, list, sessions: the back-channel logout's) and `GET /v1/account`.
//!
//! Written on reqwest rather than the official `appwrite` crate, which targets Appwrite Cloud
//! 2.x, brings native-tls/OpenSSL and a second reqwest, and forces downgrades of common crates.
//! Seven routes do not justify that.
//!
//! One pooled reqwest client with a timeout; the project and key headers on every call; a typed
//! error for each Appwrite error `type`; bounded retries with backoff only where repeating the
//! call cannot do harm (see [`Retry`]). Every attempt is timed into the metrics by operation and
//! status class ([`AppwriteCalls`]).
//! Must not: log the API key or a token secret (both are `Secret`s).

pub mod directory;
pub mod error;
pub mod id;
pub mod probe;
mod sessions;
pub mod settings;
pub mod users;

use std::time::{Duration, Instant};

use idp_provider_api::{OutboundTls, Secret};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use url::Url;

pub use error::{AppwriteError, AppwriteErrorType};
pub use id::{LABELS_MAX, ProjectId, is_valid_appwrite_id, is_valid_label};
pub use settings::{AppwriteConfig, EndpointError, TokenConfig, parse_endpoint};
pub use users::{NewUser, Token, User};

use crate::metrics::{AppwriteCalls, AppwriteStatus};
use error::ErrorBody;

/// Attempts for a call that may be repeated (1 + 2 retries).
const MAX_ATTEMPTS: u32 = 3;
/// First backoff; doubled after each failed attempt.
const BACKOFF: Duration = Duration::from_millis(100);
/// Answers larger than this are refused (a user list of one is far smaller).
const MAX_BODY: usize = 256 * 1024;

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads and idempotent writes: retried on connection errors, 429 and 5xx.
    Safe,
    /// Retried only on 429, which Appwrite answers before doing anything.
    OnlyIfRefused,
}

/// The calls the client makes: a name for errors and logs, a label for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
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
    fn name(self) -> &'static str {
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
enum Auth<'a> {
    /// The server API key (`X-Appwrite-Key`): every Users API call.
    Key,
    /// A user's account JWT (`X-Appwrite-JWT`), without the key: `GET /v1/account` then answers
    /// for that user and nobody else.
    Jwt(&'a Secret<String>),
}

/// The Appwrite client; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct AppwriteClient {
    http: reqwest::Client,
    endpoint: Url,
    project: ProjectId,
    key: Secret<String>,
    calls: AppwriteCalls,
}

impl AppwriteClient {
    /// Builds the client from `[appwrite]`, trusting the CAs of `tls` (`[tls]`).
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(config: &AppwriteConfig, tls: &OutboundTls) -> Result<Self, AppwriteError> {
        let http = tls
            .client_builder(config.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("idp-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppwriteError::Transport {
                operation: "client setup",
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            endpoint: config.endpoint.clone(),
            project: config.project.clone(),
            key: config.api_key.clone(),
            calls: AppwriteCalls::default(),
        })
    }

    /// The same client, timing its calls into `calls` (from `Metrics::appwrite`).
    #[must_use]
    pub fn with_metrics(mut self, calls: AppwriteCalls) -> Self {
        self.calls = calls;
        self
    }

    /// `GET /v1/users/{id}`; `None` when Appwrite answers `user_not_found`.
    ///
    /// # Errors
    /// Any other failure.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, AppwriteError> {
        let url = self.url(&["users", id]);
        match self
            .call::<User>(Operation::GetUser, Method::GET, url, None, Retry::Safe)
            .await
        {
            Ok(user) => Ok(Some(user)),
            Err(e) if e.kind() == Some(&AppwriteErrorType::UserNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/users` with a custom id. Retried like a read: the id is deterministic, so a
    /// repeat of a create that did happen answers 409, which the caller resolves by reading.
    ///
    /// # Errors
    /// `Api` with `UserAlreadyExists` on any clash; other failures.
    pub async fn create_user(&self, user: &NewUser<'_>) -> Result<User, AppwriteError> {
        let body = serde_json::to_value(user).map_err(|e| AppwriteError::Protocol {
            operation: Operation::CreateUser.name(),
            detail: e.to_string(),
        })?;
        self.call(
            Operation::CreateUser,
            Method::POST,
            self.url(&["users"]),
            Some(body),
            Retry::Safe,
        )
        .await
    }

    /// `PATCH /v1/users/{id}/verification` to `true`. Idempotent, so retried like a read. There
    /// is deliberately no way to set it to `false`: the gateway never downgrades a verification.
    ///
    /// # Errors
    /// Any failure.
    pub async fn mark_email_verified(&self, user_id: &str) -> Result<User, AppwriteError> {
        let url = self.url(&["users", user_id, "verification"]);
        let body = serde_json::json!({"emailVerification": true});
        self.call(
            Operation::VerifyEmail,
            Method::PATCH,
            url,
            Some(body),
            Retry::Safe,
        )
        .await
    }

    /// `PUT /v1/users/{id}/labels` (replaces every label). Idempotent, so retried like a read.
    ///
    /// # Errors
    /// Any failure.
    pub async fn set_labels(
        &self,
        user_id: &str,
        labels: &[String],
    ) -> Result<User, AppwriteError> {
        let url = self.url(&["users", user_id, "labels"]);
        let body = serde_json::json!({ "labels": labels });
        self.call(
            Operation::SetLabels,
            Method::PUT,
            url,
            Some(body),
            Retry::Safe,
        )
        .await
    }

    /// `GET /v1/users` filtered by email with the JSON query syntax (Appwrite 1.5+); at most two
    /// users (enough to tell "one" from "several"), each checked to have exactly that email.
    ///
    /// # Errors
    /// Any failure; `Protocol` when a user in the answer does not have the email (see
    /// [`AppwriteClient::list_users`]).
    pub async fn list_users_by_email(&self, email: &str) -> Result<Vec<User>, AppwriteError> {
        let filter =
            serde_json::json!({"method": "equal", "attribute": "email", "values": [email]});
        self.list_users(filter, "email", |user| user.email == email)
            .await
    }

    /// `GET /v1/users` of the users whose labels contain `label`; at most two, each checked to
    /// carry it.
    ///
    /// # Errors
    /// Any failure; `Protocol` when a user in the answer does not carry the label.
    pub async fn list_users_by_label(&self, label: &str) -> Result<Vec<User>, AppwriteError> {
        let filter =
            serde_json::json!({"method": "contains", "attribute": "labels", "values": [label]});
        self.list_users(filter, "labels", |user| {
            user.labels.iter().any(|l| l == label)
        })
        .await
    }

    /// The users `filter` selects (at most two). Each user of the answer must pass `matches`,
    /// the filter's own meaning: a filter lost on the way (a proxy that strips `queries[]`, a
    /// server that ignores them) answers other users, and the gateway would then log a person
    /// into one of them. One such user makes the whole answer untrustworthy, so it is refused,
    /// not filtered here: with the limit lost too, dropping the strangers could leave "nobody
    /// has it" where the real holder was cut off, and a login would carry on from a false
    /// answer.
    async fn list_users(
        &self,
        filter: serde_json::Value,
        attribute: &'static str,
        matches: impl Fn(&User) -> bool,
    ) -> Result<Vec<User>, AppwriteError> {
        let limit = serde_json::json!({"method": "limit", "values": [2]});
        let mut url = self.url(&["users"]);
        url.query_pairs_mut()
            .append_pair("queries[]", &filter.to_string())
            .append_pair("queries[]", &limit.to_string())
            .append_pair("total", "false");
        let list: users::UserList = self
            .call(Operation::ListUsers, Method::GET, url, None, Retry::Safe)
            .await?;
        let strangers = list.users.iter().filter(|user| !matches(user)).count();
        if strangers > 0 {
            return Err(AppwriteError::Protocol {
                operation: Operation::ListUsers.name(),
                detail: format!(
                    "{strangers} of the {} users answered do not match the {attribute} filter \
                     (was it lost on the way?); the answer is not used",
                    list.users.len()
                ),
            });
        }
        Ok(list.users)
    }

    /// `POST /v1/users/{id}/tokens`. Not retried after a failure that may have minted (a
    /// timeout, a 5xx): the secret of such a token is lost, and we fail closed instead.
    ///
    /// # Errors
    /// Any failure.
    pub async fn create_token(
        &self,
        user_id: &str,
        length: u32,
        expire_seconds: u32,
    ) -> Result<Token, AppwriteError> {
        let body = serde_json::json!({"length": length, "expire": expire_seconds});
        let url = self.url(&["users", user_id, "tokens"]);
        self.call(
            Operation::CreateToken,
            Method::POST,
            url,
            Some(body),
            Retry::OnlyIfRefused,
        )
        .await
    }

    /// `GET /v1/account` as the owner of `jwt` (no API key): the user Appwrite says the JWT
    /// belongs to, or `None` when Appwrite refuses the JWT itself: 401 (invalid, expired, of a
    /// deleted session) or `user_blocked`.
    ///
    /// # Errors
    /// Transport failures, 5xx, malformed answers, and any other refusal (a wrong project, say):
    /// that is the gateway's setup, not the user's JWT, so it is not reported as one.
    pub async fn account_for_jwt(
        &self,
        jwt: &Secret<String>,
    ) -> Result<Option<User>, AppwriteError> {
        let url = self.url(&["account"]);
        match self
            .call_as::<User>(
                Auth::Jwt(jwt),
                Operation::GetAccount,
                Method::GET,
                url,
                None,
                Retry::Safe,
            )
            .await
        {
            Ok(user) => Ok(Some(user)),
            Err(AppwriteError::Api { status: 401, .. }) => Ok(None),
            Err(e) if e.kind() == Some(&AppwriteErrorType::UserBlocked) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A cheap authorised read (`GET /v1/users?queries[]=limit(1)&total=false`) proving that
    /// Appwrite is reachable and the key has `users.read`.
    ///
    /// # Errors
    /// Any failure.
    pub async fn ping(&self) -> Result<(), AppwriteError> {
        self.list_one(Retry::Safe).await
    }

    /// `GET /v1/users?queries[]=limit(1)&total=false`: [`ping`](Self::ping)'s read.
    async fn list_one(&self, retry: Retry) -> Result<(), AppwriteError> {
        let mut url = self.url(&["users"]);
        url.query_pairs_mut()
            .append_pair("queries[]", r#"{"method":"limit","values":[1]}"#)
            .append_pair("total", "false");
        let _: users::UserList = self
            .call(Operation::Ping, Method::GET, url, None, retry)
            .await?;
        Ok(())
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn request(
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

    async fn call<T: DeserializeOwned>(
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

    async fn call_as<T: DeserializeOwned>(
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
