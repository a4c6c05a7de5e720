//! `AppState`: what every handler can reach, cheap to clone. Handlers and layers take only the
//! part they use (`State<Arc<Login>>`, `State<Arc<Live>>`, …, through `FromRef`), so that this
//! module is the only one in `http` that knows them all.
//!
//! The parts a configuration reload may change sit together in [`Live`], behind one
//! [`ArcSwap`]: a reload swaps the whole of it at once, and a handler that extracts
//! `State<Arc<Live>>` (or `State<Arc<Login>>`) loads it once, so one request never sees half of
//! an old configuration and half of a new one.

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::FromRef;
use ipnet::IpNet;

use super::decide::Decisions;
use super::draining::Draining;
use super::limiter::RateLimit;
use super::readiness::Readiness;
use crate::login::Login;
use crate::metrics::Metrics;

/// Shared state of the HTTP edge.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The reloadable part, swapped whole by a reload; read it through `State<Arc<Live>>`.
    #[from_ref(skip)]
    pub live: Arc<ArcSwap<Live>>,
    /// Set once shutdown has begun: `/readyz` then answers 503.
    pub draining: Arc<Draining>,
    /// The process's metrics: built once, kept across configuration reloads.
    pub metrics: Arc<Metrics>,
    /// Whether `/metrics` has a listener of its own (`[server] metrics_listen`, restart-only);
    /// the main router then does not serve it.
    #[from_ref(skip)]
    pub metrics_apart: bool,
    /// The callbacks, exchanges and logouts being decided, bounded and waited for at shutdown.
    pub decisions: Arc<Decisions>,
}

/// The part of the state that a configuration reload replaces.
pub struct Live {
    /// The login pipeline (providers, redirect rules, token settings, Appwrite client; the
    /// transaction store inside it is the same instance across reloads).
    pub login: Arc<Login>,
    /// Per-client-IP limits; `None` when `rate_limit.per_ip_per_minute = 0`.
    pub rate_limit: Option<Arc<RateLimit>>,
    /// `[server].trusted_proxies`.
    pub trusted_proxies: Arc<[IpNet]>,
    /// Origins whose pages may call `exchange` and `/v1/providers` (`[server] cors_origins`,
    /// by default the origins of `[redirect].allowed`).
    pub cors_origins: Arc<[String]>,
    /// The cached `/readyz` verdict, which belongs to this configuration (a reload starts
    /// with none, so new providers are checked at once).
    pub readiness: Arc<Readiness>,
}

impl AppState {
    /// A state serving `live`, not draining, counting into `metrics`, deciding at most
    /// `max_decisions` logins, exchanges and logouts at once.
    pub fn new(
        live: Live,
        metrics: Arc<Metrics>,
        metrics_apart: bool,
        max_decisions: usize,
    ) -> Self {
        Self {
            live: Arc::new(ArcSwap::from_pointee(live)),
            draining: Arc::default(),
            metrics,
            metrics_apart,
            decisions: Arc::new(Decisions::new(max_decisions)),
        }
    }
}

impl FromRef<AppState> for Arc<Live> {
    /// One load of the current configuration: everything a handler reads from it is consistent.
    fn from_ref(state: &AppState) -> Self {
        state.live.load_full()
    }
}

impl FromRef<AppState> for Arc<Login> {
    /// The current login pipeline (for handlers that need nothing else from [`Live`]).
    fn from_ref(state: &AppState) -> Self {
        state.live.load().login.clone()
    }
}
