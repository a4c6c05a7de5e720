//! Errors a provider reports. The edge tells the variants apart; the detail strings go to logs
//! only, and `Rejection::reason` is the only part a browser sees.

use std::fmt;

/// Why a login through a provider did not produce an `Identity`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The assertion failed a check (signature, issuer, audience, nonce...).
    #[error("assertion rejected: {0}")]
    Rejected(Rejection),
    /// The provider itself refused the login (for example `error=access_denied`).
    #[error("provider refused the login: {0}")]
    Denied(String),
    /// The provider could not be reached or answered garbage.
    #[error("provider unavailable: {0}")]
    Upstream(String),
    /// The provider's configuration does not fit what it publishes.
    #[error("provider misconfigured: {0}")]
    Misconfigured(String),
    /// A service the gateway lends the provider (the replay cache, the Appwrite directory)
    /// failed: the login fails closed.
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
    /// A request parameter the provider cannot use: a requested scope that is no scope token
    /// at `start`, or an answer without a code at `callback`.
    #[error("invalid {param}: {reason}")]
    InvalidRequest {
        /// The parameter, e.g. `scopes` or `code`.
        param: &'static str,
        /// Why, without the value when it may be secret.
        reason: String,
    },
}

impl ProviderError {
    /// A rejection (401) with a stable reason code and a detail for the logs.
    pub fn rejected(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::refused(reason, 401, detail)
    }

    /// A refusal with its own HTTP status: 403 for a login that is not allowed yet (a
    /// biometric profile still enrolling), 429 when the provider throttles, 503 when a
    /// provider-specific upstream is down (`typingdna_unavailable`).
    pub fn refused(reason: &'static str, status: u16, detail: impl Into<String>) -> Self {
        Self::Rejected(Rejection {
            reason,
            status,
            rule: None,
            detail: detail.into(),
        })
    }

    /// A verified identity that a provider-specific rule does not admit (an Auth0
    /// organization, a connection, a tenant): `access_denied` (403), whose public message names
    /// `rule` (a config key such as `allowed_organizations`). The `detail` (logs only) may say
    /// more, but never another user's claim values.
    pub fn access_denied(rule: &'static str, detail: impl Into<String>) -> Self {
        Self::Rejected(Rejection {
            reason: "access_denied",
            status: 403,
            rule: Some(rule),
            detail: detail.into(),
        })
    }
}

/// A failed check: a stable snake_case `reason` (public: error `type`, metrics label), the HTTP
/// status that fits (401 unless the provider says otherwise) and a `detail` for the logs that
/// never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Stable code, e.g. `id_token_issuer_mismatch`.
    pub reason: &'static str,
    /// The HTTP status of the public error (the `code` of `{"message","type","code"}`).
    pub status: u16,
    /// The configured rule that refused an otherwise valid identity, named in the public
    /// message (`access_denied` only).
    pub rule: Option<&'static str>,
    /// What exactly was wrong, for operators.
    pub detail: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// A provider configuration that cannot be opened: every problem, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct OpenError {
    /// The problems found, in key order.
    pub problems: Vec<ConfigProblem>,
}

impl OpenError {
    /// Reads provider `id`'s table (or part of it) into `T`; every value that does not fit is
    /// one problem in plain words naming its full key (`providers.<id>.<key>`), all at once.
    ///
    /// # Errors
    /// Every value that does not deserialize, and a missing required key.
    pub fn deserialize<T: serde::de::DeserializeOwned>(
        id: &str,
        table: serde_json::Value,
    ) -> Result<T, Self> {
        let read = crate::deserialize::read(&format!("providers.{id}"), table);
        match read.value {
            Some(value) if read.problems.is_empty() => Ok(value),
            _ => Err(Self {
                problems: read.problems,
            }),
        }
    }
}

/// One bad configuration value: the full key (`providers.corp.issuer`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The dotted key, as in the TOML file.
    pub key: String,
    /// Why the value is refused.
    pub reason: String,
}

impl ConfigProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// An error and its sources, joined with `: ` (transport errors often say only "error sending
/// request" at the top). Strip URLs with query strings before calling this on a client error.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
