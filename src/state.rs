//! `AppState`: what every handler can reach, cheap to clone.

use std::sync::Arc;

use ipnet::IpNet;

use crate::http::ops::Readiness;
use crate::http::rate_limit::RateLimit;
use crate::login::Login;

/// Shared state of the HTTP edge.
#[derive(Clone)]
pub struct AppState {
    /// The login pipeline.
    pub login: Arc<Login>,
    /// Per-client-IP limits; `None` when `rate_limit.per_ip_per_minute = 0`.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// `[server].trusted_proxies`.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The cached `/readyz` verdict.
    pub readiness: Arc<Readiness>,
}
