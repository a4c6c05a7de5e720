//! `[server]`: where the gateway listens and how it is reached.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use idp_provider_api::url_rule::{base_url_with, secure_url};
use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

use super::in_range;

/// `[server]`: where the gateway listens and how it is reached.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Socket address to bind.
    pub listen: SocketAddr,
    /// External base URL, without a trailing slash; callbacks are `{public_url}/v1/auth/{id}/callback`.
    pub public_url: Url,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins (`scheme://host[:port]`) whose pages may call `exchange` and `/v1/providers`
    /// from a browser; `None`: the origins of `[redirect].allowed`.
    pub cors_origins: Option<Vec<String>>,
    /// Where `GET /metrics` is served on a listener of its own (then not on `listen`); `None`:
    /// on `listen`, beside the login routes.
    pub metrics_listen: Option<SocketAddr>,
    /// How long, after a shutdown signal, `/readyz` answers 503 while everything else is still
    /// served (and new connections accepted), so a load balancer stops sending before the
    /// listener closes. 0 by default: the listener closes at once.
    pub shutdown_delay: Duration,
    /// How long the requests in flight when the listener closes may take to finish; past it
    /// the process exits anyway (status 1).
    pub shutdown_grace: Duration,
    /// Threads that serve requests (`worker_threads`): 1, the default, a current-thread runtime
    /// (everything on one thread: no cross-thread wake-ups, the least CPU per login); 0 one
    /// worker per CPU on Tokio's multi-thread runtime; N a multi-thread runtime with N workers.
    /// See `startup::runtime`.
    pub worker_threads: usize,
    /// How long a request's headers, and then its body, may take to arrive, and how long a
    /// write may make no progress; past it the connection is closed. Also how long a
    /// keep-alive connection may sit idle.
    pub header_read_timeout: Duration,
    /// Connections served at once, per listener; past it new ones wait in the listen backlog.
    pub max_connections: usize,
    /// How often the gateway reads its own configuration file and reloads it when it changed
    /// (`config_watch_seconds`; see `reload::watch`); `None` (0, the default): only SIGHUP
    /// reloads.
    pub config_watch: Option<Duration>,
}

/// `[server] header_read_timeout_seconds` by default: far longer than any real client or
/// proxy takes to send a request's headers, short enough that slow clients cannot pile up.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: i64 = 10;

/// `[server] max_connections` by default.
pub const DEFAULT_MAX_CONNECTIONS: i64 = 10_000;

/// `[server] worker_threads` by default: one thread, measured as the least CPU per login (the book's
/// performance history); one core serves far more logins per second than people make.
pub const DEFAULT_WORKER_THREADS: usize = 1;

/// `[server] listen` by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Largest `[server] config_watch_seconds`: a slower check than hourly is better done by
/// sending SIGHUP when the file changes.
pub const MAX_CONFIG_WATCH_SECONDS: i64 = 3600;

/// Largest `[server] worker_threads`.
pub const MAX_WORKER_THREADS: usize = 256;

/// `[server]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    listen: String,
    public_url: Option<String>,
    trusted_proxies: Vec<String>,
    cors_origins: Option<Vec<String>>,
    metrics_listen: Option<String>,
    shutdown_delay_seconds: i64,
    shutdown_grace_seconds: i64,
    worker_threads: usize,
    header_read_timeout_seconds: i64,
    max_connections: i64,
    config_watch_seconds: i64,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            public_url: None,
            trusted_proxies: vec![],
            cors_origins: None,
            metrics_listen: None,
            shutdown_delay_seconds: 0,
            // Above a login's own budget would be pointless; 10 s lets a normal callback
            // (code exchange, two or three Appwrite calls) finish.
            shutdown_grace_seconds: 10,
            worker_threads: DEFAULT_WORKER_THREADS,
            header_read_timeout_seconds: DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            // Off: a file that changes under a running gateway changes nothing until asked
            // (SIGHUP), as before the key existed.
            config_watch_seconds: 0,
        }
    }
}

