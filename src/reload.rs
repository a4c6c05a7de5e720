//! Configuration reload (SIGHUP, and with `[server] config_watch_seconds` a change of the file:
//! [`watch`]): read the file (and the environment overrides) again, validate it and open
//! everything it names, and only then swap the reloadable part ([`Live`]) in, in one step; or
//! refuse, log why, and keep serving the old configuration.
//!
//! What a reload changes: providers (added, removed, changed), `[redirect]`, `[token]`,
//! `[appwrite]` `api_key` and `timeout_ms`, `[tls]`, `[rate_limit]`, `[server]`
//! `trusted_proxies` and `cors_origins`. What needs a restart ([`RestartOnly`]): `[server]`
//! `listen`, `metrics_listen`, `worker_threads`, `public_url`, `shutdown_delay_seconds`,
//! `shutdown_grace_seconds`, `header_read_timeout_seconds`, `max_connections`,
//! `config_watch_seconds`; `[appwrite]` `endpoint` and `project`; every `[store]` key;
//! `[mapping] id_key`; `[log] format`; every `[audit]` key. A changed restart-only key refuses
//! the whole reload.
//!
//! Owns: building [`Live`] from a `Config` (startup uses it too), the restart-only rule
//! ([`restart_only`]), reading the file once for its checksum and its configuration
//! ([`ConfigFile`]), the reload itself and its log line, the one task that reloads (on SIGHUP
//! and for [`watch`]), and warming a new configuration's providers up.
//! Must not: replace the transaction store (logins in flight live in it), or log a value of
//! the configuration (only key names, reasons and the file's checksum).

mod restart_only;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use idp_provider_api::ConfigProblem;
use sha2::{Digest, Sha256};

use crate::appwrite::{AppwriteClient, AppwriteError};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::http::Live;
use crate::http::limiter::RateLimit;
use crate::login::{Login, LoginParts};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::TransactionStore;
pub use restart_only::RestartOnly;
use watch::{Seen, Watch};

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

impl ConfigSource {
    /// The configuration `serve` starts with: the file read once, exactly those bytes loaded
    /// (with the environment overrides and `*_file` secrets), and the file's checksum, which a
    /// [`Watch`] compares later reads with.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load(&self) -> Result<(Config, String), ConfigError> {
        let file = ConfigFile::new(Config::read_file(&self.path)?);
        let config = file.load(self)?;
        Ok((config, file.checksum))
    }
}

/// The configuration file as read once: its bytes and their SHA-256, in hex (what `sha256sum`
/// prints). Only these bytes are parsed, so the configuration applied is the one the logged
/// checksum names, however the file changes meanwhile.
///
/// A Kubernetes ConfigMap volume is updated by renaming a new `..data` symlink over the old
/// one, and the mounted `config.toml` links through it: opening the path resolves the links
/// once, so a read gets one version's file whole, never half of each.
pub struct ConfigFile {
    bytes: Vec<u8>,
    checksum: String,
}

impl ConfigFile {
    fn new(bytes: Vec<u8>) -> Self {
        let checksum = data_encoding::HEXLOWER.encode(&Sha256::digest(&bytes));
        Self { bytes, checksum }
    }

    /// Reads `path` once (any file: a FIFO too).
    ///
    /// # Errors
    /// `Read`, with the OS error.
    pub fn read(path: &Path) -> Result<Self, ReloadError> {
        std::fs::read(path)
            .map(Self::new)
            .map_err(|source| ReloadError::Read {
                path: path.display().to_string(),
                source,
            })
    }

    /// Hex SHA-256 of the bytes.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The configuration of exactly these bytes, as `source` reads a file.
    fn load(&self, source: &ConfigSource) -> Result<Config, ConfigError> {
        Config::from_file_bytes(&source.path, &self.bytes, &source.registry)
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

    /// The next SIGHUP; `None` once no more can come. Without Unix signals, never.
    async fn recv(&mut self) -> Option<()> {
        #[cfg(unix)]
        {
            self.0.recv().await
        }
        #[cfg(not(unix))]
        {
            std::future::pending().await
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
        self.apply(self.read().await?).await
    }

    /// Reads the file once, off the async workers.
    async fn read(&self) -> Result<ConfigFile, ReloadError> {
        let path = self.source.path.clone();
        tokio::task::spawn_blocking(move || ConfigFile::read(&path)).await?
    }

    /// The reload of `file`'s configuration, exactly its bytes: see [`Reloader::reload`].
    async fn apply(&self, file: ConfigFile) -> Result<Reloaded, ReloadError> {
        let checksum = file.checksum.clone();
        let source = self.source.clone();
        // Reading secret files and opening providers blocks: off the async workers.
        let config = tokio::task::spawn_blocking(move || file.load(&source)).await??;
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

    /// Reloads what `read` read (or refuses, when it read nothing), and counts and logs the
    /// outcome: `config reloaded` (checksum, provider count) or `config reload refused` (the
    /// reason, naming keys, never values).
    async fn apply_and_log(&self, read: Result<ConfigFile, ReloadError>) {
        let outcome = match read {
            Ok(file) => self.apply(file).await,
            Err(error) => Err(error),
        };
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

    /// Reloads on every SIGHUP and, with `watch`, when a check finds the file changed (see
    /// [`watch`]), until the application ends. One reload at a time: SIGHUPs that arrive
    /// meanwhile coalesce into one more, and a check waits for the reload before it. A SIGHUP
    /// always reloads (the `*_file` secrets and the environment may have changed, which the
    /// checksum does not cover); the file it read is not reloaded again by the watch.
    pub async fn run(self, mut hangups: Hangups, mut watch: Option<Watch>) {
        if let Some(watch) = &watch {
            tracing::info!(
                path = %self.source.path.display(),
                every_seconds = watch.every().as_secs(),
                "watching the configuration file: a change reloads it"
            );
        }
        let mut signals = true;
        loop {
            tokio::select! {
                signal = hangups.recv(), if signals => {
                    if signal.is_none() {
                        signals = false;
                        continue;
                    }
                    tracing::info!(path = %self.source.path.display(), "SIGHUP: reloading the configuration");
                    let read = self.read().await;
                    if let Some(watch) = &mut watch {
                        watch.tried(Seen::of(&read));
                    }
                    self.apply_and_log(read).await;
                }
                () = watch::next_check(&mut watch) => {
                    if let Some(watch) = &mut watch {
                        self.check(watch).await;
                    }
                }
            }
        }
    }

    /// One check of the watched file: reads it once and reloads exactly those bytes when the
    /// watch says so.
    async fn check(&self, watch: &mut Watch) {
        let read = self.read().await;
        let seen = Seen::of(&read);
        tracing::trace!(?seen, "configuration file checked");
        if !watch.checked(seen) {
            return;
        }
        if let Ok(file) = &read {
            tracing::info!(
                path = %self.source.path.display(),
                checksum = %file.checksum,
                "configuration file changed: reloading"
            );
        }
        self.apply_and_log(read).await;
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
mod tests;
