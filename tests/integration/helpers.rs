//! `TestApp`: the gateway on a free port, in front of a real OpenID provider (node
//! `oidc-provider`) and the Appwrite emulator, with helpers that read like the login flow.

use std::sync::Arc;

use appwrite_emulator::{Emulator, EmulatorConfig};
use idp_bridge::clock::SystemClock;
use idp_bridge::config::Config;
use idp_bridge::login::mapping::{AppwriteUserId, IdKey, LinkLabel};
use idp_bridge::startup::Application;
use mock_op::{MockOp, MockOpConfig};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use crate::idp::{CLIENT_ID, CLIENT_SECRET, NodeIdp, follow_until};

/// The provider id used in every test.
pub const PROVIDER: &str = "corp";
/// The app's pages: the allow-listed prefix and the two pages under it.
pub const APP: &str = "http://127.0.0.1:3000/app/";
pub const SUCCESS: &str = "http://127.0.0.1:3000/app/done";
pub const FAILURE: &str = "http://127.0.0.1:3000/app/failed";

/// Knobs of a test setup.
pub struct Options {
    /// `[redirect].delivery`.
    pub delivery: &'static str,
    /// `client_secret_basic` or `client_secret_post`, for both the gateway and the IdP.
    pub auth_method: &'static str,
    /// `[token]` values.
    pub token_length: u32,
    pub token_expire: u32,
    /// Which OpenID provider plays the IdP.
    pub idp: IdpKind,
    /// Extra lines for the `[providers.corp]` table (e.g. `link_by_email = true`).
    pub provider_extra: String,
    /// `[rate_limit].per_ip_per_minute` (0: off).
    pub rate_limit_per_minute: u32,
    /// `[server].trusted_proxies`, as a TOML array.
    pub trusted_proxies: &'static str,
    /// More lines for `[server]` (e.g. `metrics_listen = "127.0.0.1:0"`).
    pub server_extra: String,
    /// `[store].max_open_transactions`.
    pub max_open_transactions: u64,
    /// More lines for `[store]` (e.g. `backend = "redis"` and its keys).
    pub store_extra: String,
    /// `[mapping].id_key`: a fresh random key for every setup.
    pub id_key: String,
    /// More TOML after the `[providers.corp]` table: other providers' tables (for example
    /// `[providers.backend]` with `type = "signed_assertion"`), each with its own header.
    pub extra_toml: String,
    /// The node IdP posts back-channel logout tokens to the gateway's `corp` provider.
    pub idp_backchannel_logout: bool,
}

/// The OpenID provider behind the gateway in a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpKind {
    /// npm `oidc-provider` (the real, certified one).
    Node,
    /// The scriptable Rust `mock-op`, for misbehaviour.
    Mock,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            delivery: "query",
            auth_method: "client_secret_basic",
            token_length: 64,
            token_expire: 60,
            idp: IdpKind::Node,
            provider_extra: String::new(),
            rate_limit_per_minute: 0,
            trusted_proxies: "[]",
            server_extra: String::new(),
            max_open_transactions: 100_000,
            store_extra: String::new(),
            id_key: IdKey::generate().expect("random id key"),
            extra_toml: String::new(),
            idp_backchannel_logout: false,
        }
    }
}

impl Options {
    /// Defaults with the scriptable `mock-op` as the IdP.
    pub fn mock() -> Self {
        Self {
            idp: IdpKind::Mock,
            ..Self::default()
        }
    }
}

/// A running IdP.
pub enum Idp {
    /// npm `oidc-provider`.
    Node(NodeIdp),
    /// `mock-op`.
    Mock(MockOp),
}

impl Idp {
    /// The issuer.
    pub fn issuer(&self) -> String {
        match self {
            Self::Node(node) => node.issuer.clone(),
            Self::Mock(mock) => mock.issuer(),
        }
    }
}

/// A running gateway with its real parts.
pub struct TestApp {
    pub gateway: String,
    /// Where `GET /metrics` answers: on the gateway, or on `[server] metrics_listen`.
    pub metrics_url: String,
    pub emulator: Emulator,
    pub idp: Idp,
    /// A browser: cookies kept, redirects not followed.
    pub browser: reqwest::Client,
    /// The gateway's `[mapping].id_key`.
    pub id_key: IdKey,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The mock-op configuration of the tests: the node IdP's client and users, so tests read the same.
pub fn mock_config() -> MockOpConfig {
    MockOpConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        ..MockOpConfig::default()
    }
}

