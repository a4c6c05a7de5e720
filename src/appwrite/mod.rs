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
//! status class ([`AppwriteCalls`]). This module holds the routes and their models; the
//! transport (headers, retries, answer reading) is in `transport`.
//! Must not: log the API key or a token secret (both are `Secret`s).

pub mod directory;
pub mod error;
pub mod id;
pub mod probe;
mod sessions;
pub mod settings;
mod transport;
pub mod users;

use std::time::Duration;

use idp_provider_api::{OutboundTls, Secret};
use reqwest::Method;
use url::Url;

pub use error::{AppwriteError, AppwriteErrorType};
pub use id::{LABELS_MAX, ProjectId, is_valid_appwrite_id, is_valid_label};
pub use settings::{AppwriteConfig, EndpointError, TokenConfig, parse_endpoint};
pub use users::{NewUser, Token, User};

use crate::metrics::AppwriteCalls;
use transport::{Auth, Operation, Retry};

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
}
