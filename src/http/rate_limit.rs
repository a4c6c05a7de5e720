//! Per-client-IP rate limits on the login routes: the middleware that asks the current
//! configuration's limiter (`limiter`) and answers 429.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::client_key::client_ip;
use super::error::ApiError;
use super::state::Live;
use crate::metrics::{LimitedRoute, Metrics};

/// Middleware: 429 JSON when the client is over its budget, counted by route. The current
/// configuration's limiter is `None` when limits are off; its `trusted_proxies` are the peers
/// whose `X-Forwarded-For` is believed.
pub async fn limit(
    State(live): State<Arc<Live>>,
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limit) = &live.rate_limit {
        let (parts, body) = request.into_parts();
        let ip = client_ip(&parts, &live.trusted_proxies);
        if !limit.allow(ip.clone()) {
            // Debug, not warn: under attack this line would flood the log.
            tracing::debug!(client_ip = %ip, "rate limit exceeded");
            if let Some(route) = LimitedRoute::of_path(parts.uri.path()) {
                metrics.rate_limited(route);
            }
            return ApiError::new(
                "general_rate_limit_exceeded",
                429,
                "Too many requests from this address. Try again later.",
            )
            .into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}
