//! Per-client-IP rate limits on the login routes (governor's keyed GCRA limiter).

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use super::extract::client_ip;
use crate::state::AppState;

/// The limiter: `per_minute` requests per client IP, with bursts up to the same number.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimit {
    /// `None` when `per_minute` is 0 (limits off).
    pub fn new(per_minute: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Self {
            limiter: RateLimiter::keyed(quota),
        })
    }

    /// Forgets clients whose budget is full again, so the map does not grow without bound.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn allow(&self, ip: IpAddr) -> bool {
        self.limiter.check_key(&ip).is_ok()
    }
}

/// Middleware: 429 JSON when the client is over its budget.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(limit) = &state.rate_limit {
        let (parts, body) = request.into_parts();
        let ip = client_ip(&parts, &state.trusted_proxies);
        if !limit.allow(ip) {
            tracing::warn!(client_ip = %ip, "rate limit exceeded");
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