/// A browser-like client: cookie jar, no automatic redirects, no proxy.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}

/// The gateway configuration of the tests, in the shape of config.example.toml.
pub fn config_toml(gateway: &str, issuer: &str, emulator: &Emulator, options: &Options) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "{gateway}"
trusted_proxies = {proxies}
{server_extra}

[appwrite]
endpoint = "{endpoint}"
project = "{project}"
api_key = "{api_key}"
timeout_ms = 2000

[token]
length = {length}
expire_seconds = {expire}

[redirect]
allowed = ["{APP}"]
delivery = "{delivery}"

[store]
max_open_transactions = {max_open}
{store_extra}

[mapping]
id_key = "{id_key}"

[rate_limit]
per_ip_per_minute = {rate}

[log]
format = "pretty"

[providers.{PROVIDER}]
type = "oidc"
display_name = "Corporate SSO"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
token_endpoint_auth_method = "{auth}"
{extra}

{extra_toml}
"#,
        endpoint = emulator.endpoint(),
        project = emulator.project(),
        api_key = emulator.api_key(),
        length = options.token_length,
        expire = options.token_expire,
        delivery = options.delivery,
        auth = options.auth_method,
        rate = options.rate_limit_per_minute,
        extra = options.provider_extra,
        proxies = options.trusted_proxies,
        server_extra = options.server_extra,
        max_open = options.max_open_transactions,
        store_extra = options.store_extra,
        id_key = options.id_key,
        extra_toml = options.extra_toml,
    )
}

impl TestApp {
    /// Starts the emulator, the IdP and the gateway with default options.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// Starts everything with `options`.
    pub async fn spawn_with(options: Options) -> Self {
        let (listener, _) = gateway_listener().await;
        Self::spawn_on(options, listener).await
    }

