//! `POST /v1/auth/{provider}/backchannel-logout`: a provider's logout token ends the identity's
//! Appwrite sessions. Thin: extract the form, call `login`, answer as the spec says.
//!
//! Answers: 200 (empty) when the token is valid, whether or not a session was ended; 400
//! `{"error":"invalid_request","error_description"}` for a bad request or token; 503 when
//! the provider's keys, the store or Appwrite cannot answer; 404 for an unknown provider. Every
//! answer has `Cache-Control: no-store` (the router's layer).

use axum::Form;
use axum::extract::{FromRequest, Path, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idp_provider_api::{ProviderError, Secret};

use super::auth::unknown_provider;
use super::error::OAuthError;
use super::extract::Caller;
use crate::login::{CallbackParams, LoggedOut, LogoutError};

/// The form field that carries the token.
const FIELD: &str = "logout_token";

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError {
        status: StatusCode::BAD_REQUEST,
        error: "invalid_request",
        description: description.into(),
    }
}

/// The `logout_token` of an `application/x-www-form-urlencoded` body, present exactly once and
/// not empty. Refusals are OAuth-shaped 400s (413 for a body over the limit).
pub struct LogoutToken(pub Secret<String>);

impl<S: Send + Sync> FromRequest<S> for LogoutToken {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => super::limits::payload_too_large(),
                // axum's text could quote the body: the reason is ours.
                StatusCode::UNSUPPORTED_MEDIA_TYPE => invalid_request(
                    "The body must be a form: send Content-Type: application/x-www-form-urlencoded.",
                )
                .into_response(),
                _ => invalid_request("The body is not a readable form.").into_response(),
            })?;
        CallbackParams::new(pairs)
            .single(FIELD)
            .filter(|token| !token.expose().is_empty())
            .cloned()
            .map(Self)
            .ok_or_else(|| {
                invalid_request(format!(
                    "The form must carry `{FIELD}` exactly once, not empty."
                ))
                .into_response()
            })
    }
}

/// `POST /v1/auth/{provider}/backchannel-logout`.
pub async fn backchannel_logout(
    caller: Caller,
    Path(provider): Path<String>,
    LogoutToken(token): LogoutToken,
) -> Response {
    let (login, origin, id) = (caller.live.login.clone(), caller.origin, provider.clone());
    let decided = caller
        .decisions
        .run(async move { login.backchannel_logout(&id, &token, &origin).await })
        .await;
    let decided = match decided {
        Ok(decided) => decided,
        Err(failed) => return failed,
    };
    match decided {
        Ok(LoggedOut::SessionsEnded(users)) => {
            tracing::info!(provider, users = ?users, "back-channel logout: Appwrite sessions ended");
            StatusCode::OK.into_response()
        }
        Ok(LoggedOut::NoUser) => {
            tracing::info!(
                provider,
                "back-channel logout: no Appwrite user, nothing ended"
            );
            StatusCode::OK.into_response()
        }
        Err(LogoutError::UnknownProvider(_)) => unknown_provider(&provider),
        Err(error) => {
            let answer = refusal(&provider, &error);
            if answer.status.is_server_error() {
                tracing::error!(provider, %error, "back-channel logout failed");
            } else {
                tracing::warn!(provider, %error, "back-channel logout refused");
            }
            answer.into_response()
        }
    }
}

/// What the provider is told: the failed check's name, never a detail or a value.
fn refusal(provider: &str, error: &LogoutError) -> OAuthError {
    match error {
        LogoutError::NotEnabled(_) | LogoutError::UnknownProvider(_) => invalid_request(format!(
            "Provider {provider:?} does not accept back-channel logout."
        )),
        LogoutError::Invalid(ProviderError::Rejected(rejection)) => invalid_request(format!(
            "The logout token is refused ({}).",
            rejection.reason
        )),
        LogoutError::Invalid(_) => invalid_request("The logout token is refused."),
        LogoutError::Replayed => invalid_request("The logout token was already used."),
        LogoutError::Unavailable(_) => OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: "The logout could not be completed now. Try again later.".into(),
        },
        LogoutError::Appwrite(_) | LogoutError::Misconfigured(_) => OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "The logout could not be completed.".into(),
        },
    }
}
