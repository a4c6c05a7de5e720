//! `GET /metrics`: logins, failures and exchanges move exactly their counters, labelled with
//! configured provider ids and the error types the app was told; the answer is OpenMetrics
//! text; `[server] metrics_listen` moves it to a listener of its own; nothing secret or
//! user-derived appears in it.

use std::collections::BTreeSet;
use std::sync::Arc;

use appwrite_emulator::{Emulator, EmulatorConfig, Fault, FaultScope};
use idp_bridge::clock::SystemClock;
use idp_bridge::config::Config;
use idp_bridge::startup::Application;

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{
    FAILURE, Options, PROVIDER, SUCCESS, TestApp, assert_no_secret_in, config_toml, error_of,
    exchange, gateway_listener, location, param, without_query,
};
use crate::idp::CLIENT_SECRET;
use crate::signed_assertion::{HOOK_SECRET, hmac_signature, now};
use idp_bridge::login::user_id::IdKey;

/// The `hook` provider (`signed_assertion`, hmac), for exchanges.
pub fn hook_table() -> String {
    format!(
        "[providers.hook]\ntype = \"signed_assertion\"\nformat = \"hmac\"\n\
         hmac_secrets = [\"{HOOK_SECRET}\"]\n"
    )
}

/// The gateway (with mock-op as `corp`'s IdP) plus `hook`, and `options`' other settings.
async fn spawn(options: Options) -> TestApp {
    TestApp::spawn_with(Options {
        extra_toml: hook_table(),
        ..options
    })
    .await
}

/// One scrape: the text and its samples.
pub struct Scrape {
    pub text: String,
}

impl Scrape {
    /// The value of `series` (`name{labels}` exactly as rendered), if present.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.text
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|value| value.parse().expect("a sample value"))
    }

    /// The value of `series`, which must be present.
    #[track_caller]
    pub fn value(&self, series: &str) -> f64 {
        self.get(series)
            .unwrap_or_else(|| panic!("{series} is not in the scrape:\n{}", self.text))
    }
}

/// `GET url`: 200, the OpenMetrics content type, a valid exposition.
pub async fn scrape_at(url: &str) -> Scrape {
    let response = reqwest::get(url).await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    let text = response.text().await.expect("body");
    assert_openmetrics(&text);
    Scrape { text }
}

pub async fn scrape(app: &TestApp) -> Scrape {
    scrape_at(&app.metrics_url).await
}

/// Checks the OpenMetrics text format (openmetrics.io, "Text Format"): `# HELP`, `# TYPE` and
/// `# UNIT` lines, each family declared once and before its samples, every sample named for its
/// family with a suffix its type allows, well-formed labels, a numeric value, and a final
/// `# EOF`. Written by hand: the one OpenMetrics parser on crates.io (`openmetrics-parser`) is
/// LGPL-3.0, outside deny.toml's licence list, and `prometheus-parse` reads the older
/// Prometheus format, not this one.
#[track_caller]
fn assert_openmetrics(text: &str) {
    let body = text
        .strip_suffix("# EOF\n")
        .unwrap_or_else(|| panic!("does not end with `# EOF`:\n{text}"));
    let mut families = BTreeSet::new();
    let mut current: Option<(String, String)> = None;
    for line in body.lines() {
        if let Some(descriptor) = line.strip_prefix("# ") {
            let mut parts = descriptor.splitn(3, ' ');
            let (kind, name, rest) = (parts.next(), parts.next(), parts.next());
            let (Some(kind), Some(name)) = (kind, name) else {
                panic!("malformed descriptor line {line:?}");
            };
            assert!(is_metric_name(name), "{line:?}");
            match kind {
                "TYPE" => {
                    let metric_type = rest.unwrap_or_default();
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "info",
                            "stateset",
                            "unknown"
                        ]
                        .contains(&metric_type),
                        "{line:?}"
                    );
                    assert!(families.insert(name.to_string()), "{name} declared twice");
                    current = Some((name.to_string(), metric_type.to_string()));
                }
                "HELP" | "UNIT" => {}
                _ => panic!("unknown descriptor {line:?}"),
            }
            continue;
        }
        let (family, metric_type) = current
            .as_ref()
            .unwrap_or_else(|| panic!("sample before any # TYPE: {line:?}"));
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let suffixes: &[&str] = match metric_type.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "info" => &["_info"],
            _ => &[""],
        };
        assert!(
            suffixes
                .iter()
                .any(|suffix| name.strip_suffix(suffix) == Some(family)),
            "sample {name} does not belong to the {metric_type} family {family}"
        );
        let rest = &line[name_end..];
        let value = match rest.strip_prefix('{') {
            Some(labels) => {
                let close = labels
                    .find("} ")
                    .unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                assert_labels(&labels[..close], line);
                &labels[close + 2..]
            }
            None => rest.strip_prefix(' ').expect("a space before the value"),
        };
        let number = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("value {other:?} of {line:?}: {e}")),
        };
        if metric_type != "gauge" {
            assert!(number >= 0.0, "negative {metric_type} value: {line:?}");
        }
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name="value",...`, values quoted with `\\`, `\"` and `\n` escapes only.
#[track_caller]
fn assert_labels(mut labels: &str, line: &str) {
    let mut names = BTreeSet::new();
    while !labels.is_empty() {
        let (name, rest) = labels
            .split_once("=\"")
            .unwrap_or_else(|| panic!("malformed label in {line:?}"));
        assert!(is_metric_name(name) && !name.contains(':'), "{line:?}");
        assert!(names.insert(name), "label {name} twice in {line:?}");
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    let escaped = chars.next().map(|(_, c)| c);
                    assert!(matches!(escaped, Some('\\' | '"' | 'n')), "{line:?}");
                }
                Some((at, '"')) => break at,
                Some(_) => {}
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels = rest[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&rest[end + 1..]);
    }
}