    /// Starts everything with `options`, the gateway on `listener` (from [`gateway_listener`]:
    /// a test that must know the gateway's URL first, e.g. to register another provider's
    /// callback at a second IdP).
    pub async fn spawn_on(options: Options, listener: TcpListener) -> Self {
        let emulator = Emulator::spawn(EmulatorConfig::default()).await;
        let gateway = format!("http://{}", listener.local_addr().expect("addr"));
        let callback = format!("{gateway}/v1/auth/{PROVIDER}/callback");
        let logout = format!("{gateway}/v1/auth/{PROVIDER}/backchannel-logout");
        let idp_env: &[(&str, &str)] = match options.idp_backchannel_logout {
            true => &[("IDP_BACKCHANNEL_LOGOUT_URI", &logout)],
            false => &[],
        };
        let idp = match options.idp {
            IdpKind::Node => {
                Idp::Node(NodeIdp::spawn_with_env(&[callback], options.auth_method, idp_env).await)
            }
            IdpKind::Mock => Idp::Mock(MockOp::spawn(mock_config()).await),
        };
        let config = Config::from_toml(&config_toml(&gateway, &idp.issuer(), &emulator, &options))
            .unwrap_or_else(|e| panic!("test config is invalid: {e}"));
        let app = Application::with_listener(config, listener, Arc::new(SystemClock))
            .expect("build gateway");
        let metrics_url = match app.metrics_addr() {
            Some(addr) => format!("http://{addr}/metrics"),
            None => format!("{gateway}/metrics"),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        // The gateway pings Appwrite once at startup; wait for it so that tests can assert on
        // exactly the calls a login makes.
        for _ in 0..200 {
            if !emulator.calls().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        emulator.clear_calls();
        Self {
            gateway,
            metrics_url,
            emulator,
            idp,
            browser: browser(),
            id_key: IdKey::parse(&options.id_key).expect("the test id key parses"),
            stop: Some(stop),
        }
    }

    /// The Appwrite user id the gateway derives for `subject` at this test's IdP.
    pub fn user_id(&self, subject: &str) -> AppwriteUserId {
        self.id_key.user_id(&self.idp.issuer(), subject)
    }

    /// The label that records an email link of `subject` at this test's IdP.
    pub fn link_label(&self, subject: &str) -> LinkLabel {
        self.id_key.link_label(&self.idp.issuer(), subject)
    }

    /// The scriptable IdP (tests spawned with [`Options::mock`]).
    pub fn mock(&self) -> &MockOp {
        match &self.idp {
            Idp::Mock(mock) => mock,
            Idp::Node(_) => panic!("this test runs against the node IdP, not mock-op"),
        }
    }

    /// The start URL for `success` and `failure` pages.
    pub fn start_url(&self, success: &str, failure: &str) -> Url {
        self.start_url_at(PROVIDER, success, failure)
    }

    /// The start URL of `provider` for `success` and `failure` pages.
    pub fn start_url_at(&self, provider: &str, success: &str, failure: &str) -> Url {
        let mut url =
            Url::parse(&format!("{}/v1/auth/{provider}/start", self.gateway)).expect("url");
        url.query_pairs_mut()
            .append_pair("success", success)
            .append_pair("failure", failure);
        url
    }

    /// Starts a login at `provider` for `login_hint` (to the default success and failure
    /// pages); returns where the gateway sends the browser: the provider's authorization URL.
    pub async fn start_at(&self, provider: &str, login_hint: &str) -> Url {
        self.start_to(provider, login_hint, SUCCESS).await
    }

    /// [`TestApp::start_at`] with `success` as the success page.
    pub async fn start_to(&self, provider: &str, login_hint: &str, success: &str) -> Url {
        self.start_with(self.start_url_at(provider, success, FAILURE), login_hint)
            .await
    }

    /// Visits `start` (a start URL, perhaps with more parameters such as the app's `state`)
    /// for `login_hint`; returns where the gateway sends the browser: the provider's
    /// authorization URL.
    pub async fn start_with(&self, mut start: Url, login_hint: &str) -> Url {
        start
            .query_pairs_mut()
            .append_pair("login_hint", login_hint);
        let response = self.get(start.as_str()).await;
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "start must redirect to the provider"
        );
        location(&response)
    }

    /// Visits `start` and checks that it is refused with the plain 400 page: no redirect, no
    /// binding cookie. Returns the page.
    pub async fn start_refused(&self, start: &str) -> String {
        let response = self.get(start).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{start}");
        assert!(response.headers().get("location").is_none(), "{start}");
        assert!(response.headers().get("set-cookie").is_none(), "{start}");
        response.text().await.expect("page")
    }

    /// A whole login at `provider`, whose IdP is `mock` (not necessarily this app's own
    /// mock-op): where the gateway finally sends the browser.
    pub async fn login_via_mock(&self, provider: &str, mock: &MockOp, sub: &str) -> Url {
        let to_idp = self.start_at(provider, sub).await;
        let authorization = mock
            .authorize(to_idp.as_str(), sub)
            .unwrap_or_else(|e| panic!("mock-op refused the authorization request {to_idp}: {e}"));
        self.finish(&Url::parse(&authorization.redirect_to).expect("callback URL"))
            .await
    }

    /// Visits a callback URL with the browser; returns where the gateway sends it.
    pub async fn finish(&self, callback: &Url) -> Url {
        let response = self.get(callback.as_str()).await;
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "callback must redirect"
        );
        location(&response)
    }

