//! Metrics: one registry for the whole process, rendered as OpenMetrics text at `GET /metrics`
//! (on the main listener, or on `[server] metrics_listen`).
//!
//! Built once at startup and kept for the life of the process: it lives beside the `Login`
//! (in `AppState`), never inside it, so a configuration reload that rebuilds the providers and
//! the login pipeline keeps every counter. The parts that count get a handle: the login
//! pipeline one [`LoginMetrics`] per configured provider (resolved once, so a login pays a few
//! atomic additions), the Appwrite client an [`AppwriteCalls`], the providers a
//! [`ProviderEvents`] listener through [`ProviderEventRelay`]; readiness rounds record what they
//! found with [`Metrics::record_health`].
//!
//! Written on `prometheus-client`, the official Prometheus client: an explicit registry (no
//! process-global recorder), OpenMetrics text with `_total` counters and a final `# EOF`.
//!
//! Owns: every metric's name, type, help, labels and buckets.
//! Must not: take a label value from a request or a user. Labels are configured provider ids,
//! the gateway's own error `type`s, and closed vocabularies (`&'static str`); never a path
//! segment, a user id, an email, a URL or anything secret.

mod appwrite;
mod audit;
mod health;
mod login;
mod relay;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use idp_provider_api::{KeyFetchCause, KeyFetchResult, ProviderEvents};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

pub use appwrite::{AppwriteCalls, AppwriteStatus};
pub use audit::AuditFileLosses;
pub use health::Health;
pub use login::{LoginMetrics, Step};
pub use relay::ProviderEventRelay;

/// The `Content-Type` of the OpenMetrics text format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A label set of one provider id.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: Arc<str>,
}

/// The labels of a JWKS fetch.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyFetchLabels {
    provider: Arc<str>,
    cause: &'static str,
    result: &'static str,
}

/// A label set with one closed-vocabulary label (`route`, `result`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

/// The `result` of a configuration reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// A login route whose requests the rate limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitedRoute {
    /// `GET /v1/auth/{provider}/start`.
    Start,
    /// `GET|POST /v1/auth/{provider}/callback`.
    Callback,
    /// `POST /v1/auth/{provider}/exchange`.
    Exchange,
    // Back-channel logout is not rate limited (see `http::router`).
}

impl LimitedRoute {
    /// Every route, for pre-created series.
    const ALL: [Self; 3] = [Self::Start, Self::Callback, Self::Exchange];

    /// The route of a login path (`/v1/auth/corp/start` → `Start`): its last segment.
    pub fn of_path(path: &str) -> Option<Self> {
        match path.rsplit('/').next() {
            Some("start") => Some(Self::Start),
            Some("callback") => Some(Self::Callback),
            Some("exchange") => Some(Self::Exchange),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Callback => "callback",
            Self::Exchange => "exchange",
        }
    }
}

/// A value replaced whole and read at each scrape. A poisoned lock still holds a whole value
/// (every write is one assignment), so it is used as it is.
struct Slot<T>(RwLock<Option<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(RwLock::new(None))
    }
}

impl<T: Clone> Slot<T> {
    /// The value, if one was set.
    fn get(&self) -> Option<T> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the value.
    fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }
}

/// Reads the number of open login transactions at scrape time.
type OpenCount = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// The `open_transactions` gauge, read from the store's own counter at each scrape rather than
/// kept in step by every put and take. Absent when the store cannot count (a shared store,
/// where no single instance knows the total).
#[derive(Default)]
struct OpenTransactions {
    source: Slot<OpenCount>,
}

impl fmt::Debug for OpenTransactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenTransactions")
    }
}

impl Collector for OpenTransactions {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(open) = self.source.get().and_then(|count| count()) else {
            return Ok(());
        };
        let gauge = ConstGauge::new(i64::try_from(open).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "open_transactions",
            "Login transactions started and not yet called back or expired (this instance).",
            None,
            gauge.metric_type(),
        )?;
        gauge.encode(metric)
    }
}

