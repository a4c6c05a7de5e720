//! The login routes: `start` and `callback`. Thin: extract, call `login`, render.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::error::{ApiError, ErrorPage, LoginFailure, found};
use super::extract::{AppQuery, CallbackForm};
use crate::login::{CallbackError, CallbackParams, Finished, Login, StartError, StartParams};

/// `GET /v1/auth/{provider}/start`: check the URLs, store the transaction, send the browser
/// to the provider with the binding cookie.
pub async fn start(
    State(login): State<Arc<Login>>,
    Path(provider): Path<String>,
    AppQuery(params): AppQuery<StartParams>,
) -> Response {
    match login.start(&provider, params).await {
        Ok(started) => (
            CookieJar::new().add(started.cookie),
            found(started.location.as_str()),
        )
            .into_response(),
        Err(error) => start_error(&provider, error),
    }
}

/// `GET|POST /v1/auth/{provider}/callback`: finish the login.
pub async fn callback(
    State(login): State<Arc<Login>>,
    Path(provider): Path<String>,
    cookies: CookieJar,
    CallbackForm(pairs): CallbackForm<Vec<(String, String)>>,
) -> Response {
    let params = CallbackParams::new(pairs);
    match login.callback(&provider, params, &cookies).await {
        Ok((Finished::Success { location, user_id }, removal)) => {
            tracing::info!(provider, user_id, "login succeeded; token minted");
            (CookieJar::new().add(removal), found(location.as_str())).into_response()
        }
        Ok((Finished::Failure { location, error }, removal)) => {
            let public = error.public();
            tracing::warn!(provider, error_type = public.kind, %error, "login failed");
            (CookieJar::new().add(removal), found(location.as_str())).into_response()
        }
        Err(CallbackError::UnknownProvider(_)) => unknown_provider(&provider),
        Err(error @ CallbackError::MissingState) => {
            tracing::warn!(provider, %error, "callback refused");
            ErrorPage::bad_request(
                "The callback has no `state` parameter, or more than one. Start the login again.",
            )
            .into_response()
        }
        Err(error @ CallbackError::UnknownTransaction) => {
            tracing::warn!(provider, %error, "callback refused");
            ErrorPage::bad_request(
                "This login is unknown, expired or already finished. Start the login again.",
            )
            .into_response()
        }
        Err(error @ CallbackError::Store(_)) => {
            tracing::error!(provider, %error, "callback failed");
            ErrorPage {
                status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
                message: "The login service is unavailable. Try again later.".into(),
            }
            .into_response()
        }
    }
}

fn start_error(provider: &str, error: StartError) -> Response {
    match error {
        StartError::UnknownProvider(_) => unknown_provider(provider),
        StartError::NoRedirectFlow(_) => ApiError::new(
            "provider_flow_unsupported",
            400,
            format!("Provider {provider:?} has no browser login."),
        )
        .into_response(),
        StartError::Redirect(e) => start_refused(provider, &e),
        StartError::Param(e) => start_refused(provider, &e),
        StartError::Failed { failure, error } => {
            let public = error.public();
            tracing::warn!(provider, error_type = public.kind, %error, "login could not start");
            LoginFailure {
                failure,
                error: public,
            }
            .into_response()
        }
    }
}

/// A refused start parameter (a success or failure URL, `scopes`, `login_hint`): logged, and a
/// 400 page with its text; no redirect, since no failure URL is trusted yet.
fn start_refused(provider: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::warn!(provider, error = %error, "start refused");
    ErrorPage::bad_request(error.to_string()).into_response()
}

/// 404 JSON for an unknown provider id.
pub fn unknown_provider(provider: &str) -> Response {
    ApiError::new(
        "provider_not_found",
        404,
        format!("No provider {provider:?} is configured."),
    )
    .into_response()
}
