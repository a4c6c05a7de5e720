//! The login routes: `start`, `callback` and `exchange`. Thin: extract, call `login`, render.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde_json::json;

use super::binding_cookie::BindingCookie;
use super::client_key::ClientKey;
use super::error::{ApiError, ErrorPage, LoginFailure, found};
use super::extract::{AppQuery, CallbackForm, Caller};
use crate::login::{
    CallbackError, CallbackParams, ExchangeError, ExchangeRequest, Finished, StartError,
    StartParams,
};
use crate::return_urls::Delivery;

/// `GET /v1/auth/{provider}/start`: check the URLs, store the transaction, send the browser
/// to the provider with the binding cookie.
pub async fn start(
    caller: Caller,
    Path(provider): Path<String>,
    AppQuery(params): AppQuery<StartParams>,
) -> Response {
    let login = &caller.live.login;
    match login.start(&provider, params, &caller.origin).await {
        Ok(started) => {
            let binding = BindingCookie {
                secure: login.secure_cookies(),
            };
            let cookie = binding.cookie(&started.key, login.transaction_ttl());
            (
                CookieJar::new().add(cookie),
                found(started.location.as_str()),
            )
                .into_response()
        }
        Err(error) => start_error(&provider, error, login.delivery()),
    }
}

/// `GET|POST /v1/auth/{provider}/callback`: finish the login.
pub async fn callback(
    caller: Caller,
    Path(provider): Path<String>,
    cookies: CookieJar,
    CallbackForm(pairs): CallbackForm<Vec<(String, String)>>,
) -> Response {
    let params = CallbackParams::new(pairs);
    let (login, origin, id) = (caller.live.login.clone(), caller.origin, provider.clone());
    let binding = BindingCookie {
        secure: login.secure_cookies(),
    };
    let decided = caller.decisions.run(async move {
        let presented = binding.presented(&cookies);
        login.callback(&id, params, &presented, &origin).await
    });
    let decided = match decided.await {
        Ok(decided) => decided,
        Err(failed) => return failed,
    };
    match decided {
        Ok((Finished::Success { location, user_id }, key)) => {
            tracing::info!(provider, user_id, "login succeeded; token minted");
            let removal = binding.removal(&key);
            (CookieJar::new().add(removal), found(location.as_str())).into_response()
        }
        Ok((Finished::Failure { location, error }, key)) => {
            let public = error.public();
            tracing::warn!(provider, error_type = public.kind, %error, "login failed");
            let removal = binding.removal(&key);
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
        Err(error @ CallbackError::RedirectNoLongerAllowed(_)) => {
            tracing::warn!(provider, %error, "callback refused");
            ErrorPage::bad_request(
                "This login's return address is no longer allowed. Start the login again.",
            )
            .into_response()
        }
        Err(error @ CallbackError::Store(_)) => {
            tracing::error!(provider, %error, "callback failed");
            ErrorPage::unavailable().into_response()
        }
    }
}

/// `POST /v1/auth/{provider}/exchange`: an assertion provider verifies the request; the answer
/// is `200 {"userId","secret","expire"}` or a JSON error whose `code` is the status.
pub async fn exchange(
    caller: Caller,
    Path(provider): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return ApiError::new(
            "exchange_content_type_invalid",
            415,
            "The exchange body must be JSON: send `Content-Type: application/json`.",
        )
        .into_response();
    }
    // The body limit layers answer 413 to a `Content-Length` over the limit; a chunked body
    // over it fails here, with their length-limit error (413 too). Anything else is a body
    // that stopped arriving.
    let body: Bytes = match axum::body::to_bytes(body, super::BODY_LIMIT).await {
        Ok(body) => body,
        Err(error) if is_over_limit(&error) => return super::limits::payload_too_large(),
        Err(_) => {
            return ApiError::new(
                "exchange_request_invalid",
                400,
                "The exchange request is refused: `body`: it could not be read to its end.",
            )
            .into_response();
        }
    };
    let client_ip = match caller.client {
        ClientKey::Ip(ip) => Some(ip),
        ClientKey::Opaque(_) => None,
    };
    let (login, origin, id) = (caller.live.login.clone(), caller.origin, provider.clone());
    let decided = caller.decisions.run(async move {
        let headers: &HeaderMap = &parts.headers;
        let request = ExchangeRequest {
            body: &body,
            headers,
            client_ip,
            origin: &origin,
        };
        login.exchange(&id, request).await
    });
    let decided = match decided.await {
        Ok(decided) => decided,
        Err(failed) => return failed,
    };
    match decided {
        Ok(token) => {
            tracing::info!(
                provider,
                user_id = token.user_id,
                "exchange succeeded; token minted"
            );
            Json(json!({
                "userId": token.user_id,
                "secret": token.secret.expose(),
                "expire": token.expire,
            }))
            .into_response()
        }
        Err(ExchangeError::UnknownProvider(_)) => unknown_provider(&provider),
        Err(error @ ExchangeError::NoAssertionFlow(_)) => {
            tracing::warn!(provider, %error, "exchange refused");
            ApiError::new(
                "provider_flow_unsupported",
                400,
                format!("Provider {provider:?} does not accept assertions at exchange."),
            )
            .into_response()
        }
        Err(ExchangeError::RequestInvalid { param, reason }) => {
            tracing::warn!(provider, param, reason, "exchange request refused");
            ApiError::new(
                "exchange_request_invalid",
                400,
                format!("The exchange request is refused: `{param}`: {reason}"),
            )
            .into_response()
        }
        Err(ExchangeError::Failed(error)) => {
            let public = error.public();
            tracing::warn!(provider, error_type = public.kind, %error, "exchange failed");
            ApiError(public).into_response()
        }
    }
}

fn start_error(provider: &str, error: StartError, delivery: Delivery) -> Response {
    match error {
        StartError::UnknownProvider(_) => unknown_provider(provider),
        StartError::NoRedirectFlow(_) => ApiError::new(
            "provider_flow_unsupported",
            400,
            format!("Provider {provider:?} has no browser login."),
        )
        .into_response(),
        StartError::StoreUnavailable(error) => {
            tracing::error!(provider, %error, "login could not start");
            ErrorPage::unavailable().into_response()
        }
        StartError::Redirect(e) => start_refused(provider, &e),
        StartError::Param(e) => start_refused(provider, &e),
        StartError::Failed {
            failure,
            state,
            error,
        } => {
            let public = error.public();
            tracing::warn!(provider, error_type = public.kind, %error, "login could not start");
            LoginFailure {
                failure,
                state,
                delivery,
                error: public,
            }
            .into_response()
        }
    }
}

/// A refused start parameter (a success or failure URL, `scopes`, `login_hint`, `state`):
/// logged, and a 400 page with its text; no redirect, since no failure URL is trusted yet.
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

/// Whether reading a body failed on the body limit (`RequestBodyLimitLayer` on a chunked body).
fn is_over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}
