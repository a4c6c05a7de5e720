//! Appwrite's error JSON (`{message, code, type, version}`) as a typed error.

use serde::Deserialize;

/// The Appwrite error `type`s the gateway tells apart (Appwrite's documented error types).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppwriteErrorType {
    /// 404: no user with that id.
    UserNotFound,
    /// 409: a user with the same id, email or phone exists.
    UserAlreadyExists,
    /// 409: the email belongs to an OAuth identity.
    UserEmailAlreadyExists,
    /// 409: the phone is taken.
    UserPhoneAlreadyExists,
    /// 400: a parameter failed validation.
    GeneralArgumentInvalid,
    /// 400: a query failed to parse.
    GeneralQueryInvalid,
    /// 401: the key is unknown or lacks a scope.
    GeneralUnauthorizedScope,
    /// 401: the key expired.
    ProjectKeyExpired,
    /// 404: no such project.
    ProjectNotFound,
    /// 429.
    GeneralRateLimitExceeded,
    /// 401: a token is unknown, wrong, used or expired.
    UserInvalidToken,
    /// 403.
    UserBlocked,
    /// 404: the route does not exist (wrong endpoint or version).
    GeneralRouteNotFound,
    /// 500.
    GeneralServerError,
    /// 500.
    GeneralUnknown,
    /// Any other type, kept verbatim.
    Other(String),
}

impl AppwriteErrorType {
    /// Maps Appwrite's `type` string.
    pub fn from_type(kind: &str) -> Self {
        match kind {
            "user_not_found" => Self::UserNotFound,
            "user_already_exists" => Self::UserAlreadyExists,
            "user_email_already_exists" => Self::UserEmailAlreadyExists,
            "user_phone_already_exists" => Self::UserPhoneAlreadyExists,
            "general_argument_invalid" => Self::GeneralArgumentInvalid,
            "general_query_invalid" => Self::GeneralQueryInvalid,
            "general_unauthorized_scope" => Self::GeneralUnauthorizedScope,
            "project_key_expired" => Self::ProjectKeyExpired,
            "project_not_found" => Self::ProjectNotFound,
            "general_rate_limit_exceeded" => Self::GeneralRateLimitExceeded,
            "user_invalid_token" => Self::UserInvalidToken,
            "user_blocked" => Self::UserBlocked,
            "general_route_not_found" => Self::GeneralRouteNotFound,
            "general_server_error" => Self::GeneralServerError,
            "general_unknown" => Self::GeneralUnknown,
            other => Self::Other(other.to_string()),
        }
    }
}

/// A failed Appwrite call.
#[derive(Debug, thiserror::Error)]
pub enum AppwriteError {
    /// Appwrite answered with its error JSON.
    #[error("Appwrite {operation} answered HTTP {status} {kind:?}: {message}")]
    Api {
        /// Which call (`get user`, `create token`...).
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// The error `type`.
        kind: AppwriteErrorType,
        /// Appwrite's message (never holds our secrets).
        message: String,
    },
    /// No answer: connection refused or dropped, timeout.
    #[error("Appwrite {operation} failed: {detail}")]
    Transport {
        /// Which call.
        operation: &'static str,
        /// What happened.
        detail: String,
    },
    /// An answer that is not what the API documents.
    #[error("Appwrite {operation} answered unexpectedly: {detail}")]
    Protocol {
        /// Which call.
        operation: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl AppwriteError {
    /// The error type, when Appwrite sent one.
    pub fn kind(&self) -> Option<&AppwriteErrorType> {
        match self {
            Self::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Whether Appwrite is unavailable (as opposed to refusing the request).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Transport { .. } => true,
            Self::Protocol { .. } => false,
        }
    }
}

/// Appwrite's error body.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}
