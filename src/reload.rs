//! Configuration reload (SIGHUP): read the file (and the environment overrides) again, validate
//! it and open everything it names, and only then swap the reloadable part ([`Live`]) in, in one
//! step; or refuse, log why, and keep serving the old configuration.
//!
//! What a reload changes: providers (added, removed, changed), `[redirect]`, `[token]`,
//! `[appwrite]` `api_key` and `timeout_ms`, `[tls]`, `[rate_limit]`, `[server]`
//! `trusted_proxies` and `cors_origins`. What needs a restart ([`RestartOnly`]): `[server]`
//! `listen`, `metrics_listen`, `worker_threads`, `public_url`, `shutdown_delay_seconds`,
//! `shutdown_grace_seconds`, `header_read_timeout_seconds`, `max_connections`; `[appwrite]`
//! `endpoint` and `project`; every `[store]` key; `[mapping] id_key`; `[log] format`; every
//! `[audit]` key. A changed restart-only key refuses the whole reload.
//!
//! Owns: building [`Live`] from a `Config` (startup uses it too), the restart-only rule, the
//! reload itself and its log line, and warming a new configuration's providers up.
//! Must not: replace the transaction store (logins in flight live in it), or log a value of
//! the configuration (only key names, reasons and the file's checksum).

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use idp_provider_api::ConfigProblem;
use sha2::{Digest, Sha256};
use url::Url;

use crate::appwrite::{AppwriteClient, AppwriteError, ProjectId};
use crate::clock::Clock;
use crate::config::{AuditConfig, Config, ConfigError, LogFormat, StoreConfig};
use crate::http::Live;
use crate::http::rate_limit::RateLimit;
use crate::login::user_id::IdKey;
use crate::login::{Login, LoginParts};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::{RedisSettings, TransactionStore};

/// Where a reload reads the configuration, with what provider types, and whether warnings are
/// tolerated (`serve --development`): as at startup.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The file given to `serve --config`.
    pub path: PathBuf,
    /// Serve a configuration with warnings (placeholders, example domains) anyway.
    pub allow_warnings: bool,
    /// The provider types the program loaded its configuration with (its own ones too, from
    /// `Registry::with`), so that a reload reads the file the same way.
    pub registry: Registry,
}

/// The keys that cannot change while the process runs, with the values it started with.
///
/// Each has its reason: the listener is bound once; `public_url` is in the callback URLs and
/// the cookie name of logins in flight; the shutdown bounds are read when shutdown begins, and
/// the connection limits when serving begins; the Appwrite endpoint and project say where
/// users live, and a login must not start in one project and finish in another; the store
/// holds the logins in flight; `id_key` keys every derived user id and must never change at
/// all; the log format and the audit file are set up once (and an audit trail whose events
/// gain or lose the email halfway is hard to read).
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

/// SIGHUP, claimed for the process at the start of `serve`: its default action ends the
/// process, so it is claimed before the configuration is even read. A SIGHUP that arrives
/// before serving begins is kept, and reloads once serving has begun.
pub struct Hangups(#[cfg(unix)] tokio::signal::unix::Signal);

impl Hangups {
    /// Claims SIGHUP. Call it inside the runtime (`Runtime::enter`), as early as possible.
    ///
    /// # Errors
    /// When the signal handler cannot be installed.
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map(Self)
        }
        #[cfg(not(unix))]
        {
            Ok(Self())
        }
    }
}

