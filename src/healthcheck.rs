//! `idp-bridge healthcheck`: asks a running gateway's `GET /healthz` on the address its
//! configuration listens on, so a container's HEALTHCHECK follows `[server] listen` (file or
//! `IDP_BRIDGE_SERVER__LISTEN`) instead of repeating a port, and the image needs no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long the probe waits for the answer (a healthy gateway answers `/healthz` at once).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the gateway was judged unhealthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// No answer: nothing listens there, or it did not answer in time.
    #[error("no answer from http://{addr}/healthz: {reason}")]
    Unreachable {
        /// The address asked.
        addr: SocketAddr,
        /// What the connection said.
        reason: String,
    },
    /// An answer other than 200.
    #[error("http://{addr}/healthz answered {status}")]
    Status {
        /// The address asked.
        addr: SocketAddr,
        /// The status it answered.
        status: u16,
    },
}

/// Where to reach a gateway that listens on `listen`: the address itself, or the loopback of
/// its family when it listens on every interface (`0.0.0.0`, `::`), which cannot be dialled.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// One `GET /healthz` to the gateway listening on `listen`; `Ok` on 200.
///
/// # Errors
/// See [`HealthcheckError`]; the message names the address and what went wrong.
pub async fn probe(listen: SocketAddr) -> Result<(), HealthcheckError> {
    let addr = probe_address(listen);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| HealthcheckError::Client(e.to_string()))?;
    let response = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .map_err(|e| HealthcheckError::Unreachable {
            addr,
            reason: if e.is_timeout() {
                format!("no answer within {} s", PROBE_TIMEOUT.as_secs())
            } else {
                // The cause (refused, reset, …) without the URL, which holds only the address
                // already named.
                format!(
                    "connection failed: {}",
                    idp_provider_api::error_chain(&e.without_url())
                )
            },
        })?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(HealthcheckError::Status { addr, status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interface_is_probed_on_loopback_of_its_family() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:9000", "[::1]:9000"),
            ("127.0.0.1:8081", "127.0.0.1:8081"),
            ("10.1.2.3:80", "10.1.2.3:80"),
            ("[::1]:443", "[::1]:443"),
        ];
        for (listen, probed) in cases {
            let listen: SocketAddr = listen.parse().expect("address");
            assert_eq!(probe_address(listen).to_string(), probed, "{listen}");
        }
    }
}