/// A login that the IdP refuses (`error=access_denied` at the callback): where it lands.
async fn refused_at_the_idp(app: &TestApp) -> Url {
    let to_idp = app.start_at(PROVIDER, "bob").await;
    let state = param(&to_idp, "state").expect("state");
    let mut callback =
        Url::parse(&format!("{}/v1/auth/{PROVIDER}/callback", app.gateway)).expect("callback URL");
    callback
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", "access_denied");
    app.finish(&callback).await
}

/// An exchange at `hook` for `sub`, signed with `secret`: the status and the answer.
pub async fn exchange_at_hook(
    app: &TestApp,
    sub: &str,
    jti: &str,
    secret: &str,
) -> (StatusCode, Value) {
    let body = json!({"sub": sub, "jti": jti}).to_string();
    let signature = hmac_signature(secret, now(), body.as_bytes());
    exchange(
        &app.gateway,
        "hook",
        body.as_bytes(),
        &[("X-Bridge-Signature", &signature)],
    )
    .await
}

#[tokio::test]
async fn logins_failures_and_exchanges_move_exactly_their_counters() {
    let app = spawn(Options::mock()).await;
    let before = scrape(&app).await;
    for provider in ["corp", "hook"] {
        for name in ["logins_started_total", "logins_completed_total"] {
            let series = format!("idp_bridge_{name}{{provider=\"{provider}\"}}");
            assert_eq!(before.value(&series), 0.0, "{series}");
        }
    }
    assert_eq!(before.value("idp_bridge_open_transactions"), 0.0);

    // A login that completes, and its callback replayed: a plain 400 page.
    let callback = app.login_at_idp("alice", SUCCESS).await;
    let landed = app.finish(&callback).await;
    assert_eq!(without_query(&landed), SUCCESS);
    let replay = app.get(callback.as_str()).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    // A second login that completes, one the IdP refuses, and a start left open.
    assert_eq!(without_query(&app.login("bob").await), SUCCESS);
    let refused = refused_at_the_idp(&app).await;
    assert_eq!(without_query(&refused), FAILURE);
    assert_eq!(error_of(&refused)["type"], "provider_access_denied");
    app.start_at(PROVIDER, "dave").await;
    // An unknown provider id: 404, and never a label.
    let unknown = app
        .get(app.start_url_at("nope", SUCCESS, FAILURE).as_str())
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // An exchange that mints, and one with a bad signature.
    let (status, answer) = exchange_at_hook(&app, "hook-user", "j-1", HOOK_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let forged = "not-the-hook-secret-0123456789abcdef-0123";
    let (status, answer) = exchange_at_hook(&app, "hook-user", "j-2", forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let refused_type = answer["type"].as_str().expect("an error type").to_string();

    let after = scrape(&app).await;
    for (series, value) in [
        // alice, bob, the refused one and the open one: four starts.
        (r#"idp_bridge_logins_started_total{provider="corp"}"#, 4.0),
        (r#"idp_bridge_logins_completed_total{provider="corp"}"#, 2.0),
        (
            r#"idp_bridge_logins_failed_total{provider="corp",error_type="provider_access_denied"}"#,
            1.0,
        ),
        (
            r#"idp_bridge_logins_failed_total{provider="corp",error_type="login_transaction_unknown"}"#,
            1.0,
        ),
        (
            r#"idp_bridge_callback_duration_seconds_count{provider="corp",outcome="success"}"#,
            2.0,
        ),
        (
            r#"idp_bridge_callback_duration_seconds_count{provider="corp",outcome="failure"}"#,
            2.0,
        ),
        (
            r#"idp_bridge_callback_duration_seconds_bucket{le="+Inf",provider="corp",outcome="success"}"#,
            2.0,
        ),
        (r#"idp_bridge_logins_started_total{provider="hook"}"#, 2.0),
        (r#"idp_bridge_logins_completed_total{provider="hook"}"#, 1.0),
        (
            &format!(
                r#"idp_bridge_logins_failed_total{{provider="hook",error_type="{refused_type}"}}"#
            ),
            1.0,
        ),
        (
            r#"idp_bridge_exchange_duration_seconds_count{provider="hook",outcome="success"}"#,
            1.0,
        ),
        (
            r#"idp_bridge_exchange_duration_seconds_count{provider="hook",outcome="failure"}"#,
            1.0,
        ),
        // Three tokens minted: two callbacks and one exchange.
        (
            r#"idp_bridge_appwrite_request_duration_seconds_count{operation="create_token",status="2xx"}"#,
            3.0,
        ),
        // corp's keys: loaded once (warm-up or first login), then served from the cache.
        (
            r#"idp_bridge_jwks_fetches_total{provider="corp",cause="startup",result="ok"}"#,
            1.0,
        ),
        // dave's start is still open.
        ("idp_bridge_open_transactions", 1.0),
    ] {
        assert_eq!(after.value(series), value, "{series} in\n{}", after.text);
    }
    assert!(
        after.value(
            r#"idp_bridge_appwrite_request_duration_seconds_count{operation="ping",status="2xx"}"#
        ) >= 1.0
    );
    assert_eq!(
        after.text.matches("logins_failed_total{").count(),
        3,
        "no other failure was counted:\n{}",
        after.text
    );
    assert!(!after.text.contains("nope"), "{}", after.text);
    assert!(
        !after
            .text
            .contains("callback_duration_seconds_count{provider=\"hook\""),
        "hook has no callback"
    );
    assert_eq!(
        app.emulator.tokens().len(),
        3,
        "the counters agree with Appwrite"
    );
}

#[tokio::test]
async fn appwrite_calls_are_timed_per_attempt_with_their_status_class() {
    let app = spawn(Options::mock()).await;
    // Appwrite fails every request: the first call of the login (the user lookup) is tried
    // three times, then the login fails.
    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    let landed = app.login("alice").await;
    assert_eq!(error_of(&landed)["type"], "appwrite_unavailable");
    app.emulator.clear_faults();
    // A connection that drops answers nothing: no status, a connection failure.
    app.emulator.inject(Fault::Drop, FaultScope::Next(3));
    let landed = app.login("alice").await;
    assert_eq!(error_of(&landed)["type"], "appwrite_unavailable");

    let scrape = scrape(&app).await;
    for (series, value) in [
        (
            r#"idp_bridge_appwrite_request_duration_seconds_count{operation="get_user",status="5xx"}"#,
            3.0,
        ),
        (
            r#"idp_bridge_appwrite_request_duration_seconds_count{operation="get_user",status="connection"}"#,
            3.0,
        ),
        (
            r#"idp_bridge_logins_failed_total{provider="corp",error_type="appwrite_unavailable"}"#,
            2.0,
        ),
    ] {
        assert_eq!(scrape.value(series), value, "{series} in\n{}", scrape.text);
    }
    assert!(scrape.get(r#"idp_bridge_appwrite_request_duration_seconds_count{operation="create_token",status="2xx"}"#).is_none());
}

#[tokio::test]
async fn metrics_listen_serves_metrics_on_its_own_port_and_the_main_port_answers_404() {
    let app = spawn(Options {
        server_extra: "metrics_listen = \"127.0.0.1:0\"".into(),
        ..Options::mock()
    })
    .await;
    let main = format!("{}/metrics", app.gateway);
    assert_ne!(app.metrics_url, main, "a listener of its own");
    let response = reqwest::get(&main).await.expect("main /metrics");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "general_route_not_found");

    // The same registry: a login on the main port shows on the metrics port.
    assert_eq!(without_query(&app.login("alice").await), SUCCESS);
    let scrape = scrape(&app).await;
    assert_eq!(
        scrape.value(r#"idp_bridge_logins_completed_total{provider="corp"}"#),
        1.0
    );
    // The metrics port serves nothing else.
    let metrics_base = app.metrics_url.trim_end_matches("/metrics");
    for path in ["/healthz", "/v1/providers", "/v1/auth/corp/start"] {
        let response = reqwest::get(format!("{metrics_base}{path}"))
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_metrics_listen_address_in_use_stops_startup_naming_it() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr");
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let (listener, gateway) = gateway_listener().await;
    let options = Options {
        server_extra: format!("metrics_listen = \"{addr}\""),
        ..Options::mock()
    };
    let toml = config_toml(&gateway, "http://127.0.0.1:9/", &emulator, &options);
    let config = Config::from_toml(&toml).expect("valid config");
    let error = Application::with_listener(config, listener, Arc::new(SystemClock))
        .err()
        .expect("the port is taken");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {addr}: ")),
        "{error}"
    );
}

#[tokio::test]
async fn the_scrape_holds_no_secret_and_nothing_user_derived() {
    let id_key = IdKey::generate().expect("random id key");
    let app = spawn(Options {
        id_key: id_key.clone(),
        ..Options::mock()
    })
    .await;
    let callback = app.login_at_idp("alice", SUCCESS).await;
    let code = param(&callback, "code").expect("code");
    let state = param(&callback, "state").expect("state");
    let response = app.get(callback.as_str()).await;
    let landed = location(&response);
    let user_id = param(&landed, "userId").expect("userId");
    let secret = param(&landed, "secret").expect("secret");
    let (status, answer) =
        exchange_at_hook(&app, "hook-user@example.test", "j-1", HOOK_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let exchanged = answer["secret"].as_str().expect("secret").to_string();
    let refused = refused_at_the_idp(&app).await;
    assert_eq!(without_query(&refused), FAILURE);

    let scrape = scrape(&app).await;
    assert!(
        scrape.get(r#"idp_bridge_logins_completed_total{provider="hook"}"#) == Some(1.0),
        "the scrape saw the logins:\n{}",
        scrape.text
    );
    assert_no_secret_in(
        &scrape.text,
        &[
            ("Appwrite API key", app.emulator.api_key()),
            ("client secret", CLIENT_SECRET),
            ("HMAC secret", HOOK_SECRET),
            ("id_key", &id_key),
            ("minted secret", &secret),
            ("exchanged secret", &exchanged),
            ("authorization code", &code),
            ("state", &state),
            ("Appwrite user id", &user_id),
        ],
    );
    for user_derived in [
        "alice",
        "hook-user",
        "example.test",
        "127.0.0.1:3000",
        "/app/",
    ] {
        assert!(
            !scrape.text.contains(user_derived),
            "{user_derived} in the scrape:\n{}",
            scrape.text
        );
    }
}

#[tokio::test]
async fn rate_limited_requests_are_counted_by_route() {
    let app = spawn(Options {
        rate_limit_per_minute: 1,
        ..Options::mock()
    })
    .await;
    app.start_at(PROVIDER, "alice").await;
    let limited = app.get(app.start_url(SUCCESS, FAILURE).as_str()).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let scrape = scrape(&app).await;
    assert_eq!(
        scrape.value(r#"idp_bridge_rate_limited_total{route="start"}"#),
        1.0
    );
    assert_eq!(
        scrape.value(r#"idp_bridge_rate_limited_total{route="callback"}"#),
        0.0
    );
    // /metrics itself is not a login route: never limited.
    assert_eq!(
        reqwest::get(&app.metrics_url)
            .await
            .expect("again")
            .status(),
        StatusCode::OK
    );
}

#[test]
fn the_format_check_catches_broken_expositions() {
    // The check above must be able to fail.
    let good = "# TYPE x counter\nx_total{a=\"1\"} 2\n# EOF\n";
    assert_openmetrics(good);
    for broken in [
        "# TYPE x counter\nx_total 2\n",
        "# TYPE x counter\nx 2\n# EOF\n",
        "# TYPE x counter\nx_total{a=\"1} 2\n# EOF\n",
        "# TYPE x counter\nx_total two\n# EOF\n",
        "x_total 2\n# EOF\n",
        "# TYPE x counter\n# TYPE x counter\n# EOF\n",
    ] {
        let caught = std::panic::catch_unwind(|| assert_openmetrics(broken));
        assert!(caught.is_err(), "not caught: {broken:?}");
    }
}