/// Why a reload was refused. The old configuration keeps serving in every case.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file cannot be read (for its checksum).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The configuration file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not TOML, or keys are wrong (each problem names its key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Valid, with warnings, and serve was started without `--development`.
    #[error("the configuration has warnings (serve refuses them without --development): {}", list(.0))]
    Warnings(Vec<ConfigProblem>),
    /// A key that needs a restart changed.
    #[error("restart-only keys changed (restart to change them): {}", .0.join(", "))]
    RestartOnly(Vec<&'static str>),
    /// The Appwrite client cannot be built from the new `[appwrite]`/`[tls]`.
    #[error(transparent)]
    Appwrite(#[from] AppwriteError),
    /// The loading task ended without an answer (it panicked or the runtime is stopping).
    #[error("the configuration could not be loaded: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn list(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A reload that went through.
#[derive(Debug)]
pub struct Reloaded {
    /// Hex SHA-256 of the file as read (what `sha256sum` prints), so operators can see every
    /// instance converge. Environment overrides and `*_file` secrets are not in it.
    pub checksum: String,
    /// How many providers the new configuration serves.
    pub providers: usize,
}

/// Reloads the configuration of a running gateway.
pub struct Reloader {
    source: ConfigSource,
    started: RestartOnly,
    live: Arc<ArcSwap<Live>>,
    metrics: Arc<Metrics>,
}

impl Reloader {
    /// A reloader for the state `live`, whose process started with the `started` values;
    /// it counts its outcomes in `metrics`, which a reloaded configuration keeps using.
    pub fn new(
        source: ConfigSource,
        started: RestartOnly,
        live: Arc<ArcSwap<Live>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            source,
            started,
            live,
            metrics,
        }
    }

    /// Loads, validates and opens the configuration again; swaps it in only if all of that
    /// succeeded and no restart-only key changed. This is where a reload succeeds or fails.
    ///
    /// # Errors
    /// See [`ReloadError`]; the current configuration is untouched on every error.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let (path, registry) = (self.source.path.clone(), self.source.registry.clone());
        // Reading files and opening providers blocks: off the async workers. The file is read
        // once: the configuration is made of exactly the bytes whose checksum is logged.
        let (checksum, config) = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(&path).map_err(|source| ReloadError::Read {
                path: path.display().to_string(),
                source,
            })?;
            Ok::<_, ReloadError>((
                data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes)),
                Config::from_file_bytes(&path, &bytes, &registry)?,
            ))
        })
        .await??;
        if !config.warnings.is_empty() && !self.source.allow_warnings {
            return Err(ReloadError::Warnings(config.warnings));
        }
        for warning in &config.warnings {
            tracing::warn!(
                key = warning.key,
                reason = warning.reason,
                "configuration warning (reloading anyway: --development)"
            );
        }
        let changed = self.started.changed(&RestartOnly::of(&config));
        if !changed.is_empty() {
            return Err(ReloadError::RestartOnly(changed));
        }
        config.log_notices();
        let current = self.live.load_full();
        let next = build_live(
            config,
            current.login.shared_store(),
            current.login.clock(),
            &self.metrics,
            Some(&current),
        )?;
        let providers = next.login.providers().count();
        let login = next.login.clone();
        self.live.store(Arc::new(next));
        tokio::spawn(warm_up(login));
        Ok(Reloaded {
            checksum,
            providers,
        })
    }

    /// [`Reloader::reload`], with its outcome logged: `config reloaded` (checksum, provider
    /// count) or `config reload refused` (the reason, naming keys, never values).
    pub async fn reload_and_log(&self) {
        let outcome = self.reload().await;
        self.metrics.config_reload(outcome.is_ok());
        match outcome {
            Ok(done) => tracing::info!(
                checksum = %done.checksum,
                providers = done.providers,
                "config reloaded"
            ),
            Err(error) => tracing::error!(
                %error,
                "config reload refused; the previous configuration keeps serving"
            ),
        }
    }

    /// Reloads on every SIGHUP, one reload at a time (signals that arrive meanwhile coalesce
    /// into one more reload), until the signal stream ends.
    #[cfg(unix)]
    pub async fn on_hangup(self, mut hangups: Hangups) {
        while hangups.0.recv().await.is_some() {
            tracing::info!(path = %self.source.path.display(), "SIGHUP: reloading the configuration");
            self.reload_and_log().await;
        }
    }
}