    /// `GET` a gateway URL with the browser.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.browser.get(url).send().await.expect("request")
    }

    /// Starts a login for `login_hint` and walks the provider until it sends the browser back
    /// to the gateway's callback; returns the callback URL (not yet visited).
    pub async fn login_at_idp(&self, login_hint: &str, success: &str) -> Url {
        let to_idp = self.start_to(PROVIDER, login_hint, success).await;
        self.at_idp(to_idp, login_hint).await
    }

    /// Walks the provider from its authorization URL `to_idp` as `login_hint` until it sends
    /// the browser back to the gateway's callback; returns the callback URL (not yet visited).
    pub async fn at_idp(&self, to_idp: Url, login_hint: &str) -> Url {
        let issuer = self.idp.issuer();
        assert!(
            to_idp.as_str().starts_with(issuer.trim_end_matches('/')),
            "start goes to the IdP: {to_idp}"
        );
        match &self.idp {
            Idp::Node(_) => {
                let callback_prefix = format!("{}/v1/auth/{PROVIDER}/callback", self.gateway);
                follow_until(&self.browser, to_idp, &callback_prefix).await
            }
            Idp::Mock(mock) => {
                let authorization = mock
                    .authorize(to_idp.as_str(), login_hint)
                    .unwrap_or_else(|e| panic!("mock-op refused the authorization request: {e}"));
                Url::parse(&authorization.redirect_to).expect("callback URL")
            }
        }
    }

    /// A whole login: returns where the gateway finally sends the browser.
    pub async fn login(&self, login_hint: &str) -> Url {
        self.login_to(login_hint, SUCCESS).await
    }

    /// A whole login with a given success URL.
    pub async fn login_to(&self, login_hint: &str, success: &str) -> Url {
        let callback = self.login_at_idp(login_hint, success).await;
        self.finish(&callback).await
    }

    /// A whole login for `login_hint` from `start` (see [`TestApp::start_with`]): where the
    /// gateway finally sends the browser.
    pub async fn login_from(&self, start: Url, login_hint: &str) -> Url {
        let to_idp = self.start_with(start, login_hint).await;
        let callback = self.at_idp(to_idp, login_hint).await;
        self.finish(&callback).await
    }

    /// What the app does with `userId` and `secret`: `account.createSession` at Appwrite.
    pub async fn create_session(&self, user_id: &str, secret: &str) -> (StatusCode, Value) {
        create_session(&self.emulator, user_id, secret).await
    }
}

