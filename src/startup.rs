//! `Application`: builds everything from a `Config`, binds, serves until told to stop.
//! With `[server] metrics_listen`, `/metrics` gets a listener of its own, served and stopped
//! with the main one, with the same connection limits ([`accept`]).

pub mod accept;
pub mod files;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::appwrite::AppwriteError;
use crate::audit::file::FileStatus;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::http::AppState;
use crate::metrics::{AuditFileLosses, Metrics};
use crate::reload::watch::Watch;
use crate::reload::{self, ConfigSource, Hangups, Reloader, RestartOnly};
use crate::store::StoreError;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Appwrite client cannot be built.
    #[error(transparent)]
    Appwrite(#[from] AppwriteError),
    /// The transaction store cannot be built (a Redis client from its URL).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A built gateway, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    /// `[server] metrics_listen`, bound.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    local_addr: SocketAddr,
    /// The restart-only values it started with, which a reload must not change.
    started: RestartOnly,
    /// Where SIGHUP (and `[server] config_watch_seconds`) reloads the configuration from, the
    /// claimed SIGHUP, and the checksum of the file it was loaded from; `None`: no reloads.
    reload: Option<(ConfigSource, Hangups, String)>,
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished.
    Drained,
    /// `[server] shutdown_grace_seconds` passed with requests still in flight; they were cut.
    GraceElapsed,
}

/// Stops a background task when dropped, so no loop outlives the application.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Application {
    /// Binds `[server].listen` and builds the state.
    ///
    /// # Errors
    /// See [`StartupError`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Self::with_listener(config, listener, Arc::new(SystemClock))
    }

    /// Builds on a listener bound by the caller (tests bind port 0 first to know the URL);
    /// binds `[server] metrics_listen` itself. Must run inside the Tokio runtime.
    ///
    /// # Errors
    /// See [`StartupError`].
    pub fn with_listener(
        config: Config,
        listener: TcpListener,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.server.listen,
            source,
        })?;
        let metrics_listener = config.server.metrics_listen.map(bind_now).transpose()?;
        let started = RestartOnly::of(&config);
        let state = build_state(config, clock)?;
        Ok(Self {
            listener,
            metrics_listener,
            state,
            local_addr,
            started,
            reload: None,
        })
    }

    /// Reloads the configuration from `source` on every SIGHUP of `hangups` while serving (see
    /// [`crate::reload`]); one that arrived before serving begins reloads at once. With
    /// `[server] config_watch_seconds`, also when the file changes from the one the
    /// configuration was loaded from (`loaded`, its checksum: [`ConfigSource::load`]).
    #[must_use]
    pub fn reload_from(mut self, source: ConfigSource, hangups: Hangups, loaded: String) -> Self {
        self.reload = Some((source, hangups, loaded));
        self
    }

    /// Counts the lines lost from `[audit] file` (`status`, when there is one) in the
    /// metrics: `idp_bridge_audit_file_failures_total`.
    #[must_use]
    pub fn count_audit_file(self, status: Option<FileStatus>) -> Self {
        if let Some(status) = status {
            self.state
                .metrics
                .count_audit_file(move || AuditFileLosses {
                    write: status.write_failures(),
                    queue_full: status.dropped_lines(),
                });
        }
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The bound address of `[server] metrics_listen`, when set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then drains: `/readyz` answers 503 at once; after
    /// `[server] shutdown_delay_seconds` the listener closes (new connections are refused) and
    /// the requests in flight get `[server] shutdown_grace_seconds` to finish. Past that bound
    /// it returns [`Stopped::GraceElapsed`] without waiting for them. Each listener serves
    /// with the `[server]` connection limits ([`accept`]).
    ///
    /// # Errors
    /// None today: a failed `accept` is logged and tried again. The `Result` is kept for
    /// callers that treat a server failure as fatal.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Stopped> {
        let (delay, grace) = (self.started.shutdown_delay, self.started.shutdown_grace);
        let limits = accept::Limits {
            header_read_timeout: self.started.header_read_timeout,
            max_connections: self.started.max_connections,
        };
        let listeners = 1 + usize::from(self.metrics_listener.is_some());
        files::make_room(limits.max_connections.saturating_mul(listeners));
        let _reloads = self.reload.map(|(source, hangups, loaded)| {
            let watch = self
                .started
                .config_watch
                .map(|every| Watch::new(every, loaded));
            let reloader = Reloader::new(
                source,
                self.started,
                self.state.live.clone(),
                self.state.metrics.clone(),
            );
            AbortOnDrop(tokio::spawn(reloader.run(hangups, watch)))
        });
        let live = self.state.live.clone();
        let _sweeper = AbortOnDrop(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if let Some(limit) = &live.load().rate_limit {
                    limit.forget_idle();
                }
            }
        }));
        let _warmup = AbortOnDrop(tokio::spawn(reload::warm_up(
            self.state.live.load().login.clone(),
        )));
        let draining = self.state.draining.clone();
        let (closed, mut listener_closed) = tokio::sync::watch::channel(false);
        let _graceful = AbortOnDrop(tokio::spawn(async move {
            shutdown.await;
            draining.begin();
            tracing::info!(
                delay_seconds = delay.as_secs(),
                "draining: /readyz answers 503"
            );
            tokio::time::sleep(delay).await;
            tracing::info!(
                grace_seconds = grace.as_secs(),
                "closing the listener; finishing the requests in flight"
            );
            let _ = closed.send(true);
        }));
        tracing::info!(
            addr = %self.local_addr,
            max_connections = limits.max_connections,
            header_read_timeout_seconds = limits.header_read_timeout.as_secs(),
            "idp-bridge listening"
        );
        // The metrics listener closes with the main one.
        let _metrics = self.metrics_listener.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "serving /metrics on its own listener");
            }
            let app = crate::http::metrics_router(self.state.clone());
            let stop = listener_closed.clone();
            AbortOnDrop(tokio::spawn(accept::serve(listener, app, limits, stop)))
        });
        let decisions = self.state.decisions.clone();
        let app = crate::http::router(self.state);
        let serving = accept::serve(self.listener, app, limits, listener_closed.clone());
        tokio::pin!(serving);
        tokio::select! {
            () = &mut serving => return Ok(Stopped::Drained),
            _ = listener_closed.wait_for(|closed| *closed) => {}
        }
        let grace_ends = tokio::time::Instant::now() + grace;
        let drained = tokio::time::timeout_at(grace_ends, serving).await.is_ok();
        // Decisions whose client hung up run on without a connection: they get the same grace.
        let decided = decisions.finish_by(grace_ends).await;
        if drained && decided {
            Ok(Stopped::Drained)
        } else {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "requests still in flight after the shutdown grace; exiting without them"
            );
            Ok(Stopped::GraceElapsed)
        }
    }
}