/// Builds the reloadable part from a validated configuration, around the transaction `store`
/// that outlives it. With `previous`, the rate limiter is kept (with its counts) when its
/// budget did not change.
///
/// # Errors
/// When the Appwrite client cannot be built.
pub fn build_live(
    config: Config,
    store: Arc<dyn TransactionStore>,
    clock: Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
    previous: Option<&Live>,
) -> Result<Live, AppwriteError> {
    let (base_roots, extra_roots) = config.tls.root_counts();
    tracing::info!(source = ?config.tls.source(), base_roots, extra_roots, "outbound TLS trust roots");
    let appwrite =
        AppwriteClient::new(&config.appwrite, &config.tls)?.with_metrics(metrics.appwrite());
    // The providers were opened while the file was validated, before the metrics existed:
    // their key-fetch reports reach the metrics from now on.
    config.provider_events.connect(metrics.clone());
    if config.token.length < 64 {
        tracing::warn!(
            length = config.token.length,
            "token.length is below 64: minted secrets are easier to guess"
        );
    }
    let cors_origins: Arc<[String]> = config
        .server
        .cors_origins
        .clone()
        .unwrap_or_else(|| config.redirect.allowed.origins())
        .into();
    let per_minute = config.rate_limit.per_ip_per_minute;
    let rate_limit = match previous.and_then(|p| p.rate_limit.as_ref()) {
        Some(kept) if kept.per_minute() == per_minute => Some(kept.clone()),
        _ => RateLimit::new(per_minute).map(Arc::new),
    };
    let login = Login::new(LoginParts {
        appwrite,
        store,
        providers: config.providers,
        redirect: config.redirect,
        token: config.token,
        public_url: config.server.public_url,
        transaction_ttl: config.store.transaction_ttl,
        id_key: config.mapping.id_key,
        clock,
        metrics: metrics.clone(),
        audit: crate::audit::Audit::new(&config.audit),
    });
    Ok(Live {
        login: Arc::new(login),
        rate_limit,
        trusted_proxies: config.server.trusted_proxies.into(),
        cors_origins,
        readiness: Arc::default(),
    })
}

