//! `Application`: builds everything from a `Config`, binds, serves until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::appwrite::{AppwriteClient, AppwriteError};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, StoreBackend};
use crate::http::AppState;
use crate::http::rate_limit::RateLimit;
use crate::login::{Login, LoginParts};
use crate::store::memory::MemoryStore;

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
}

/// A built gateway, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    local_addr: SocketAddr,
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

    /// Builds on a listener bound by the caller (tests bind port 0 first to know the URL).
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
        let state = build_state(config, clock)?;
        Ok(Self {
            listener,
            state,
            local_addr,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let _sweeper = self.state.rate_limit.clone().map(|limit| {
            AbortOnDrop(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    limit.forget_idle();
                }
            }))
        });
        let _warmup = AbortOnDrop(tokio::spawn(warm_up(self.state.clone())));
        tracing::info!(addr = %self.local_addr, "idp-bridge listening");
        let app = crate::http::router(self.state);
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Assembles the state from a validated configuration.
///
/// # Errors
/// When the Appwrite client cannot be built.
pub fn build_state(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StartupError> {
    let (base_roots, extra_roots) = config.tls.root_counts();
    tracing::info!(source = ?config.tls.source(), base_roots, extra_roots, "outbound TLS trust roots");
    let appwrite = AppwriteClient::new(&config.appwrite, &config.tls)?;
    let store = match config.store.backend {
        // Config validation refuses other backends in this version.
        StoreBackend::Memory | StoreBackend::Redis => Arc::new(MemoryStore::new(
            config.store.transaction_ttl,
            config.store.max_open_transactions,
            clock.clone(),
        )),
    };
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
    });
    Ok(AppState {
        login: Arc::new(login),
        rate_limit: RateLimit::new(config.rate_limit.per_ip_per_minute).map(Arc::new),
        trusted_proxies: config.server.trusted_proxies.into(),
        readiness: Arc::default(),
        cors_origins,
    })
}

/// Loads every provider's metadata and keys once at startup, so the first login is fast and
/// problems show in the log at once. Failures are retried by logins and `/readyz`, after the
/// provider's backoff.
async fn warm_up(state: AppState) {
    for provider in state.login.providers() {
        let id = &provider.info().id;
        match provider.ready().await {
            Ok(()) => tracing::info!(provider = %id, "provider ready"),
            Err(error) => tracing::warn!(provider = %id, %error, "provider not ready yet"),
        }
    }
    if let Err(error) = state.login.appwrite().ping().await {
        tracing::warn!(%error, "Appwrite is not reachable with the configured key yet");
    }
}

/// The Tokio runtime `[server] worker_threads` asks for: 1 (the default), a current-thread
/// runtime (every task on the thread that serves: no wake-ups across threads, measured as the
/// least CPU per login, see README "Performance"); 0, a multi-thread runtime with one worker per
/// CPU; N, a multi-thread runtime with N workers. Timers and I/O are enabled either way.
///
/// # Errors
/// When the operating system refuses the threads or the I/O driver.
pub fn runtime(server: &crate::config::ServerConfig) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match server.worker_threads {
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
        let one = runtime(&server(Some(1))).expect("runtime");
        assert_eq!(one.handle().runtime_flavor(), RuntimeFlavor::CurrentThread);
        let three = runtime(&server(Some(3))).expect("runtime");
        assert_eq!(three.handle().runtime_flavor(), RuntimeFlavor::MultiThread);
        assert_eq!(three.metrics().num_workers(), 3);
        let per_cpu = runtime(&server(Some(0))).expect("runtime");
        assert_eq!(
            per_cpu.handle().runtime_flavor(),
            RuntimeFlavor::MultiThread
        );
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(per_cpu.metrics().num_workers(), cpus);
        let default = runtime(&server(None)).expect("runtime");
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