/// `GET url` with a fresh browser: the JSON answer.
pub async fn get_json(url: &str) -> Value {
    browser()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Checks that a login ended at the failure page with the error `kind` (and HTTP `code`),
/// whose message names `rule` when given, and that Appwrite was never called.
#[track_caller]
pub fn assert_refused(app: &TestApp, landed: &Url, kind: &str, code: u16, rule: Option<&str>) {
    assert_eq!(without_query(landed), FAILURE, "{landed}");
    let error = error_of(landed);
    assert_eq!(error["type"], kind, "{error}");
    assert_eq!(error["code"], code, "{error}");
    if let Some(rule) = rule {
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{rule}`")), "{error}");
    }
    assert!(
        app.emulator.calls().is_empty(),
        "a refused login must not call Appwrite: {:?}",
        app.emulator.calls()
    );
    assert!(app.emulator.tokens().is_empty(), "nothing minted");
}

/// A listener for the gateway on a free loopback port, and the gateway's URL.
pub async fn gateway_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gateway");
    let gateway = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, gateway)
}

/// `POST {gateway}/v1/auth/{provider}/exchange` with `body` as JSON and extra `headers`; the
/// status and the JSON answer (`Null` when the answer is not JSON).
pub async fn exchange(
    gateway: &str,
    provider: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{gateway}/v1/auth/{provider}/exchange"))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("exchange request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `account.createSession({ userId, secret })` at the emulator, as the app's SDK sends it.
pub async fn create_session(
    emulator: &Emulator,
    user_id: &str,
    secret: &str,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/account/sessions/token", emulator.endpoint()))
        .header("X-Appwrite-Project", emulator.project())
        .json(&serde_json::json!({"userId": user_id, "secret": secret}))
        .send()
        .await
        .expect("session request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `Location` of a redirect, resolved.
pub fn location(response: &reqwest::Response) -> Url {
    let raw = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{} has no Location", response.status()));
    response.url().join(raw).expect("Location is a URL")
}

/// A query parameter of `url`.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A fragment parameter of `url`.
pub fn fragment_param(url: &Url, name: &str) -> Option<String> {
    url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `error` JSON a failure URL carries.
pub fn error_of(url: &Url) -> Value {
    let raw = param(url, "error").unwrap_or_else(|| panic!("{url} carries no error"));
    serde_json::from_str(&raw).expect("error is JSON")
}

/// The failure URL without its query, for comparison.
pub fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Shortest secret the log checks grep for. A shorter value could sit in the logs by chance, or
/// be missed by a check that skips it, so a test that hands one over fails instead.
pub const MIN_GREPPABLE_SECRET: usize = 16;

/// Asserts that no `(name, value)` secret appears in `logs`. Every value must be at least
/// [`MIN_GREPPABLE_SECRET`] bytes long: a shorter one fails the test, it is never skipped.
#[track_caller]
pub fn assert_no_secret_in(logs: &str, secrets: &[(&str, &str)]) {
    for (name, value) in secrets {
        assert!(
            value.len() >= MIN_GREPPABLE_SECRET,
            "the {name} is {} bytes, shorter than the {MIN_GREPPABLE_SECRET} the log check \
             needs: use a longer test secret",
            value.len()
        );
        assert!(!logs.contains(value), "the {name} appears in the logs");
    }
}

/// The real binary, `idp-bridge serve`, with a config file at the most verbose log level
/// (`RUST_LOG=trace`, JSON lines), its stdout and stderr collected for log checks.
pub struct Served {
    child: tokio::process::Child,
    logs: Arc<std::sync::Mutex<String>>,
    /// The tasks reading its stdout and stderr: done once the process has exited and they
    /// have read every line it wrote.
    collectors: Vec<tokio::task::JoinHandle<()>>,
    path: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

/// `config` (from [`config_toml`]) as [`Served`] runs it: `listen` moved to `port`, the log
/// format JSON.
pub fn served_config(port: u16, config: &str) -> String {
    listening_on(port, config).replace("format = \"pretty\"", "format = \"json\"")
}

/// `config` (from [`config_toml`]) with its `[server] listen` moved to `port`.
pub fn listening_on(port: u16, config: &str) -> String {
    config.replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    )
}

impl Served {
    /// Writes `config` (from [`config_toml`]: its `listen` moved to `port`, its log format to
    /// JSON) to a file and serves it; waits until `/healthz` answers.
    pub async fn start(port: u16, config: &str) -> Self {
        Self::start_with_env(port, config, &[]).await
    }

    /// [`Served::start`] with more environment variables (e.g. `SSL_CERT_FILE`).
    pub async fn start_with_env(port: u16, config: &str, env: &[(&str, &std::path::Path)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, served_config(port, config)).expect("write config");
        Self::start_file_with_env(port, &path, dir, env).await
    }

    /// Serves the config file at `path`, inside `dir` (kept until the process stops).
    pub async fn start_file(port: u16, path: &std::path::Path, dir: tempfile::TempDir) -> Self {
        Self::start_file_with_env(port, path, dir, &[]).await
    }

    /// [`Served::start_file`] with more environment variables.
    pub async fn start_file_with_env(
        port: u16,
        path: &std::path::Path,
        dir: tempfile::TempDir,
        env: &[(&str, &std::path::Path)],
    ) -> Self {
        use std::process::Stdio;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
            .args(["serve", "--config"])
            .arg(path)
            .env("RUST_LOG", "trace")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start idp-bridge");
        let logs = Arc::new(std::sync::Mutex::new(String::new()));
        let collectors = vec![
            collect(child.stdout.take().expect("stdout"), logs.clone()),
            collect(child.stderr.take().expect("stderr"), logs.clone()),
        ];
        let client = browser();
        for _ in 0..100 {
            if client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
            {
                return Self {
                    child,
                    logs,
                    collectors,
                    path: path.to_path_buf(),
                    port,
                    _dir: dir,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "the gateway did not come up:\n{}",
            logs.lock().expect("logs")
        );
    }

    /// Replaces the config file with `config` (rewritten as [`Served::start`] does); the
    /// process reads it at the next SIGHUP.
    pub fn rewrite(&self, config: &str) {
        std::fs::write(&self.path, served_config(self.port, config)).expect("rewrite config");
    }

    /// The config file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the gateway is running")
    }

    /// Sends the signal `name` (`HUP`, `TERM`, …) to the process, with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    /// Waits (up to 10 s) until the log holds `count` lines containing `needle`; the log.
    pub async fn wait_for_log(&self, needle: &str, count: usize) -> String {
        for _ in 0..200 {
            let logs = self.logs();
            if logs.lines().filter(|line| line.contains(needle)).count() >= count {
                return logs;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no {count} log lines with {needle:?}:\n{}", self.logs());
    }

    /// Waits up to `limit` for the process to exit on its own: its exit status and log.
    pub async fn wait_exit(
        mut self,
        limit: std::time::Duration,
    ) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the gateway did not exit within {limit:?}:\n{}",
                    self.logs()
                )
            })
            .expect("wait for the gateway");
        self.drain_logs().await;
        (status, self.logs())
    }

    /// Stops the process as an orchestrator does (SIGTERM: it drains, flushes its log and
    /// exits; killed only if it has not within 30 s, a hang guard) and returns everything it
    /// logged.
    pub async fn stop(mut self) -> String {
        self.signal("TERM");
        let exited = tokio::time::timeout(std::time::Duration::from_secs(30), self.child.wait());
        if exited.await.is_err() {
            let _ = self.child.kill().await;
        }
        self.drain_logs().await;
        self.logs()
    }

    /// Waits until every line the exited process wrote has been read (its pipes are closed).
    async fn drain_logs(&mut self) {
        for collector in self.collectors.drain(..) {
            let _ = collector.await;
        }
    }
}

/// Collects a child's output lines.
fn collect(
    reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    into: Arc<std::sync::Mutex<String>>,
) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncBufReadExt as _;
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut all = into.lock().expect("log buffer");
            all.push_str(&line);
            all.push('\n');
        }
    })
}

/// Asserts that no JWT of any kind (ID token, access token, signed assertion) is in `logs`.
#[track_caller]
pub fn assert_no_jwt_in(logs: &str) {
    let jwt = logs.match_indices("eyJ").any(|(i, _)| {
        let token: String = logs[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        token.matches('.').count() >= 2 && token.len() > 40
    });
    assert!(!jwt, "a JWT appears in the logs");
}

/// A gateway with only the given provider tables, in front of `emulator`: the base settings
/// every such test repeats (`[server] public_url` on a free port, `[appwrite]`, a fresh
/// `[mapping] id_key`, `[redirect]` on [`APP`], `[rate_limit]`), plus `server_extra` lines in
/// `[server]`. Returns its URL and the handle that stops it when dropped.
pub struct BareGateway {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _stop: oneshot::Sender<()>,
}

/// What a [`BareGateway`] is made of.
pub struct Bare<'a> {
    /// More lines for `[server]`.
    pub server_extra: &'a str,
    /// `[rate_limit] per_ip_per_minute` (0: off).
    pub rate_limit_per_minute: u32,
    /// The `[providers.*]` tables.
    pub providers: &'a str,
    /// The provider types (the built-in ones, plus a test's own).
    pub registry: idp_bridge::registry::Registry,
}

impl BareGateway {
    /// Builds and starts it; panics (naming the reason) when the configuration is refused.
    pub async fn spawn(emulator: &Emulator, bare: Bare<'_>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let toml = format!(
            r#"
[server]
public_url = "{url}"
{server_extra}
[appwrite]
endpoint = "{endpoint}"
project = "{project}"
api_key = "{api_key}"
[mapping]
id_key = "{id_key}"
[redirect]
allowed = ["{APP}"]
[rate_limit]
per_ip_per_minute = {rate}
{providers}
"#,
            server_extra = bare.server_extra,
            endpoint = emulator.endpoint(),
            project = emulator.project(),
            api_key = emulator.api_key(),
            id_key = IdKey::generate().expect("random id key"),
            rate = bare.rate_limit_per_minute,
            providers = bare.providers,
        );
        let config = Config::from_toml_with(&toml, &bare.registry)
            .unwrap_or_else(|e| panic!("the test gateway's config is refused: {e}"));
        let app = Application::with_listener(config, listener, Arc::new(SystemClock))
            .expect("build gateway");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self { url, _stop: stop }
    }
}

#[cfg(test)]
mod secret_check {
    use super::assert_no_secret_in;

    #[test]
    #[should_panic(expected = "shorter than")]
    fn a_short_secret_fails_the_check_instead_of_being_skipped() {
        // "s3cret" is in the logs; a check that skipped short values would let it through.
        assert_no_secret_in("client_secret=s3cret", &[("client secret", "s3cret")]);
    }

    #[test]
    #[should_panic(expected = "appears in the logs")]
    fn a_long_secret_in_the_logs_fails_the_check() {
        let secret = "a-long-enough-test-secret-0123";
        assert_no_secret_in(&format!("x={secret}"), &[("client secret", secret)]);
    }

    #[test]
    fn absent_long_secrets_pass() {
        assert_no_secret_in(
            "nothing here",
            &[("client secret", "a-long-enough-test-secret")],
        );
    }
}
