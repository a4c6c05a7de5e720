//! The restart-only rule: the keys a running process cannot change, and which of them a new
//! configuration would change. A reload that changes any of them is refused whole.

use url::Url;

use crate::appwrite::ProjectId;
use crate::config::{AuditConfig, Config, LogFormat, StoreConfig};
use crate::login::user_id::IdKey;
use crate::store::RedisSettings;

/// The keys that cannot change while the process runs, with the values it started with.
///
/// Each has its reason: the listener is bound once; `public_url` is in the callback URLs and
/// the cookie name of logins in flight; the shutdown bounds are read when shutdown begins, and
/// the connection limits when serving begins; the Appwrite endpoint and project say where
/// users live, and a login must not start in one project and finish in another; the store
/// holds the logins in flight; `id_key` keys every derived user id and must never change at
/// all; the log format and the audit file are set up once (and an audit trail whose events
/// gain or lose the email halfway is hard to read); the configuration watch decides whether
/// the task that checks the file runs at all, and the reload is that task's own work.
#[derive(Debug)]
pub struct RestartOnly {
    listen: std::net::SocketAddr,
    metrics_listen: Option<std::net::SocketAddr>,
    worker_threads: usize,
    public_url: Url,
    /// `[server] shutdown_delay_seconds`.
    pub shutdown_delay: std::time::Duration,
    /// `[server] shutdown_grace_seconds`.
    pub shutdown_grace: std::time::Duration,
    /// `[server] header_read_timeout_seconds`.
    pub header_read_timeout: std::time::Duration,
    /// `[server] max_connections`.
    pub max_connections: usize,
    /// `[server] config_watch_seconds`.
    pub config_watch: Option<std::time::Duration>,
    appwrite_endpoint: Url,
    appwrite_project: ProjectId,
    store: StoreConfig,
    id_key: IdKey,
    log_format: LogFormat,
    audit: AuditConfig,
}

impl RestartOnly {
    /// The restart-only values of `config`.
    pub fn of(config: &Config) -> Self {
        Self {
            listen: config.server.listen,
            metrics_listen: config.server.metrics_listen,
            worker_threads: config.server.worker_threads,
            public_url: config.server.public_url.clone(),
            shutdown_delay: config.server.shutdown_delay,
            shutdown_grace: config.server.shutdown_grace,
            header_read_timeout: config.server.header_read_timeout,
            max_connections: config.server.max_connections,
            config_watch: config.server.config_watch,
            appwrite_endpoint: config.appwrite.endpoint.clone(),
            appwrite_project: config.appwrite.project.clone(),
            store: config.store.clone(),
            id_key: config.mapping.id_key.clone(),
            log_format: config.log.format,
            audit: config.audit.clone(),
        }
    }

    /// The keys whose value differs in `new`, named as in the file.
    pub fn changed(&self, new: &Self) -> Vec<&'static str> {
        // A Redis setting that differs while both run Redis (a change of backend is named by
        // `store.backend`).
        let redis = |differs: fn(&RedisSettings, &RedisSettings) -> bool| match (
            &self.store.redis,
            &new.store.redis,
        ) {
            (Some(old), Some(new)) => differs(old, new),
            _ => false,
        };
        let mut changed: Vec<&'static str> = [
            ("server.listen", self.listen != new.listen),
            (
                "server.metrics_listen",
                self.metrics_listen != new.metrics_listen,
            ),
            (
                "server.worker_threads",
                self.worker_threads != new.worker_threads,
            ),
            ("server.public_url", self.public_url != new.public_url),
            (
                "server.shutdown_delay_seconds",
                self.shutdown_delay != new.shutdown_delay,
            ),
            (
                "server.shutdown_grace_seconds",
                self.shutdown_grace != new.shutdown_grace,
            ),
            (
                "server.header_read_timeout_seconds",
                self.header_read_timeout != new.header_read_timeout,
            ),
            (
                "server.max_connections",
                self.max_connections != new.max_connections,
            ),
            (
                "server.config_watch_seconds",
                self.config_watch != new.config_watch,
            ),
            (
                "appwrite.endpoint",
                self.appwrite_endpoint != new.appwrite_endpoint,
            ),
            (
                "appwrite.project",
                self.appwrite_project != new.appwrite_project,
            ),
            ("store.backend", self.store.backend != new.store.backend),
            ("store.redis_url", redis(|a, b| a.url != b.url)),
            ("store.redis_cluster", redis(|a, b| a.cluster != b.cluster)),
            (
                "store.key_prefix",
                redis(|a, b| a.key_prefix != b.key_prefix),
            ),
            (
                "store.redis_timeout_ms",
                redis(|a, b| a.timeout != b.timeout),
            ),
            ("store.encryption_keys", redis(|a, b| a.keys != b.keys)),
            (
                "store.redis_high_water_percent",
                redis(|a, b| a.high_water_percent != b.high_water_percent),
            ),
            (
                "store.transaction_ttl_seconds",
                self.store.transaction_ttl != new.store.transaction_ttl,
            ),
            (
                "store.max_open_transactions",
                self.store.max_open_transactions != new.store.max_open_transactions,
            ),
            ("mapping.id_key", self.id_key != new.id_key),
            ("log.format", self.log_format != new.log_format),
            ("audit.file", self.audit.file != new.audit.file),
            (
                "audit.include_email",
                self.audit.include_email != new.audit.include_email,
            ),
        ]
        .into_iter()
        .filter_map(|(key, differs)| differs.then_some(key))
        .collect();
        // Any other [store] key (they all are restart-only) that the list above does not name.
        if self.store != new.store && !changed.iter().any(|key| key.starts_with("store.")) {
            changed.push("[store]");
        }
        changed
    }
}