impl RawServer {
    /// Checks the address, the public URL (derived from `listen` when unset) and every
    /// trusted proxy, reporting each problem through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<ServerConfig> {
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| {
                p(
                    "server.listen",
                    format!("{:?} is not an address:port: {e}", self.listen),
                )
            })
            .ok();
        let public_url_text = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen));
        let derived = if self.public_url.is_none() {
            " (derived from server.listen because server.public_url is not set; set it to the URL browsers use)"
        } else {
            ""
        };
        // An explicit http public_url on a public host is a warning (serve refuses it without
        // --development); one derived from `listen` must follow the https-or-loopback rule.
        let public_url = base_url_with(&public_url_text, self.public_url.is_some())
            .map_err(|e| {
                p(
                    "server.public_url",
                    format!("{public_url_text:?} {e}{derived}"),
                )
            })
            .ok();
        let mut trusted_proxies = Vec::new();
        for cidr in &self.trusted_proxies {
            match cidr
                .parse::<IpNet>()
                .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(net) if net.prefix_len() == 0 => p(
                    "server.trusted_proxies",
                    format!(
                        "{cidr:?} trusts every address: any client could then choose its own IP with X-Forwarded-For"
                    ),
                ),
                Ok(net) => trusted_proxies.push(net),
                Err(e) => p(
                    "server.trusted_proxies",
                    format!("{cidr:?} is not a CIDR: {e}"),
                ),
            }
        }
        let cors_origins = self.cors_origins.map(|list| {
            list.iter()
                .filter_map(|text| {
                    origin(text)
                        .map_err(|why| p("server.cors_origins", format!("{text:?} {why}")))
                        .ok()
                })
                .collect()
        });
        let metrics_listen = self.metrics_listen.as_deref().map(|text| {
            metrics_listen(text, listen)
                .map_err(|why| p("server.metrics_listen", format!("{text:?} {why}")))
        });
        let shutdown_delay = in_range(
            p,
            "server.shutdown_delay_seconds",
            self.shutdown_delay_seconds,
            0,
            300,
        );
        let shutdown_grace = in_range(
            p,
            "server.shutdown_grace_seconds",
            self.shutdown_grace_seconds,
            0,
            300,
        );
        let header_read_timeout = in_range(
            p,
            "server.header_read_timeout_seconds",
            self.header_read_timeout_seconds,
            1,
            300,
        );
        let max_connections = in_range(
            p,
            "server.max_connections",
            self.max_connections,
            1,
            1_000_000,
        );
        let config_watch = in_range(
            p,
            "server.config_watch_seconds",
            self.config_watch_seconds,
            0,
            MAX_CONFIG_WATCH_SECONDS,
        );
        let worker_threads = if self.worker_threads <= MAX_WORKER_THREADS {
            Some(self.worker_threads)
        } else {
            p(
                "server.worker_threads",
                format!(
                    "{} is outside 0..={MAX_WORKER_THREADS} (0: one per CPU; 1: a single-threaded runtime)",
                    self.worker_threads
                ),
            );
            None
        };
        Some(ServerConfig {
            listen: listen?,
            public_url: public_url?,
            trusted_proxies,
            cors_origins,
            metrics_listen: metrics_listen.transpose().ok()?,
            shutdown_delay: Duration::from_secs(shutdown_delay?),
            shutdown_grace: Duration::from_secs(shutdown_grace?),
            worker_threads: worker_threads?,
            header_read_timeout: Duration::from_secs(header_read_timeout?),
            max_connections: usize::try_from(max_connections?).ok()?,
            config_watch: config_watch
                .map(|seconds| (seconds > 0).then(|| Duration::from_secs(seconds)))?,
        })
    }
}

/// `[server] metrics_listen`: an address:port that cannot clash with `listen`: another port,
/// or port 0 ("any free port": each bind picks its own). The same port on another address
/// clashes too when either address is a wildcard (`0.0.0.0`, `[::]`).
fn metrics_listen(text: &str, listen: Option<SocketAddr>) -> Result<SocketAddr, String> {
    let addr = text
        .parse::<SocketAddr>()
        .map_err(|e| format!("is not an address:port: {e}"))?;
    let clashes = listen.is_some_and(|listen| {
        listen.port() == addr.port()
            && addr.port() != 0
            && (listen.ip() == addr.ip()
                || listen.ip().is_unspecified()
                || addr.ip().is_unspecified())
    });
    if clashes {
        return Err(
            "is server.listen's own address: give /metrics another port, or leave \
             metrics_listen out to serve it on server.listen"
                .into(),
        );
    }
    Ok(addr)
}

/// A CORS origin as browsers send it: `scheme://host[:port]`, nothing more; https, or http on
/// a loopback host. `*` is refused: the list names the apps that may call the gateway.
fn origin(text: &str) -> Result<String, String> {
    let url = secure_url(text, false).map_err(|e| e.to_string())?;
    let serialized = url.origin().ascii_serialization();
    // Anything beyond the origin (a path, a query) would never match a browser's `Origin`.
    if url.path() != "/" || url.query().is_some() || text.trim_end_matches('/') != serialized {
        return Err(format!(
            "is not an origin: write it as {serialized:?} (scheme, host and port only)"
        ));
    }
    Ok(serialized)
}

#[cfg(test)]
mod tests {
    use super::{metrics_listen, origin};

    #[test]
    fn metrics_listen_must_not_clash_with_listen() {
        let listen = "127.0.0.1:8080".parse().ok();
        assert_eq!(
            metrics_listen("127.0.0.1:9090", listen),
            Ok("127.0.0.1:9090".parse().expect("addr"))
        );
        assert!(metrics_listen("[::1]:9090", listen).is_ok());
        assert!(metrics_listen("127.0.0.1:0", "127.0.0.1:0".parse().ok()).is_ok());
        for clash in ["127.0.0.1:8080", "0.0.0.0:8080"] {
            let refused = metrics_listen(clash, listen).expect_err(clash);
            assert!(refused.contains("server.listen's own address"), "{refused}");
        }
        assert!(metrics_listen("10.0.0.1:8080", "0.0.0.0:8080".parse().ok()).is_err());
        for bad in ["9090", "localhost:9090", "127.0.0.1", ""] {
            let refused = metrics_listen(bad, listen).expect_err(bad);
            assert!(
                refused.contains("is not an address:port"),
                "{bad}: {refused}"
            );
        }
    }

    #[test]
    fn an_origin_is_scheme_host_and_port_only() {
        assert_eq!(
            origin("https://app.example.com").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            origin("https://app.example.com/").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:3000").as_deref(),
            Ok("http://127.0.0.1:3000")
        );
        for bad in [
            "*",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "http://app.example.com",
            "app.example.com",
            "https://APP.example.com:443",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }
}
