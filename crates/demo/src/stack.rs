//! The whole local demo in one process, on loopback only: the Appwrite emulator, the
//! development OpenID provider (`mock-op`), the gateway (built from the library, exactly as
//! `idp-bridge serve` builds it) and the demo app page.
//!
//! [`start`] returns a [`Stack`] that owns every server; dropping it stops them all.
//! Used by `crates/demo/src/main.rs` and by the integration test `tests/integration/demo.rs`.

#[path = "page.rs"]
pub mod page;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use appwrite_emulator::{Emulator, EmulatorConfig};
use idp_bridge::clock::SystemClock;
use idp_bridge::config::Config;
use idp_bridge::login::user_id::IdKey;
use idp_bridge::startup::{Application, Stopped};
use mock_op::{MockOp, MockOpConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The provider id of the demo's OP in gateway URLs (`/v1/auth/demo/start`).
pub const PROVIDER_ID: &str = "demo";

/// Loopback ports to listen on; 0 picks a free port. A fixed port that is busy falls back to a
/// free one (see [`Stack::notes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// The demo app page.
    pub app: u16,
    /// The gateway.
    pub gateway: u16,
    /// The OpenID provider.
    pub op: u16,
    /// The Appwrite emulator.
    pub appwrite: u16,
}

impl Ports {
    /// The fixed ports `cargo run -p idp-bridge-demo` uses, so the printed URL is stable.
    pub const DEFAULT: Ports = Ports {
        app: 8090,
        gateway: 8091,
        op: 8092,
        appwrite: 8093,
    };
    /// Free ports everywhere (tests).
    #[allow(dead_code, reason = "used by tests/integration/demo.rs")]
    pub const ANY: Ports = Ports {
        app: 0,
        gateway: 0,
        op: 0,
        appwrite: 0,
    };
}

/// The running demo. Dropping it stops every server.
pub struct Stack {
    /// The demo page, `http://127.0.0.1:PORT/` (also the gateway's success and failure URL).
    pub app_url: String,
    /// `{gateway_url}/v1/auth/demo/start?success=..&failure=..`, the page's Sign-in link.
    #[allow(dead_code, reason = "used by tests/integration/demo.rs")]
    pub start_url: String,
    /// The gateway's base URL, `http://127.0.0.1:PORT`.
    pub gateway_url: String,
    /// The OP's issuer, `http://127.0.0.1:PORT`.
    pub op_issuer: String,
    /// The Appwrite API base, `http://127.0.0.1:PORT/v1`.
    pub appwrite_endpoint: String,
    /// The Appwrite project id.
    pub project: String,
    /// Fixed ports that were busy and replaced by free ones, one sentence each.
    pub notes: Vec<String>,
    /// The Appwrite emulator (inspect users, tokens and sessions).
    #[allow(
        dead_code,
        reason = "held to keep it running; read by tests/integration/demo.rs"
    )]
    pub emulator: Emulator,
    /// The OpenID provider.
    pub op: MockOp,
    gateway: Option<JoinHandle<std::io::Result<Stopped>>>,
    shutdown: Option<oneshot::Sender<()>>,
    page: JoinHandle<()>,
}

/// Starts everything on loopback.
///
/// # Panics
/// When no loopback port can be bound at all, or the generated gateway configuration is
/// refused (a bug in the demo). Busy fixed ports do not panic: they fall back to free ones.
pub async fn start(ports: Ports) -> Stack {
    start_allowing(ports, &[]).await
}

/// [`start`], with `more_allowed` added to the gateway's `[redirect] allowed` beside the demo
/// page (so also to its CORS origins): other apps, such as the example single-page app that
/// the browser test serves, may then sign in through the same gateway.
///
/// # Panics
/// As [`start`]; also when an entry of `more_allowed` is not an allowed URL.
#[allow(dead_code, reason = "used by tests/integration/browser.rs")]
pub async fn start_allowing(ports: Ports, more_allowed: &[&str]) -> Stack {
    let mut notes = Vec::new();

    let emulator_listener = bind("Appwrite emulator", ports.appwrite, &mut notes).await;
    let emulator = Emulator::spawn_on(EmulatorConfig::default(), emulator_listener)
        .unwrap_or_else(|e| panic!("demo: cannot start the Appwrite emulator on 127.0.0.1: {e}"));

    let op_config = MockOpConfig::default();
    let op = match MockOp::spawn_on(op_config.clone(), loopback(ports.op)).await {
        Ok(op) => op,
        Err(e) if ports.op != 0 => {
            notes.push(busy("OpenID provider", ports.op, &e));
            MockOp::spawn_on(op_config, loopback(0))
                .await
                .unwrap_or_else(|e| {
                    panic!("demo: cannot start the OpenID provider on 127.0.0.1: {e}")
                })
        }
        Err(e) => panic!("demo: cannot start the OpenID provider on 127.0.0.1: {e}"),
    };

    let app_listener = bind("demo page", ports.app, &mut notes).await;
    let gateway_listener = bind("gateway", ports.gateway, &mut notes).await;
    let app_url = format!("http://{}/", local_addr(&app_listener));
    let gateway_addr = local_addr(&gateway_listener);
    let gateway_url = format!("http://{gateway_addr}");

    let toml = gateway_toml(GatewaySettings {
        gateway_addr,
        app_url: &app_url,
        more_allowed,
        issuer: &op.issuer(),
        client_id: &op.config().client_id,
        client_secret: &op.config().client_secret,
        endpoint: &emulator.endpoint(),
        project: emulator.project(),
        api_key: emulator.api_key(),
        // A fresh key each run: the demo's Appwrite emulator starts empty every time.
        id_key: &IdKey::generate()
            .unwrap_or_else(|e| panic!("demo: the random source failed: {e}")),
    });
    let config = Config::from_toml(&toml)
        .unwrap_or_else(|e| panic!("demo: the gateway refused the demo configuration: {e}"));
    let app = Application::with_listener(config, gateway_listener, Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("demo: cannot build the gateway: {e}"));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let gateway = tokio::spawn(app.run_until_stopped(async move {
        // A send or a dropped sender both stop the gateway.
        let _ = stopped.await;
    }));

    let start_with = |success: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("success", success)
            .append_pair("failure", &app_url)
            .finish();
        format!("{gateway_url}/v1/auth/{PROVIDER_ID}/start?{query}")
    };
    let start_url = start_with(&app_url);
    let show_token_url = start_with(&format!("{app_url}?show=token"));
    let page = page::serve(
        app_listener,
        &page::PageConfig {
            start_url: start_url.clone(),
            show_token_url,
            appwrite_endpoint: emulator.endpoint(),
            project: emulator.project().to_owned(),
            gateway_url: gateway_url.clone(),
            op_url: op.issuer(),
        },
    );

    Stack {
        app_url,
        start_url,
        gateway_url,
        op_issuer: op.issuer(),
        appwrite_endpoint: emulator.endpoint(),
        project: emulator.project().to_owned(),
        notes,
        emulator,
        op,
        gateway: Some(gateway),
        shutdown: Some(shutdown),
        page,
    }
}

