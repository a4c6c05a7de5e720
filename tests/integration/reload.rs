//! Reload and shutdown of the real binary, driven by real signals: SIGHUP swaps a valid new
//! configuration in (or refuses a bad one, and the old one keeps serving); SIGTERM drains the
//! requests in flight within `[server] shutdown_grace_seconds`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use appwrite_emulator::{Emulator, EmulatorConfig};
use idp_bridge::login::mapping::IdKey;
use mock_op::{Behavior, MockOp};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use crate::helpers::{
    APP, FAILURE, IdpKind, Options, SUCCESS, Served, assert_no_secret_in, browser, config_toml,
    create_session, error_of, get_json, listening_on, location, mock_config, param, served_config,
    without_query,
};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, free_port};

/// How long a test waits for something that should happen at once: a guard against a hang,
/// not a claim about how fast anything is.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// The real binary in front of mock-op and the Appwrite emulator, with its config file (also
/// for `config_watch`).
pub(crate) struct Gateway {
    pub(crate) emulator: Emulator,
    mock: MockOp,
    pub(crate) url: String,
    id_key: String,
    served: Option<Served>,
    /// `[server]` keys of every configuration of this gateway (restart-only ones among them).
    server_keys: String,
    /// Reload outcomes logged so far (`config reloaded` or `config reload refused`).
    reloads: AtomicUsize,
}

impl Gateway {
    /// Serves provider `corp` (and `other` when `other`), with `server_keys` in `[server]`.
    pub(crate) async fn start(server_keys: &str, other: bool) -> Self {
        let emulator = Emulator::spawn(EmulatorConfig::default()).await;
        let mock = MockOp::spawn(mock_config()).await;
        let port = free_port();
        let mut gateway = Self {
            emulator,
            mock,
            url: format!("http://127.0.0.1:{port}"),
            id_key: IdKey::generate().expect("random id key"),
            served: None,
            server_keys: server_keys.to_string(),
            reloads: AtomicUsize::new(0),
        };
        gateway.served = Some(Served::start(port, &gateway.config(other)).await);
        gateway
    }

    /// The running binary.
    pub(crate) fn served(&self) -> &Served {
        self.served.as_ref().expect("started")
    }

    /// Stops the binary; its log.
    pub(crate) async fn stop(&mut self) -> String {
        self.served.take().expect("started").stop().await
    }

    /// This gateway's configuration: `corp`, and `other` when `other`.
    pub(crate) fn config(&self, other: bool) -> String {
        let issuer = self.mock.issuer();
        let options = Options {
            idp: IdpKind::Mock,
            id_key: self.id_key.clone(),
            extra_toml: if other {
                other_provider(&issuer)
            } else {
                String::new()
            },
            ..Options::default()
        };
        let text = config_toml(&self.url, &issuer, &self.emulator, &options);
        text.replacen(
            "[appwrite]",
            &format!("{}\n\n[appwrite]", self.server_keys),
            1,
        )
    }

    /// Writes `text` as the config file, sends SIGHUP, and waits for the reload's outcome:
    /// its log line (`config reloaded` or `config reload refused`).
    async fn reload(&self, text: &str) -> String {
        self.served().rewrite(text);
        self.served().signal("HUP");
        let done = self.reloads.fetch_add(1, Ordering::SeqCst) + 1;
        let logs = self.served().wait_for_log("config reload", done).await;
        logs.lines()
            .rfind(|line| line.contains("config reload"))
            .expect("a reload line")
            .to_string()
    }