/// Loads every provider's metadata and keys once (at startup, and after a reload for the new
/// providers), so the first login is fast and problems show in the log at once. Failures are
/// retried by logins and `/readyz`, after the provider's backoff.
pub async fn warm_up(login: Arc<Login>) {
    for provider in login.providers() {
        let id = &provider.info().id;
        match provider.ready().await {
            Ok(()) => tracing::info!(provider = %id, "provider ready"),
            Err(error) => tracing::warn!(provider = %id, %error, "provider not ready yet"),
        }
    }
    if let Err(error) = login.appwrite().ping().await {
        tracing::warn!(%error, "Appwrite is not reachable with the configured key yet");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[appwrite]
endpoint = "http://127.0.0.1:9/v1"
project = "p1"
api_key = "standard_0123456789abcdef0123456789abcdef"
[redirect]
allowed = ["http://127.0.0.1:3000/app/"]
[mapping]
id_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
[providers.corp]
type = "oidc"
issuer = "http://127.0.0.1:9/"
client_id = "c"
client_secret = "0123456789abcdef0123456789abcdef"
"#;

    fn restart_only(text: &str) -> RestartOnly {
        let config = Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
        RestartOnly::of(&config)
    }

    #[test]
    fn reloadable_changes_name_no_key() {
        let before = restart_only(BASE);
        let after = restart_only(&BASE.replace("client_id = \"c\"", "client_id = \"d\""));
        assert!(before.changed(&after).is_empty());
        let with_limit = format!("{BASE}\n[rate_limit]\nper_ip_per_minute = 5\n");
        assert!(before.changed(&restart_only(&with_limit)).is_empty());
    }

    #[test]
    fn each_restart_only_key_is_named() {
        let before = restart_only(BASE);
        let dir = tempfile::tempdir().expect("tempdir");
        let audit_file = dir.path().join("audit.jsonl");
        let cases = [
            (
                BASE.replace("127.0.0.1:8080", "127.0.0.1:8081"),
                vec!["server.listen", "server.public_url"],
            ),
            (
                BASE.replace("project = \"p1\"", "project = \"p2\""),
                vec!["appwrite.project"],
            ),
            (
                BASE.replace("id_key = \"AAEC", "id_key = \"AQEC"),
                vec!["mapping.id_key"],
            ),
            (
                format!("{BASE}\n[store]\ntransaction_ttl_seconds = 60\n"),
                vec!["store.transaction_ttl_seconds"],
            ),
            (
                format!("{BASE}\n[log]\nformat = \"pretty\"\n"),
                vec!["log.format"],
            ),
            (
                format!("{BASE}\n[audit]\ninclude_email = true\n"),
                vec!["audit.include_email"],
            ),
            (
                format!("{BASE}\n[audit]\nfile = \"{}\"\n", audit_file.display()),
                vec!["audit.file"],
            ),
            (
                BASE.replace("[appwrite]", "shutdown_grace_seconds = 3\n[appwrite]"),
                vec!["server.shutdown_grace_seconds"],
            ),
            (
                BASE.replace("[appwrite]", "worker_threads = 0\n[appwrite]"),
                vec!["server.worker_threads"],
            ),
            (
                BASE.replace("[appwrite]", "header_read_timeout_seconds = 3\n[appwrite]"),
                vec!["server.header_read_timeout_seconds"],
            ),
            (
                BASE.replace("[appwrite]", "max_connections = 50\n[appwrite]"),
                vec!["server.max_connections"],
            ),
            (
                BASE.replace("[appwrite]", "metrics_listen = \"127.0.0.1:0\"\n[appwrite]"),
                vec!["server.metrics_listen"],
            ),
            (
                BASE.replace("[appwrite]", "header_read_timeout_seconds = 3\n[appwrite]"),
                vec!["server.header_read_timeout_seconds"],
            ),
            (
                BASE.replace("[appwrite]", "max_connections = 50\n[appwrite]"),
                vec!["server.max_connections"],
            ),
            (
                format!(
                    "{BASE}\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n\
                     encryption_keys = [\"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"]\n"
                ),
                vec!["store.backend"],
            ),
        ];
        for (text, keys) in cases {
            assert_eq!(before.changed(&restart_only(&text)), keys, "{text}");
        }
        // Between two Redis configurations, each store key by its name (a key rotation too).
        let redis = |keys: &str, prefix: &str| {
            format!(
                "{BASE}\n[store]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:1\"\n\
                 key_prefix = \"{prefix}\"\nencryption_keys = [{keys}]\n"
            )
        };
        let k1 = "\"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"";
        let k2 = "\"k2:AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"";
        let before = restart_only(&redis(k1, "a:"));
        assert!(before.changed(&restart_only(&redis(k1, "a:"))).is_empty());
        assert_eq!(
            before.changed(&restart_only(&redis(&format!("{k2}, {k1}"), "a:"))),
            ["store.encryption_keys"]
        );
        assert_eq!(
            before.changed(&restart_only(&redis(k1, "b:"))),
            ["store.key_prefix"]
        );
    }

    #[test]
    fn a_rebuild_keeps_the_rate_limiter_only_while_its_budget_is_unchanged() {
        let build = |text: &str, previous: Option<&Live>| {
            let config = Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
            let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
            let store = Arc::new(crate::store::memory::MemoryStore::new(
                config.store.transaction_ttl,
                config.store.max_open_transactions,
                clock.clone(),
            ));
            let metrics = Arc::new(Metrics::new());
            build_live(config, store, clock, &metrics, previous).expect("built")
        };
        let limited = format!("{BASE}\n[rate_limit]\nper_ip_per_minute = 5\n");
        let first = build(&limited, None);
        let same = build(&limited, Some(&first));
        let limiter = |live: &Live| live.rate_limit.clone().expect("limits on");
        assert!(
            Arc::ptr_eq(&limiter(&first), &limiter(&same)),
            "counts kept"
        );
        let changed = build(&limited.replace("= 5", "= 6"), Some(&same));
        assert!(!Arc::ptr_eq(&limiter(&same), &limiter(&changed)));
        assert_eq!(limiter(&changed).per_minute(), 6);
        let off = build(&limited.replace("= 5", "= 0"), Some(&changed));
        assert!(off.rate_limit.is_none());
    }

    #[test]
    fn the_same_id_key_written_otherwise_is_no_change() {
        // Base64 without padding decodes to the same key: not a change.
        let before = restart_only(BASE);
        let after = restart_only(&BASE.replace("Hh8=\"", "Hh8\""));
        assert!(before.changed(&after).is_empty());
    }
}
