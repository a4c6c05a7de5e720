//! The kinds of error response, each rendering itself:
//! - [`ApiError`]: Appwrite-shaped JSON with a status (`/v1/providers`, unknown routes, 429...);
//! - [`LoginFailure`]: 302 to the login's own failure URL with `error=<JSON>` (and the app's
//!   `state`);
//! - [`ErrorPage`]: a plain page when there is no trusted URL to send the browser to;
//! - [`OAuthError`]: OAuth's `{"error","error_description"}`, for the one caller that is a
//!   provider rather than an app or a browser (back-channel logout).
//!
//! None of them carries internal detail: that is logged where the error is handled.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use idp_html::escape;

use crate::login::PublicError;
use crate::return_urls::{Delivery, RedirectTarget, ReturnState};

/// A JSON error `{"message","type","code"}`.
#[derive(Debug)]
pub struct ApiError(pub PublicError);

impl ApiError {
    /// An error of `kind` with HTTP `code`.
    pub fn new(kind: &str, code: u16, message: impl Into<String>) -> Self {
        Self(PublicError::new(kind, code, message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        with_retry_after(
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                self.0.to_json(),
            )
                .into_response(),
        )
    }
}

/// What a 503 (an outage of the store, Appwrite or a provider) tells clients to wait, in
/// seconds: long enough for a Redis failover or restart, short enough for a user.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Adds `Retry-After` to a 503 response.
fn with_retry_after(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
    }
    response
}

/// OAuth's error JSON (RFC 6749 section 5.2), which a provider posting a logout token reads.
#[derive(Debug)]
pub struct OAuthError {
    /// The HTTP status (400, 500 or 503).
    pub status: StatusCode,
    /// `invalid_request`, `server_error` or `temporarily_unavailable`.
    pub error: &'static str,
    /// One sentence for the provider's operators; never a token or a claim value.
    pub description: String,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        with_retry_after(
            (
                self.status,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response(),
        )
    }
}

/// A redirect to the failure URL of a login, with the error (and the app's `state`) added.
#[derive(Debug)]
pub struct LoginFailure {
    /// The login's checked failure URL.
    pub failure: RedirectTarget,
    /// The app's `state`, returned beside the error.
    pub state: Option<ReturnState>,
    /// Where the `state` goes (`[redirect] delivery`); the error is always in the query.
    pub delivery: Delivery,
    /// What the app is told.
    pub error: PublicError,
}

impl IntoResponse for LoginFailure {
    fn into_response(self) -> Response {
        let location =
            self.failure
                .with_error(&self.error.to_json(), self.state.as_ref(), self.delivery);
        found(location.as_str())
    }
}

/// A plain HTML error page: no redirect is safe.
#[derive(Debug)]
pub struct ErrorPage {
    /// Usually 400.
    pub status: StatusCode,
    /// One sentence, shown escaped.
    pub message: String,
}

impl ErrorPage {
    /// A 400 page.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The 503 page of a store outage (with `Retry-After`): nothing was minted, the user may
    /// try again.
    pub fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "The login service is unavailable. Try again in a few seconds.".into(),
        }
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Login error</title></head>\
             <body><h1>Login error</h1><p>{}</p></body></html>",
            escape(&self.message)
        );
        with_retry_after((self.status, Html(body)).into_response())
    }
}

/// `302 Found` to `location` (axum's `Redirect` offers 303/307/308 only).
pub fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}
