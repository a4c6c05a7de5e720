//! What the benchmarks share: the gateway configuration in front of an in-process mock OP and
//! Appwrite emulator, and starting the real gateway on a loopback port.

use std::sync::Arc;

use appwrite_emulator::Emulator;
use idp_bridge::clock::SystemClock;
use idp_bridge::config::Config;
use idp_bridge::login::user_id::IdKey;
use idp_bridge::startup::Application;
use mock_op::MockOp;
use tokio::sync::oneshot;

/// The provider id in the benchmark configuration.
pub const PROVIDER: &str = "corp";
/// The allow-listed app prefix.
pub const APP: &str = "http://127.0.0.1:3000/app/";

/// A running gateway; dropping it stops the server.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _stop: oneshot::Sender<()>,
}

/// Starts the gateway for `op` and `emulator`, with rate limits off, `allowed_algs` and at most
/// `max_open` open logins; logging stays uninstalled, so it costs nothing.
pub async fn spawn_gateway(
    op: &MockOp,
    emulator: &Emulator,
    algs: &[&str],
    max_open: u64,
) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gateway");
    let url = format!("http://{}", listener.local_addr().expect("gateway addr"));
    let defaults = op.config();
    let algs = algs
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        r#"
[server]
public_url = "{url}"
[appwrite]
endpoint = "{endpoint}"
project = "{project}"
api_key = "{api_key}"
[mapping]
id_key = "{id_key}"
[redirect]
allowed = ["{APP}"]
[store]
max_open_transactions = {max_open}
[rate_limit]
per_ip_per_minute = 0
[providers.{PROVIDER}]
type = "oidc"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
allowed_algs = [{algs}]
"#,
        endpoint = emulator.endpoint(),
        project = emulator.project(),
        api_key = emulator.api_key(),
        id_key = IdKey::generate().expect("random"),
        issuer = op.issuer(),
        client_id = defaults.client_id,
        client_secret = defaults.client_secret,
    );
    let config =
        Config::from_toml(&toml).unwrap_or_else(|e| panic!("bench config is invalid: {e}"));
    let app =
        Application::with_listener(config, listener, Arc::new(SystemClock)).expect("build gateway");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Gateway { url, _stop: stop }
}
