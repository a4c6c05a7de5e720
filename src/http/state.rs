//! `AppState`: what every handler can reach, cheap to clone. Handlers and layers take only the
//! part they use (`State<Arc<Login>>`, …, through the derived `FromRef`), so that this module
//! is the only one in `http` that knows them all.

use std::sync::Arc;

use axum::extract::FromRef;
use ipnet::IpNet;

use super::ops::Readiness;
use super::rate_limit::RateLimit;
use crate::login::Login;
use crate::metrics::Metrics;

/// Shared state of the HTTP edge.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The login pipeline.
    pub login: Arc<Login>,
    /// Per-client-IP limits; `None` when `rate_limit.per_ip_per_minute = 0`.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// `[server].trusted_proxies`.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The cached `/readyz` verdict.
    pub readiness: Arc<Readiness>,
    /// Origins whose pages may call `exchange` and `/v1/providers` (`[server] cors_origins`,
    /// by default the origins of `[redirect].allowed`).
    pub cors_origins: Arc<[String]>,
    /// The process's metrics: built once, kept across configuration reloads.
    pub metrics: Arc<Metrics>,
    /// Whether `/metrics` has a listener of its own (`[server] metrics_listen`); the main
    /// router then does not serve it.
    #[from_ref(skip)]
    pub metrics_apart: bool,
}
