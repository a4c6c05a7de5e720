//! Appwrite error bodies: `{"message","code","type","version"}`.
//!
//! `code` is the HTTP status as a JSON integer, as a live Appwrite server sends it (the OpenAPI
//! `error` schema types it as a string, which is wrong). `version` is the spec version, `1.8.1`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Server version reported in every error body.
pub const APPWRITE_VERSION: &str = "1.8.1";

/// An Appwrite API error: HTTP status, error `type` and human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct AppwriteError {
    /// HTTP status (also written as `code` in the body).
    pub status: u16,
    /// Appwrite error type, e.g. `user_not_found`.
    pub kind: &'static str,
    /// Error message.
    pub message: String,
}

impl AppwriteError {
    /// Builds an error from its parts.
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 404 `general_route_not_found`.
    pub fn route_not_found() -> Self {
        Self::new(
            404,
            "general_route_not_found",
            "The requested route was not found. Please refer to the API docs and try again.",
        )
    }

    /// 404 `project_not_found`.
    pub fn project_not_found() -> Self {
        Self::new(
            404,
            "project_not_found",
            "Project with the requested ID could not be found. Please check the value of the \
             X-Appwrite-Project header to ensure the correct project ID is being used.",
        )
    }

    /// 401 `project_key_expired`.
    pub fn key_expired() -> Self {
        Self::new(
            401,
            "project_key_expired",
            "The project key has expired. Please generate a new key using the Appwrite console.",
        )
    }

    /// 401 `general_unauthorized_scope` for `who` (e.g. `User (role: guests)`).
    pub fn missing_scope(who: &str, scope: &str) -> Self {
        Self::new(
            401,
            "general_unauthorized_scope",
            format!("{who} missing scopes ([\"{scope}\"])"),
        )
    }

    /// 404 `user_not_found`.
    pub fn user_not_found() -> Self {
        Self::new(
            404,
            "user_not_found",
            "User with the requested ID could not be found.",
        )
    }

    /// 409 `user_already_exists` (any clash on id, email or phone).
    pub fn user_already_exists() -> Self {
        Self::new(
            409,
            "user_already_exists",
            "A user with the same id, email, or phone already exists in this project.",
        )
    }

    /// 409 `user_email_already_exists`: `PATCH /v1/account/email` to an address another user
    /// has.
    pub fn email_already_exists() -> Self {
        Self::new(
            409,
            "user_email_already_exists",
            "A user with the same email already exists in the current project.",
        )
    }

    /// 401 `user_invalid_credentials`: a wrong password.
    pub fn invalid_credentials() -> Self {
        Self::new(
            401,
            "user_invalid_credentials",
            "Invalid credentials. Please check the email and password.",
        )
    }

    /// 400 `general_argument_invalid` for parameter `param`.
    pub fn invalid_param(param: &str, why: &str) -> Self {
        Self::new(
            400,
            "general_argument_invalid",
            format!("Invalid `{param}` param: {why}"),
        )
    }

    /// 400 `general_argument_invalid` for a missing required parameter.
    pub fn missing_param(param: &str) -> Self {
        Self::new(
            400,
            "general_argument_invalid",
            format!("Param \"{param}\" is not optional."),
        )
    }

    /// 400 `general_query_invalid`.
    pub fn query_invalid(why: &str) -> Self {
        Self::new(
            400,
            "general_query_invalid",
            format!("Invalid query: {why}"),
        )
    }

    /// 401 `user_invalid_token`.
    pub fn invalid_token() -> Self {
        Self::new(
            401,
            "user_invalid_token",
            "Invalid token passed in the request.",
        )
    }

    /// 403 `user_blocked` (status as Appwrite lists it).
    pub fn user_blocked() -> Self {
        Self::new(
            403,
            "user_blocked",
            "The current user has been blocked. You can unblock the user by making a request to \
             the User API's \"Update User Status\" endpoint or in the Appwrite Console's Auth \
             section.",
        )
    }

    /// 401 `user_session_already_exists`.
    pub fn session_already_exists() -> Self {
        Self::new(
            401,
            "user_session_already_exists",
            "Creation of a session is prohibited when a session is active.",
        )
    }

    /// The error an injected `Fault::Status(status)` answers with.
    ///
    /// Mapping (closest Appwrite types): 429 `general_rate_limit_exceeded`, 500
    /// `general_server_error`, 503 `general_service_disabled` (Appwrite's only 503 type), 501
    /// `general_not_implemented`, 400 `general_bad_request`, 401 `general_unauthorized_scope`,
    /// 403 `general_access_forbidden`, 404 `general_route_not_found`. Any other status gets
    /// `general_unknown` with the status kept as given, so a test can also emulate a proxy
    /// answering 502/504.
    pub fn injected(status: u16) -> Self {
        match status {
            429 => Self::new(
                429,
                "general_rate_limit_exceeded",
                "Rate limit for the current endpoint has been exceeded. Please try again after \
                 some time.",
            ),
            500 => Self::new(
                500,
                "general_server_error",
                "An internal server error occurred.",
            ),
            503 => Self::new(
                503,
                "general_service_disabled",
                "The requested service is disabled. You can enable the service from the \
                 Appwrite console.",
            ),
            501 => Self::new(
                501,
                "general_not_implemented",
                "This method was not fully implemented yet.",
            ),
            400 => Self::new(
                400,
                "general_bad_request",
                "There was an error processing your request.",
            ),
            401 => Self::new(
                401,
                "general_unauthorized_scope",
                "User (role: guests) missing scopes ([\"users.read\"])",
            ),
            403 => Self::new(
                403,
                "general_access_forbidden",
                "Access to this API is forbidden.",
            ),
            404 => Self::route_not_found(),
            other => Self::new(other, "general_unknown", "Server Error"),
        }
    }

    /// The JSON body Appwrite sends for this error.
    pub fn body(&self) -> serde_json::Value {
        json!({
            "message": self.message,
            "code": self.status,
            "type": self.kind,
            "version": APPWRITE_VERSION,
        })
    }
}

/// Seconds a 429 tells the client to wait (`X-RateLimit-Reset` is now + this).
const RATE_LIMIT_WINDOW_SECS: u64 = 3600;

impl IntoResponse for AppwriteError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        if self.status == 429 {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
                + RATE_LIMIT_WINDOW_SECS;
            let headers = response.headers_mut();
            headers.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
        }
        response
    }
}