/// The process's metrics. Build one with [`Metrics::new`], share it as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    logins: login::Families,
    appwrite: AppwriteCalls,
    jwks_fetches: Family<KeyFetchLabels, Counter>,
    jwks_suppressed: Family<ProviderLabel, Counter>,
    rate_limited: Family<RouteLabel, Counter>,
    config_reloads: Family<ResultLabel, Counter>,
    open_transactions: Arc<OpenTransactions>,
    audit_file: Arc<audit::AuditFileFailures>,
    health: Arc<health::HealthGauges>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `idp_bridge_` prefix. See the metrics table of the book (docs/operators/metrics.md)
    /// for names, types and labels.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("idp_bridge");
        let logins = login::Families::register(&mut registry);
        let appwrite = AppwriteCalls::register(&mut registry);
        let jwks_fetches = Family::<KeyFetchLabels, Counter>::default();
        registry.register(
            "jwks_fetches",
            "Signing-key (JWKS) fetches by provider, cause (startup, refresh, unknown_kid: an unknown kid or a kid-less token the cached keys do not verify) and result",
            jwks_fetches.clone(),
        );
        let jwks_suppressed = Family::<ProviderLabel, Counter>::default();
        registry.register(
            "jwks_refetches_suppressed",
            "Refetches for an unknown kid (or a kid-less token the cached keys do not verify) refused because the last one was too recent",
            jwks_suppressed.clone(),
        );
        let rate_limited = Family::<RouteLabel, Counter>::default();
        registry.register(
            "rate_limited",
            "Login requests refused with 429 by the per-client rate limit, by route",
            rate_limited.clone(),
        );
        // Series known in advance exist from the start, at zero, so `rate()` sees the first.
        for route in LimitedRoute::ALL {
            drop(rate_limited.get_or_create(&RouteLabel {
                route: route.as_str(),
            }));
        }
        let config_reloads = Family::<ResultLabel, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by result (success, failure)",
            config_reloads.clone(),
        );
        for result in ["success", "failure"] {
            drop(config_reloads.get_or_create(&ResultLabel { result }));
        }
        registry.register(
            "build",
            "The running build",
            Info::new(vec![
                ("version", env!("BUILD_VERSION")),
                ("commit", env!("BUILD_GIT_COMMIT")),
            ]),
        );
        let open_transactions = Arc::new(OpenTransactions::default());
        registry.register_collector(Box::new(open_transactions.clone()));
        let audit_file = Arc::new(audit::AuditFileFailures::default());
        registry.register_collector(Box::new(audit_file.clone()));
        let health = Arc::new(health::HealthGauges::default());
        registry.register_collector(Box::new(health.clone()));
        Self {
            registry,
            logins,
            appwrite,
            jwks_fetches,
            jwks_suppressed,
            rate_limited,
            config_reloads,
            open_transactions,
            audit_file,
            health,
        }
    }

    /// The whole exposition: every metric, then `# EOF`.
    ///
    /// # Errors
    /// Only if formatting fails, which writing to a `String` does not.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// The counters and histograms of the logins at the configured provider `provider`,
    /// resolved once. Its series exist (at zero) from this call on.
    pub fn login(&self, provider: &str) -> LoginMetrics {
        self.logins.for_provider(provider)
    }

    /// The handle the Appwrite client times its calls with.
    pub fn appwrite(&self) -> AppwriteCalls {
        self.appwrite.clone()
    }

    /// Reads the open login transactions from `count` at every scrape (the store's own
    /// counter); `None` from it leaves the gauge out. A later call replaces an earlier one.
    pub fn count_open_transactions(&self, count: impl Fn() -> Option<u64> + Send + Sync + 'static) {
        self.open_transactions.source.set(Arc::new(count));
    }

    /// Reads the lines lost from `[audit] file` from `count` at every scrape
    /// (`idp_bridge_audit_file_failures_total`); without a call, the series are absent.
    pub fn count_audit_file(&self, count: impl Fn() -> AuditFileLosses + Send + Sync + 'static) {
        self.audit_file.source.set(Arc::new(count));
    }

    /// What a readiness round found: the `provider_up`, `appwrite_up` and `store_up` gauges
    /// say it until the next round replaces it.
    pub fn record_health(&self, health: Health) {
        self.health.record(health);
    }

    /// The rate limit refused a request to `route`.
    pub fn rate_limited(&self, route: LimitedRoute) {
        self.rate_limited
            .get_or_create(&RouteLabel {
                route: route.as_str(),
            })
            .inc();
    }

    /// A configuration reload ended: `ok` when the new configuration is now serving, `false`
    /// when it was refused and the old one kept serving. Counts
    /// `idp_bridge_config_reloads_total{result="success"|"failure"}`.
    pub fn config_reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.config_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }
}