impl Stack {
    /// Waits until the gateway's `/readyz` answers 200 with `"status": "ready"` (Appwrite
    /// reachable with the key, the OP's metadata and keys loaded: a 200 `degraded` means one of
    /// them is not there yet).
    ///
    /// # Errors
    /// The last answer or error when `timeout` passes first.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let client = reqwest::Client::new();
        let url = format!("{}/readyz", self.gateway_url);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last = match client
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let ready = serde_json::from_str::<serde_json::Value>(&body)
                        .is_ok_and(|answer| answer["status"] == "ready");
                    if status.is_success() && ready {
                        return Ok(());
                    }
                    format!("{status} {body}")
                }
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("the gateway is not ready: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the gateway gracefully (requests in flight finish), then everything else.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(gateway) = self.gateway.take() {
            match tokio::time::timeout(Duration::from_secs(5), gateway).await {
                Ok(Ok(Ok(Stopped::Drained))) => {}
                Ok(Ok(Ok(Stopped::GraceElapsed))) => {
                    tracing::warn!("the gateway cut requests still in flight");
                }
                Ok(Ok(Err(error))) => tracing::error!(%error, "the gateway stopped with an error"),
                Ok(Err(error)) => tracing::error!(%error, "the gateway task failed"),
                Err(_) => tracing::warn!("the gateway did not stop within 5 s"),
            }
        }
        // Drop stops the page, the OP and the emulator.
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.abort();
        }
        self.page.abort();
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn busy(what: &str, port: u16, error: &std::io::Error) -> String {
    format!("{what}: 127.0.0.1:{port} is not available ({error}); using a free port instead")
}

/// Binds `127.0.0.1:port`, or a free loopback port when `port` is busy.
async fn bind(what: &str, port: u16, notes: &mut Vec<String>) -> TcpListener {
    match TcpListener::bind(loopback(port)).await {
        Ok(listener) => listener,
        Err(e) if port != 0 => {
            notes.push(busy(what, port, &e));
            TcpListener::bind(loopback(0))
                .await
                .unwrap_or_else(|e| panic!("demo: cannot bind a loopback port for the {what}: {e}"))
        }
        Err(e) => panic!("demo: cannot bind a loopback port for the {what}: {e}"),
    }
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("demo: a bound listener has no address: {e}"))
}

struct GatewaySettings<'a> {
    gateway_addr: SocketAddr,
    app_url: &'a str,
    more_allowed: &'a [&'a str],
    issuer: &'a str,
    client_id: &'a str,
    client_secret: &'a str,
    endpoint: &'a str,
    project: &'a str,
    api_key: &'a str,
    id_key: &'a str,
}

/// The gateway's configuration, as a person would write it in `idp-bridge.toml`.
fn gateway_toml(s: GatewaySettings<'_>) -> String {
    // A JSON string is a valid TOML basic string.
    let q = |text: &str| serde_json::Value::from(text).to_string();
    let addr = s.gateway_addr.to_string();
    let allowed: Vec<String> = std::iter::once(s.app_url)
        .chain(s.more_allowed.iter().copied())
        .map(q)
        .collect();
    format!(
        r#"[server]
listen = {listen}
public_url = {public_url}

[appwrite]
endpoint = {endpoint}
project = {project}
api_key = {api_key}

[mapping]
id_key = {id_key}

[redirect]
allowed = [{allowed}]

[log]
format = "pretty"

[providers.{PROVIDER_ID}]
type = "oidc"
display_name = "Mock OpenID provider"
issuer = {issuer}
client_id = {client_id}
client_secret = {client_secret}
"#,
        listen = q(&addr),
        public_url = q(&format!("http://{addr}")),
        endpoint = q(s.endpoint),
        project = q(s.project),
        api_key = q(s.api_key),
        id_key = q(s.id_key),
        allowed = allowed.join(", "),
        issuer = q(s.issuer),
        client_id = q(s.client_id),
        client_secret = q(s.client_secret),
    )
}
