//! Extractors whose rejections are our own error responses, and the caller of a login route
//! ([`Caller`]). Who the client is (its address, trusted proxies applied) is `client_key`'s.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::{Form, http::Method};
use serde::de::DeserializeOwned;
use tower_http::request_id::RequestId;

use super::client_key::{ClientKey, client_ip};
use super::decide::Decisions;
use super::error::ErrorPage;
use super::state::{AppState, Live};
use crate::login::Origin;

/// A login request's configuration and caller: one load of [`Live`] for the whole request
/// (a reload meanwhile does not mix two configurations), the client as [`client_ip`] finds
/// it, and the [`Origin`] its audit event names (that client, and the request id the request
/// span and the response carry).
pub struct Caller {
    /// The configuration serving the request.
    pub live: Arc<Live>,
    /// The client, trusted proxies applied.
    pub client: ClientKey,
    /// The client and the request id, for the audit event.
    pub origin: Origin,
    /// Where the request's decision runs ([`Decisions::run`]).
    pub decisions: Arc<Decisions>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let live = state.live.load_full();
        let client = client_ip(parts, &live.trusted_proxies);
        // Set by the request-id layer on every request; "-" as the request span says too.
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or("-")
            .to_string();
        let client_ip = match &client {
            ClientKey::Ip(ip) => ip.to_string(),
            ClientKey::Opaque(token) => token.clone(),
        };
        Ok(Self {
            live,
            client,
            origin: Origin {
                client_ip,
                request_id,
            },
            decisions: state.decisions.clone(),
        })
    }
}

/// A query string that, when malformed, gets a 400 page naming the problem. Repeated keys
/// (`scopes[]=a&scopes[]=b`) fill a `Vec` (axum-extra's `Query`, on serde_html_form).
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ErrorPage;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum_extra::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum_extra::extract::Query(v)| Self(v))
            .map_err(|e| {
                ErrorPage::bad_request(format!("The request's query is invalid: {}", e.body_text()))
            })
    }
}

/// Callback parameters from the query (GET) or a form body (POST, `response_mode=form_post`).
pub struct CallbackForm<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for CallbackForm<T> {
    type Rejection = ErrorPage;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bad = |text: String| ErrorPage::bad_request(format!("The callback is invalid: {text}"));
        if request.method() == Method::POST {
            Form::<T>::from_request(request, state)
                .await
                .map(|Form(v)| Self(v))
                .map_err(|e| bad(e.body_text()))
        } else {
            let (mut parts, _) = request.into_parts();
            Query::<T>::from_request_parts(&mut parts, state)
                .await
                .map(|Query(v)| Self(v))
                .map_err(|e| bad(e.body_text()))
        }
    }
}