/// Providers report their key fetches here (through [`ProviderEventRelay`]); the provider id is
/// the configured one the provider was opened with.
impl ProviderEvents for Metrics {
    fn key_fetch(&self, provider: &str, cause: KeyFetchCause, result: KeyFetchResult) {
        self.jwks_fetches
            .get_or_create(&KeyFetchLabels {
                provider: provider.into(),
                cause: cause.as_str(),
                result: result.as_str(),
            })
            .inc();
    }

    fn key_refetch_suppressed(&self, provider: &str) {
        self.jwks_suppressed
            .get_or_create(&ProviderLabel {
                provider: provider.into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample line that starts with `series ` (name and labels exactly).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn a_fresh_registry_renders_openmetrics_with_its_fixed_series() {
        let text = Metrics::new().render().expect("render");
        assert!(text.ends_with("# EOF\n"), "{text}");
        let build = format!(
            "idp_bridge_build_info{{version=\"{}\",commit=\"{}\"}}",
            env!("BUILD_VERSION"),
            env!("BUILD_GIT_COMMIT")
        );
        assert_eq!(sample(&text, &build), Some(1.0), "{text}");
        for result in ["success", "failure"] {
            let series = format!("idp_bridge_config_reloads_total{{result=\"{result}\"}}");
            assert_eq!(sample(&text, &series), Some(0.0), "{text}");
        }
        assert_eq!(
            sample(&text, "idp_bridge_rate_limited_total{route=\"exchange\"}"),
            Some(0.0)
        );
        assert!(!text.contains("open_transactions"), "no store, no gauge");
    }

    #[test]
    fn reloads_rate_limits_and_key_fetches_count_under_their_labels() {
        let metrics = Metrics::new();
        metrics.config_reload(true);
        metrics.config_reload(false);
        metrics.config_reload(false);
        metrics.rate_limited(LimitedRoute::Start);
        metrics.key_fetch("corp", KeyFetchCause::UnknownKid, KeyFetchResult::Error);
        metrics.key_refetch_suppressed("corp");
        metrics.key_refetch_suppressed("corp");
        let text = metrics.render().expect("render");
        for (series, value) in [
            ("idp_bridge_config_reloads_total{result=\"success\"}", 1.0),
            ("idp_bridge_config_reloads_total{result=\"failure\"}", 2.0),
            ("idp_bridge_rate_limited_total{route=\"start\"}", 1.0),
            ("idp_bridge_rate_limited_total{route=\"callback\"}", 0.0),
            (
                "idp_bridge_jwks_fetches_total{provider=\"corp\",cause=\"unknown_kid\",result=\"error\"}",
                1.0,
            ),
            (
                "idp_bridge_jwks_refetches_suppressed_total{provider=\"corp\"}",
                2.0,
            ),
        ] {
            assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
        }
    }

    #[test]
    fn the_open_transactions_gauge_is_read_at_scrape_time() {
        let metrics = Metrics::new();
        let open = Arc::new(std::sync::atomic::AtomicU64::new(3));
        let source = open.clone();
        metrics.count_open_transactions(move || {
            Some(source.load(std::sync::atomic::Ordering::Relaxed))
        });
        let text = metrics.render().expect("render");
        assert!(
            text.contains("# TYPE idp_bridge_open_transactions gauge"),
            "{text}"
        );
        assert_eq!(sample(&text, "idp_bridge_open_transactions"), Some(3.0));
        open.store(5, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.render().expect("render");
        assert_eq!(sample(&text, "idp_bridge_open_transactions"), Some(5.0));
        metrics.count_open_transactions(|| None);
        let text = metrics.render().expect("render");
        assert!(!text.contains("open_transactions"), "{text}");
    }

    #[test]
    fn login_routes_are_told_by_their_last_segment() {
        assert_eq!(
            LimitedRoute::of_path("/v1/auth/corp/start"),
            Some(LimitedRoute::Start)
        );
        assert_eq!(
            LimitedRoute::of_path("/v1/auth/corp/callback"),
            Some(LimitedRoute::Callback)
        );
        assert_eq!(
            LimitedRoute::of_path("/v1/auth/x/exchange"),
            Some(LimitedRoute::Exchange)
        );
        assert_eq!(
            LimitedRoute::of_path("/v1/auth/x/backchannel-logout"),
            None,
            "never rate limited"
        );
        assert_eq!(LimitedRoute::of_path("/v1/providers"), None);
    }
}
