//! `[server]`: where the gateway listens and how it is reached.

use std::net::{IpAddr, SocketAddr};

use idp_provider_api::url_rule::base_url;
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
}

/// `[server]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    listen: String,
    public_url: Option<String>,
    trusted_proxies: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            trusted_proxies: vec![],
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
        let public_url = base_url(&public_url_text)
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
        Some(ServerConfig {
            listen: listen?,
            public_url: public_url?,
            trusted_proxies,
        })
    }
}
