//! Per-client-IP rate limits on the login routes (governor's keyed GCRA limiter).

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use super::extract::{ClientKey, client_ip};
use super::state::Live;
use crate::metrics::{LimitedRoute, Metrics};
use idp_provider_api::client_bucket;

/// The limiter: `per_minute` requests per client, with bursts up to the same number.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<ClientKey>,
    per_minute: u32,
}

impl RateLimit {
    /// `None` when `per_minute` is 0 (limits off).
    pub fn new(per_minute: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Self {
            limiter: RateLimiter::keyed(quota),
            per_minute,
        })
    }

    /// The budget it was made with (a reload keeps the limiter, and its counts, when this is
    /// unchanged).
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Forgets clients whose budget is full again, so the map does not grow without bound.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn allow(&self, client: ClientKey) -> bool {
        let key = match client {
            ClientKey::Ip(ip) => ClientKey::Ip(client_bucket(ip)),
            opaque @ ClientKey::Opaque(_) => opaque,
        };
        self.limiter.check_key(&key).is_ok()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_bucket(a), client_bucket(b));
        assert_ne!(client_bucket(a), client_bucket(c));
        let v4: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(client_bucket(v4), v4);
    }

    #[test]
    fn the_budget_is_per_client() {
        let limit = RateLimit::new(2).expect("on");
        let a: IpAddr = "203.0.113.1".parse().expect("ip");
        let b: IpAddr = "203.0.113.2".parse().expect("ip");
        let (a, b) = (ClientKey::Ip(a), ClientKey::Ip(b));
        assert!(limit.allow(a.clone()) && limit.allow(a.clone()));
        assert!(!limit.allow(a));
        assert!(limit.allow(b));
        assert!(RateLimit::new(0).is_none(), "0 turns limiting off");
    }
}