    /// `idp_bridge_config_reloads_total{result=...}` as `/metrics` tells it.
    pub(crate) async fn reloads_counted(&self, result: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        let series = format!("idp_bridge_config_reloads_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
            .parse()
            .expect("a count")
    }

    /// Reloads `text`: it must be applied. Its log line.
    async fn reloaded(&self, text: &str) -> String {
        let line = self.reload(text).await;
        assert!(line.contains("config reloaded"), "{line}");
        line
    }

    /// Reloads `text`: it must be refused, the log line naming each of `names`.
    async fn refused(&self, text: &str, names: &[&str]) {
        let line = self.reload(text).await;
        assert!(line.contains("config reload refused"), "{line}");
        for name in names {
            assert!(line.contains(name), "{line} does not name {name}");
        }
    }

    /// The provider ids `/v1/providers` lists.
    pub(crate) async fn providers(&self) -> Vec<String> {
        let body = get_json(&format!("{}/v1/providers", self.url)).await;
        body["providers"]
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["id"].as_str().expect("id").to_string())
            .collect()
    }

    /// Starts a login at `provider` for `sub` (the app's `state`: "{sub}'s app state") with
    /// `browser` and lets mock-op authorize it: the callback URL, not yet visited.
    pub(crate) async fn to_callback(
        &self,
        browser: &reqwest::Client,
        provider: &str,
        sub: &str,
    ) -> Url {
        let mut start = Url::parse(&format!("{}/v1/auth/{provider}/start", self.url)).expect("url");
        start
            .query_pairs_mut()
            .append_pair("success", SUCCESS)
            .append_pair("failure", FAILURE)
            .append_pair("state", &format!("{sub}'s app state"));
        let response = browser.get(start).send().await.expect("start");
        assert_eq!(response.status(), StatusCode::FOUND, "start redirects");
        let authorization = self
            .mock
            .authorize(location(&response).as_str(), sub)
            .expect("mock-op authorizes");
        Url::parse(&authorization.redirect_to).expect("callback URL")
    }

    /// Visits `callback` with `browser`: where the gateway sends it.
    pub(crate) async fn finish(browser: &reqwest::Client, callback: &Url) -> Url {
        let response = browser
            .get(callback.as_str())
            .send()
            .await
            .expect("callback");
        assert_eq!(response.status(), StatusCode::FOUND, "callback redirects");
        location(&response)
    }

    /// A whole login at `provider` for `sub`: asserts it minted a token that makes a session;
    /// the user id.
    pub(crate) async fn login(&self, provider: &str, sub: &str) -> String {
        let browser = browser();
        let callback = self.to_callback(&browser, provider, sub).await;
        let landed = Self::finish(&browser, &callback).await;
        self.assert_success(&landed).await
    }

