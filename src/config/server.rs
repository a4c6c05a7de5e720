//! `[server]`: where the gateway listens and how it is reached.

use std::net::{IpAddr, SocketAddr};

use idp_provider_api::url_rule::{base_url_with, secure_url};
use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

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
    /// Threads that serve requests (`worker_threads`): 1, the default, a current-thread runtime
    /// (everything on one thread: no cross-thread wake-ups, the least CPU per login); 0 one
    /// worker per CPU on Tokio's multi-thread runtime; N a multi-thread runtime with N workers.
    /// See `startup::runtime`.
    pub worker_threads: usize,
}

/// `[server] worker_threads` by default: one thread, measured as the least CPU per login (README
/// "Performance"); one core serves far more logins per second than people make.
pub const DEFAULT_WORKER_THREADS: usize = 1;

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
    worker_threads: usize,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            trusted_proxies: vec![],
            cors_origins: None,
            worker_threads: DEFAULT_WORKER_THREADS,
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
            worker_threads: worker_threads?,
        })
    }
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
    use super::origin;

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