/// Assembles the state from a validated configuration.
///
/// # Errors
/// When the Appwrite client or the store cannot be built.
pub fn build_state(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartupError> {
    let metrics = Arc::new(Metrics::new());
    let store = crate::store::open(&config.store, clock.clone())?;
    let counted = store.clone();
    metrics.count_open_transactions(move || counted.open_transactions());
    let metrics_apart = config.server.metrics_listen.is_some();
    let max_decisions = config.server.max_connections;
    let live = reload::build_live(config, store, clock, &metrics, None)?;
    Ok(AppState::new(live, metrics, metrics_apart, max_decisions))
}

/// Binds `addr` without awaiting (`with_listener` is synchronous). Outside the Tokio runtime
/// that is an error, not tokio's panic.
fn bind_now(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    let bind = || {
        tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    };
    bind().map_err(|source| StartupError::Bind { addr, source })
}

/// The Tokio runtime `[server] worker_threads` asks for: 1 (the default), a current-thread
/// runtime (every task on the thread that serves: no wake-ups across threads, measured as the
/// least CPU per login, see the book's performance history); 0, a multi-thread runtime with one worker per
/// CPU; N, a multi-thread runtime with N workers. Timers and I/O are enabled either way.
///
/// # Errors
/// When the operating system refuses the threads or the I/O driver.
pub fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match worker_threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        workers => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if workers > 1 {
                builder.worker_threads(workers);
            }
            builder
        }
    };
    builder.enable_all().build()
}

#[cfg(test)]
mod tests {
    use tokio::runtime::RuntimeFlavor;

    use super::runtime;
    use crate::config::Config;

    fn server(worker_threads: Option<usize>) -> crate::config::ServerConfig {
        let key = worker_threads.map_or(String::new(), |n| format!("worker_threads = {n}"));
        let toml = format!(
            r#"
[server]
{key}
[appwrite]
endpoint = "http://127.0.0.1:9/v1"
project = "p"
api_key = "k"
[mapping]
id_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
[redirect]
allowed = ["http://127.0.0.1:3000/app/"]
[providers.corp]
type = "oidc"
issuer = "http://127.0.0.1:9"
client_id = "c"
client_secret = "s"
"#
        );
        Config::from_toml(&toml)
            .unwrap_or_else(|e| panic!("config: {e}"))
            .server
    }

    #[test]
    fn worker_threads_chooses_the_runtime() {
        let one = runtime(server(Some(1)).worker_threads).expect("runtime");
        assert_eq!(one.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        let three = runtime(server(Some(3)).worker_threads).expect("runtime");
        assert_eq!(three.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(three.metrics().num_workers(), 3);
        let per_cpu = runtime(server(Some(0)).worker_threads).expect("runtime");
        assert_eq!(
            per_cpu.handle().runtime_flavor(),
            RuntimeFlavor::MultiThread
        );
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(per_cpu.metrics().num_workers(), cpus);
        let default = runtime(server(None).worker_threads).expect("runtime");
        assert_eq!(
            default.handle().runtime_flavor(),
            RuntimeFlavor::CurrentThread
        );
    }

    #[test]
    fn too_many_worker_threads_name_the_key() {
        let toml = "[server]\nworker_threads = 100000\n";
        let error = Config::from_toml(toml).expect_err("refused").to_string();
        assert!(error.contains("server.worker_threads"), "{error}");
        assert!(error.contains("0..=256"), "{error}");
    }
}