    /// `landed` is the success page with a token that makes a session; the user id.
    pub(crate) async fn assert_success(&self, landed: &Url) -> String {
        assert_eq!(without_query(landed), SUCCESS, "{landed}");
        let user_id = param(landed, "userId").expect("userId");
        let secret = param(landed, "secret").expect("secret");
        let (status, _) = create_session(&self.emulator, &user_id, &secret).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "the minted secret makes a session"
        );
        user_id
    }

    /// A login for alice whose callback is under way, slowed down by `token_delay` at the
    /// provider's token endpoint: the callback's answer, when it comes.
    async fn slow_callback(
        &self,
        token_delay: Duration,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let alice = browser();
        let callback = self.to_callback(&alice, "corp", "alice").await;
        self.mock.set_behavior(Behavior {
            token_delay: Some(token_delay),
            ..Behavior::default()
        });
        let asked = self.mock.counters().token;
        let in_flight = tokio::spawn(async move { alice.get(callback.as_str()).send().await });
        // Until the request reaches the token endpoint, which counts it before it waits.
        tokio::time::timeout(HANG_GUARD, async {
            while self.mock.counters().token == asked {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the callback reaches the token endpoint");
        in_flight
    }

    /// Sends SIGTERM and waits for the log line `then`.
    async fn terminate(&self, then: &str) {
        self.served().signal("TERM");
        self.served().wait_for_log(then, 1).await;
    }

    /// The secrets of this setup, for log checks.
    pub(crate) fn secrets(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Appwrite API key", self.emulator.api_key().to_string()),
            ("client secret", CLIENT_SECRET.to_string()),
            ("id key", self.id_key.clone()),
        ]
    }
}

/// A second provider at the same mock-op.
fn other_provider(issuer: &str) -> String {
    format!(
        r#"
[providers.other]
type = "oidc"
display_name = "Other SSO"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"#
    )
}

#[track_caller]
pub(crate) fn assert_no_secrets(logs: &str, secrets: &[(&'static str, String)]) {
    let pairs: Vec<(&str, &str)> = secrets.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_no_secret_in(logs, &pairs);
}

#[tokio::test]
async fn sighup_adds_a_provider_that_logs_in_without_a_restart() {
    let mut gateway = Gateway::start("", false).await;
    let pid = gateway.served().pid();
    assert_eq!(gateway.providers().await, ["corp"]);
    let readyz = format!("{}/readyz", gateway.url);
    assert!(get_json(&readyz).await["checks"]["provider:other"].is_null());

    let line = gateway.reloaded(&gateway.config(true)).await;
    // The checksum is what `sha256sum` prints for the file the process read.
    let file = std::fs::read(gateway.served().path()).expect("config file");
    let checksum = data_encoding::HEXLOWER.encode(&Sha256::digest(&file));
    assert!(line.contains(&checksum), "{line} lacks {checksum}");
    assert_eq!(gateway.served().pid(), pid, "the same process");
    assert_eq!(gateway.providers().await, ["corp", "other"]);
    // Checked at once, not after the previous configuration's cached verdict expires.
    assert_eq!(get_json(&readyz).await["checks"]["provider:other"], "ok");
    gateway.login("other", "alice").await;
    gateway.login("corp", "bob").await;
    assert_eq!(gateway.reloads_counted("success").await, 1);
    assert_eq!(gateway.reloads_counted("failure").await, 0);
    assert_no_secrets(&gateway.stop().await, &gateway.secrets());
}

#[tokio::test]
async fn a_broken_file_is_refused_with_its_key_and_the_old_config_keeps_serving() {
    let mut gateway = Gateway::start("", false).await;
    let good = gateway.config(false);
    let api_key = gateway.emulator.api_key().to_string();

    // Not TOML: the API key's string never ends. The message must not quote the line.
    let unterminated = good.replace(
        &format!("api_key = \"{api_key}\""),
        &format!("api_key = \"{api_key}"),
    );
    assert_ne!(unterminated, good);
    gateway
        .refused(&unterminated, &["cannot read the configuration"])
        .await;

    // TOML, with an invalid value: named by its key and reason.
    let invalid = good.replace("length = 64", "length = 500");
    gateway
        .refused(&invalid, &["token.length", "outside 4..=128"])
        .await;

    // Valid, with a warning: refused, as `serve` refuses it at start without --development.
    let empty_cors = good.replacen("[appwrite]", "cors_origins = []\n\n[appwrite]", 1);
    gateway
        .refused(&empty_cors, &["has warnings", "server.cors_origins"])
        .await;

    // A new provider in a refused file is not served: the whole file is refused.
    let with_typo = format!("{}\nscopes_typo = []\n", gateway.config(true));
    gateway.refused(&with_typo, &["scopes_typo"]).await;

    assert_eq!(gateway.providers().await, ["corp"]);
    gateway.login("corp", "alice").await;
    assert_eq!(gateway.reloads_counted("failure").await, 4);
    assert_eq!(gateway.reloads_counted("success").await, 0);
    assert_no_secrets(&gateway.stop().await, &gateway.secrets());
}

#[tokio::test]
async fn a_changed_restart_only_key_refuses_the_whole_reload() {
    let mut gateway = Gateway::start("", false).await;
    let before = gateway.login("corp", "alice").await;
    let new_key = IdKey::generate().expect("random id key");
    let mut secrets = gateway.secrets();
    secrets.push(("new id key", new_key.clone()));

    // A new id_key and a new provider in one file: nothing of it is applied.
    let text = gateway.config(true).replace(&gateway.id_key, &new_key);
    gateway.refused(&text, &["mapping.id_key"]).await;

    let text = gateway.config(false).replace(
        "max_open_transactions = 100000",
        "max_open_transactions = 7",
    );
    gateway
        .refused(&text, &["restart-only", "store.max_open_transactions"])
        .await;

    assert_eq!(gateway.providers().await, ["corp"]);
    assert_eq!(
        gateway.login("corp", "alice").await,
        before,
        "the user id is still derived with the old key"
    );
    assert_no_secrets(&gateway.stop().await, &secrets);
}

#[tokio::test]
async fn a_login_started_before_a_reload_finishes_after_it_unless_its_provider_is_gone() {
    let mut gateway = Gateway::start("", true).await;
    assert_eq!(gateway.providers().await, ["corp", "other"]);
    let (alice, bob) = (browser(), browser());
    let at_corp = gateway.to_callback(&alice, "corp", "alice").await;
    let at_other = gateway.to_callback(&bob, "other", "bob").await;

    // `other` removed, and a new token length: the reload goes through.
    let text = gateway.config(false).replace("length = 64", "length = 80");
    gateway.reloaded(&text).await;
    assert_eq!(gateway.providers().await, ["corp"]);

    // The login at `corp` finishes under the new configuration.
    let landed = Gateway::finish(&alice, &at_corp).await;
    let secret = param(&landed, "secret").expect("secret");
    assert_eq!(secret.len(), 80, "minted with the reloaded token length");
    assert_eq!(
        param(&landed, "state").as_deref(),
        Some("alice's app state")
    );
    gateway.assert_success(&landed).await;

    // The login at `other` ends at its failure page; nothing is minted for it.
    let minted = gateway.emulator.tokens().len();
    let landed = Gateway::finish(&bob, &at_other).await;
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "login_provider_removed");
    assert_eq!(param(&landed, "state").as_deref(), Some("bob's app state"));
    assert_eq!(gateway.emulator.tokens().len(), minted, "nothing minted");
    // Its state is spent: the same callback again is for an unknown provider.
    let replay = bob.get(at_other.as_str()).send().await.expect("replay");
    assert_eq!(replay.status(), StatusCode::NOT_FOUND);
    gateway.stop().await;
}

#[tokio::test]
async fn sigterm_lets_a_slow_callback_finish_refuses_new_connections_and_exits_0() {
    let mut gateway = Gateway::start("shutdown_grace_seconds = 10", false).await;
    let in_flight = gateway.slow_callback(Duration::from_secs(2)).await;
    gateway.terminate("closing the listener").await;
    // The server drops the listener just after that line: until then a new connection may
    // still be served.
    let healthz = format!("{}/healthz", gateway.url);
    tokio::time::timeout(HANG_GUARD, async {
        while !browser()
            .get(&healthz)
            .send()
            .await
            .is_err_and(|e| e.is_connect())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a new connection is refused");
    assert!(
        !in_flight.is_finished(),
        "refused while draining: the slow callback is still in flight"
    );

    let response = in_flight
        .await
        .expect("task")
        .expect("the callback is answered");
    assert_eq!(response.status(), StatusCode::FOUND);
    gateway.assert_success(&location(&response)).await;

    let served = gateway.served.take().expect("started");
    let (status, logs) = served.wait_exit(HANG_GUARD).await;
    // Within the grace: past it the process says so and exits 1 (the next test).
    assert_eq!(status.code(), Some(0), "{logs}");
    assert!(
        !logs.contains("requests still in flight after the shutdown grace"),
        "{logs}"
    );
}

#[tokio::test]
async fn draining_answers_readyz_503_and_past_the_grace_the_process_exits_1() {
    let mut gateway = Gateway::start(
        "shutdown_delay_seconds = 1\nshutdown_grace_seconds = 1",
        false,
    )
    .await;
    let in_flight = gateway.slow_callback(Duration::from_secs(20)).await;
    gateway.terminate("draining: /readyz answers 503").await;

    // During the delay: still accepting, but no longer ready.
    let ready = browser()
        .get(format!("{}/readyz", gateway.url))
        .send()
        .await
        .expect("accepted during the delay");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["status"], "draining");

    // Delay and grace, not the 20 s callback: waited out, the callback would have drained
    // and the process exited 0. That the configured delay and grace were the ones applied is
    // read from the log, in order, rather than from a clock.
    let served = gateway.served.take().expect("started");
    let (status, logs) = served.wait_exit(HANG_GUARD).await;
    assert_eq!(status.code(), Some(1), "cut requests exit 1:\n{logs}");
    let phases = [
        ("draining: /readyz answers 503", "\"delay_seconds\":1"),
        ("closing the listener", "\"grace_seconds\":1"),
        (
            "requests still in flight after the shutdown grace",
            "\"grace_seconds\":1",
        ),
    ];
    let mut lines = logs.lines();
    for (phase, setting) in phases {
        let line = lines
            .find(|line| line.contains(phase))
            .unwrap_or_else(|| panic!("no {phase:?} after the previous phase:\n{logs}"));
        assert!(line.contains(setting), "{phase}: {line}");
    }
    assert!(
        in_flight.await.expect("task").is_err(),
        "the cut callback got no answer"
    );
    assert!(gateway.emulator.tokens().is_empty(), "nothing minted");
}

#[tokio::test]
async fn a_reload_that_drops_a_redirect_url_stops_logins_in_flight_to_it() {
    let mut gateway = Gateway::start("", false).await;
    let alice = browser();
    let callback = gateway.to_callback(&alice, "corp", "alice").await;
    let text = gateway
        .config(false)
        .replace(APP, "http://127.0.0.1:3000/elsewhere/");
    gateway.reloaded(&text).await;

    let response = alice.get(callback.as_str()).send().await.expect("callback");
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "a page, no redirect"
    );
    let page = response.text().await.expect("page");
    assert!(page.contains("no longer allowed"), "{page}");
    assert!(gateway.emulator.tokens().is_empty(), "nothing minted");
    gateway.stop().await;
}

#[tokio::test]
async fn sighup_applies_new_cors_origins_and_rate_limits() {
    let mut gateway = Gateway::start("", false).await;
    let page = "http://127.0.0.1:4000";
    let preflight = || async {
        browser()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/providers", gateway.url),
            )
            .header("Origin", page)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .expect("preflight")
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().expect("ascii").to_string())
    };
    let starts = || async {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let start = format!(
                "{}/v1/auth/corp/start?success={SUCCESS}&failure={FAILURE}",
                gateway.url
            );
            statuses.push(browser().get(start).send().await.expect("start").status());
        }
        statuses
    };
    assert_eq!(preflight().await, None, "not an allowed origin yet");
    assert!(
        starts().await.iter().all(|s| *s == StatusCode::FOUND),
        "no limit yet"
    );

    let text = gateway
        .config(false)
        .replacen(
            "[appwrite]",
            &format!("cors_origins = [\"{page}\"]\n\n[appwrite]"),
            1,
        )
        .replace("per_ip_per_minute = 0", "per_ip_per_minute = 2");
    gateway.reloaded(&text).await;

    assert_eq!(preflight().await.as_deref(), Some(page));
    assert_eq!(
        starts().await,
        [
            StatusCode::FOUND,
            StatusCode::FOUND,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    gateway.stop().await;
}

/// SIGHUP's default action ends a process. `serve` claims it before it reads its configuration,
/// so a reload asked for while the gateway starts (a config manager that signals every
/// replica) does not kill it: the gateway starts, then reloads. The configuration's Appwrite
/// key is read from a named pipe, which holds `serve` inside its configuration load until the
/// test writes to it: the signal lands exactly there.
#[cfg(unix)]
#[tokio::test]
async fn a_sighup_while_the_configuration_loads_reloads_once_serving_instead_of_killing() {
    use std::process::Stdio;

    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let mock = MockOp::spawn(mock_config()).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let options = Options {
        idp: IdpKind::Mock,
        id_key: IdKey::generate().expect("random id key"),
        ..Options::default()
    };
    let config = listening_on(
        port,
        &config_toml(&url, &mock.issuer(), &emulator, &options),
    )
    .replace(&format!("api_key = \"{}\"", emulator.api_key()), "");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("write config");
    let pipe = dir.path().join("api_key");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo");
    assert!(made.success());

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("IDP_BRIDGE_APPWRITE__API_KEY_FILE", &pipe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start idp-bridge");
    let pid = child.id().expect("running").to_string();
    // Returns once `serve` opened the pipe: it is reading its configuration.
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&pipe)
        .expect("open the pipe");
    let hup = std::process::Command::new("kill")
        .args(["-s", "HUP", &pid])
        .status()
        .expect("kill");
    assert!(hup.success());
    // Had the signal ended the process, that shows without waiting a fixed time: the key
    // cannot be written to a pipe whose reader is gone, and a process that is gone never
    // answers /healthz below.
    if let Err(error) = std::io::Write::write_all(&mut writer, emulator.api_key().as_bytes()) {
        let status = tokio::time::timeout(HANG_GUARD, child.wait()).await;
        panic!("SIGHUP during startup ended the process ({error}): {status:?}");
    }
    drop(writer);
    // The startup's configuration is served, then the SIGHUP reloads it (reading the key again).
    // Opening the pipe for writing waits until `serve` opens it to read the key again.
    let (again, key) = (pipe.clone(), emulator.api_key().to_string());
    let reload = tokio::task::spawn_blocking(move || std::fs::write(again, key).expect("key"));
    let client = browser();
    let mut up = false;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().expect("status") {
            panic!("SIGHUP during startup ended the process: {status}");
        }
        if let Ok(response) = client.get(format!("{url}/healthz")).send().await {
            up = response.status() == StatusCode::OK;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the gateway did not come up");
    tokio::time::timeout(HANG_GUARD, reload)
        .await
        .expect("the SIGHUP reloaded the configuration")
        .expect("key fed");
    let _ = child.start_kill();
    let output = child.wait_with_output().await.expect("output");
    let logs = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.contains("SIGHUP: reloading the configuration"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_reload_applies_exactly_the_bytes_whose_checksum_it_logs() {
    // A configuration file that can be read only once: a FIFO, whose second reader would get
    // other bytes (or none), as a file rewritten between two reads would. The reload must
    // parse the very bytes it hashed and logs, not read the file again.
    let mut gateway = Gateway::start("", false).await;
    let path = gateway.served().path().to_path_buf();
    let port = Url::parse(&gateway.url).expect("url").port().expect("port");
    let bytes = served_config(port, &gateway.config(true));
    let checksum = data_encoding::HEXLOWER.encode(&Sha256::digest(bytes.as_bytes()));
    std::fs::remove_file(&path).expect("remove the file");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    // Opening a FIFO for writing waits for its reader: the reload.
    let writer = std::thread::spawn(move || std::fs::write(&path, bytes));
    gateway.served().signal("HUP");
    let logs = gateway.served().wait_for_log("config reload", 1).await;
    let line = logs
        .lines()
        .rfind(|line| line.contains("config reload"))
        .expect("a reload line");
    assert!(line.contains("config reloaded"), "{line}");
    assert!(line.contains(&checksum), "{line} lacks {checksum}");
    writer
        .join()
        .expect("the writer thread")
        .expect("the configuration was written");
    assert_eq!(gateway.providers().await, ["corp", "other"]);
    gateway.login("other", "alice").await;
    gateway.stop().await;
}
