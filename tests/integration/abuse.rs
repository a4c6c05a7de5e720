//! Abuse limits: per-client-IP rate limits, trusted proxies, the cap on open logins.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{FAILURE, Options, SUCCESS, TestApp};

async fn start_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.browser.get(app.start_url(SUCCESS, FAILURE).as_str());
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    request.send().await.expect("start")
}

#[tokio::test]
async fn a_client_over_its_budget_gets_429_json() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 5,
        ..Options::mock()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(start_from(&app, None).await.status(), StatusCode::FOUND);
    }
    let limited = start_from(&app, None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["type"], "general_rate_limit_exceeded");
    assert_eq!(body["code"], 429);
    // The callback shares the budget.
    let callback = app
        .browser
        .get(format!(
            "{}/v1/auth/corp/callback?state=x&code=y",
            app.gateway
        ))
        .send()
        .await
        .expect("callback");
    assert_eq!(callback.status(), StatusCode::TOO_MANY_REQUESTS);
    // Operational routes are not limited.
    let health = app
        .browser
        .get(format!("{}/healthz", app.gateway))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_does_not_buy_a_new_budget() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 3,
        ..Options::mock()
    })
    .await;
    for i in 0..3 {
        let ip = format!("203.0.113.{i}");
        assert_eq!(
            start_from(&app, Some(&ip)).await.status(),
            StatusCode::FOUND
        );
    }
    let spoofed = start_from(&app, Some("198.51.100.77")).await;
    assert_eq!(
        spoofed.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "X-Forwarded-For is ignored from an untrusted peer"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 2,
        trusted_proxies: "[\"127.0.0.1/32\"]",
        ..Options::mock()
    })
    .await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        for _ in 0..2 {
            assert_eq!(
                start_from(&app, Some(client)).await.status(),
                StatusCode::FOUND,
                "{client}"
            );
        }
        assert_eq!(
            start_from(&app, Some(client)).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{client}"
        );
    }
    // A client cannot pick its identity by prepending entries: the right-most untrusted one counts.
    let prepended = start_from(&app, Some("198.51.100.1, 203.0.113.1")).await;
    assert_eq!(prepended.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_cap_on_open_logins_refuses_a_flood_at_the_failure_url() {
    let app = TestApp::spawn_with(Options {
        max_open_transactions: 10,
        ..Options::mock()
    })
    .await;
    for _ in 0..10 {
        assert_eq!(start_from(&app, None).await.status(), StatusCode::FOUND);
    }
    let refused = start_from(&app, None).await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let landed = crate::helpers::location(&refused);
    assert_eq!(crate::helpers::without_query(&landed), FAILURE);
    assert_eq!(
        crate::helpers::error_of(&landed)["type"],
        "login_capacity_exceeded"
    );
    assert!(
        refused.headers().get("set-cookie").is_none(),
        "no binding for a refused login"
    );
}

// ---- Issue 6, item 3: cheap denial of service ----

/// The gateway's router in this process (no listener), for timing a handler's work without
/// the network. The emulator and mock OP are returned so they live as long as the router.
async fn in_process(
    options: Options,
) -> (axum::Router, appwrite_emulator::Emulator, mock_op::MockOp) {
    let emulator =
        appwrite_emulator::Emulator::spawn(appwrite_emulator::EmulatorConfig::default()).await;
    let op = mock_op::MockOp::spawn(crate::helpers::mock_config()).await;
    let toml = crate::helpers::config_toml("http://127.0.0.1:9", &op.issuer(), &emulator, &options);
    let config = idp_bridge::config::Config::from_toml(&toml).expect("config");
    let state = idp_bridge::startup::build_state(
        config,
        std::sync::Arc::new(idp_bridge::clock::SystemClock),
    )
    .expect("state");
    (idp_bridge::http::router(state), emulator, op)
}

/// Sends `request` through `router` in-process; returns the status and the body.
async fn send(
    router: &axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt;
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(uri: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .expect("request")
}

/// hyper 1.x refuses request targets longer than `u16::MAX - 1` bytes (414); anything shorter
/// reaches the router. The http crate's `Uri` has the same bound.
const HYPER_MAX_URI: usize = (u16::MAX - 1) as usize;

/// `start` with thousands of distinct scopes in a URI just under hyper's limit.
fn scope_flood_uri() -> String {
    let mut uri = format!(
        "/v1/auth/corp/start?success={}&failure={}&scopes=",
        url::form_urlencoded::byte_serialize(SUCCESS.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(FAILURE.as_bytes()).collect::<String>(),
    );
    let mut i = 0;
    while uri.len() < HYPER_MAX_URI - 16 {
        uri.push_str(&format!("s{i}+"));
        i += 1;
    }
    assert!(i > 5000, "thousands of scopes: {i}");
    uri
}

/// Refused by the URI cap before any handler reads a scope (the work such a request costs is
/// measured by `benches/start_flood.rs`, not timed here).
#[tokio::test]
async fn a_uri_at_hypers_limit_full_of_scopes_is_refused_before_any_handler() {
    let (router, _emulator, _op) = in_process(Options::mock()).await;
    let uri = scope_flood_uri();
    assert!(
        uri.len() > 65_000 && uri.len() <= HYPER_MAX_URI,
        "{}",
        uri.len()
    );
    let (status, body) = send(&router, get(&uri)).await;
    assert_eq!(status, axum::http::StatusCode::URI_TOO_LONG, "{body}");
}

#[tokio::test]
async fn seventeen_scopes_are_refused_naming_the_cap() {
    let (router, _emulator, _op) = in_process(Options::mock()).await;
    let mut uri = format!(
        "/v1/auth/corp/start?success={}&failure={}&scopes=",
        url::form_urlencoded::byte_serialize(SUCCESS.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(FAILURE.as_bytes()).collect::<String>(),
    );
    for i in 0..17 {
        uri.push_str(&format!("s{i}+"));
    }
    let (status, body) = send(&router, get(&uri)).await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("scopes") && body.contains("16"), "{body}");
}

#[tokio::test]
async fn over_long_uris_get_414_and_over_long_parameters_400_naming_them() {
    let (router, _emulator, _op) = in_process(Options::mock()).await;
    let long = format!("/healthz?pad={}", "a".repeat(9 * 1024));
    let (status, body) = send(&router, get(&long)).await;
    assert_eq!(status, axum::http::StatusCode::URI_TOO_LONG, "{body}");

    // A `state` longer than any real one: refused before the store is asked, naming it.
    let callback = format!("/v1/auth/corp/callback?state={}&code=c", "s".repeat(5000));
    let (status, body) = send(&router, get(&callback)).await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("state") && body.contains("longer than"),
        "{body}"
    );

    // Another parameter is named as such.
    let callback = format!("/v1/auth/corp/callback?state=s&code={}", "A".repeat(4100));
    let (status, body) = send(&router, get(&callback)).await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("code") && body.contains("longer than"),
        "{body}"
    );
}

#[tokio::test]
async fn the_byte_budget_of_open_logins_refuses_the_longest_urls_before_the_count_cap() {
    // Ten open logins are allowed by count; with success and failure URLs of about 2 KB each,
    // the byte budget (the count cap times 2 KiB) is spent after a few of them.
    let app = TestApp::spawn_with(Options {
        max_open_transactions: 10,
        ..Options::mock()
    })
    .await;
    let long = |page: &str| format!("{}{page}?{}", crate::helpers::APP, "q".repeat(1990));
    let (success, failure) = (long("done"), long("failed"));
    let mut accepted = 0;
    let mut refused = None;
    for _ in 0..10 {
        let response = app
            .browser
            .get(app.start_url(&success, &failure).as_str())
            .send()
            .await
            .expect("start");
        assert_eq!(response.status(), StatusCode::FOUND);
        let landed = crate::helpers::location(&response);
        if landed.as_str().starts_with(crate::helpers::APP) {
            refused = Some(landed);
            break;
        }
        accepted += 1;
    }
    let refused = refused.unwrap_or_else(|| {
        panic!("{accepted} logins of about 4 KB each were all stored under a 20 KiB budget")
    });
    assert!(
        accepted >= 1,
        "the budget holds at least one login of the longest URLs"
    );
    assert_eq!(
        crate::helpers::error_of(&refused)["type"],
        "login_capacity_exceeded"
    );
}

// ---- Issue 6, item 4: proxies ----

async fn start_with(app: &TestApp, header: &str, value: &str) -> StatusCode {
    app.browser
        .get(app.start_url(SUCCESS, FAILURE).as_str())
        .header(header, value)
        .send()
        .await
        .expect("start")
        .status()
}

#[tokio::test]
async fn forwarded_for_entries_with_ports_are_clients_of_their_own() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 2,
        trusted_proxies: "[\"127.0.0.1/32\"]",
        ..Options::mock()
    })
    .await;
    // Same client, different source ports: one budget.
    assert_eq!(
        start_with(&app, "x-forwarded-for", "203.0.113.1:5678").await,
        StatusCode::FOUND
    );
    assert_eq!(
        start_with(&app, "x-forwarded-for", "203.0.113.1:5679").await,
        StatusCode::FOUND
    );
    assert_eq!(
        start_with(&app, "x-forwarded-for", "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client (IPv6 with a port) is not in that bucket, nor in the proxy's.
    for _ in 0..2 {
        assert_eq!(
            start_with(&app, "x-forwarded-for", "[2001:db8::1]:443").await,
            StatusCode::FOUND
        );
    }
    assert_eq!(
        start_with(&app, "x-forwarded-for", "[2001:db8::2]").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same /64"
    );
    // An unparsable right-most entry is a client of its own, not the proxy's shared bucket.
    for _ in 0..2 {
        assert_eq!(
            start_with(&app, "x-forwarded-for", "garbage-a").await,
            StatusCode::FOUND
        );
    }
    assert_eq!(
        start_with(&app, "x-forwarded-for", "garbage-b").await,
        StatusCode::FOUND
    );
    assert_eq!(
        start_from(&app, None).await.status(),
        StatusCode::FOUND,
        "the proxy itself"
    );
}

#[tokio::test]
async fn rfc7239_forwarded_is_believed_with_the_same_rules() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 1,
        trusted_proxies: "[\"127.0.0.1/32\", \"10.0.0.0/8\"]",
        ..Options::mock()
    })
    .await;
    let app = &app;
    let forwarded = move |v: &'static str| async move { start_with(app, "forwarded", v).await };
    assert_eq!(
        forwarded("for=203.0.113.7;proto=https").await,
        StatusCode::FOUND
    );
    assert_eq!(
        forwarded("for=\"203.0.113.7:4711\"").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same client with a port"
    );
    // Right-most untrusted: the client cannot pick its identity by prepending.
    assert_eq!(
        forwarded("for=198.51.100.9, for=203.0.113.7, for=10.1.2.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        forwarded("for=\"[2001:db8:cafe::17]:4711\"").await,
        StatusCode::FOUND
    );
    assert_eq!(
        forwarded("For=\"[2001:db8:cafe::18]\"").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same /64"
    );
    // Obfuscated identifiers are clients of their own; `unknown` is one shared client.
    assert_eq!(forwarded("for=_hidden1").await, StatusCode::FOUND);
    assert_eq!(forwarded("for=_hidden2").await, StatusCode::FOUND);
    assert_eq!(
        forwarded("for=_hidden1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(forwarded("for=unknown").await, StatusCode::FOUND);
    assert_eq!(
        forwarded("for=unknown").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The proxy's own budget is untouched by all of this.
    assert_eq!(start_from(app, None).await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn forwarded_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 1,
        ..Options::mock()
    })
    .await;
    assert_eq!(
        start_with(&app, "forwarded", "for=203.0.113.1").await,
        StatusCode::FOUND
    );
    assert_eq!(
        start_with(&app, "forwarded", "for=203.0.113.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

// ---- Issue 6, item 4: request ids ----

/// A `Write` into a shared buffer, for capturing log lines in-process.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_forged_request_id_is_replaced_in_the_log_and_the_response() {
    let (router, _emulator, _op) = in_process(Options::mock()).await;
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The test runtime is single-threaded, so the default subscriber sees every event.
    let _guard = tracing::subscriber::set_default(subscriber);
    let long = "a".repeat(65);
    let forged = [
        "forged id",
        "a\tb",
        "line\u{2028}break",
        "x\u{85}y",
        "",
        long.as_str(),
        "semi;colon",
        "quote\"d",
    ];
    for value in forged {
        let request = axum::http::Request::get("/healthz")
            .header(
                "x-request-id",
                axum::http::HeaderValue::from_bytes(value.as_bytes()).expect("header value"),
            )
            .body(axum::body::Body::empty())
            .expect("request");
        use tower::ServiceExt;
        let response = router.clone().oneshot(request).await.expect("infallible");
        let echoed = response
            .headers()
            .get("x-request-id")
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        assert_ne!(
            echoed,
            value.as_bytes(),
            "the forged id {value:?} was echoed"
        );
        let echoed = String::from_utf8(echoed).expect("ascii id");
        assert!(
            uuid::Uuid::parse_str(&echoed).is_ok(),
            "a fresh id replaces {value:?}: {echoed:?}"
        );
        let logged = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
        assert!(
            logged.contains(&format!("request_id={echoed}")),
            "the log carries the fresh id {echoed}:\n{logged}"
        );
        if !value.is_empty() {
            assert!(
                !logged.contains(value),
                "the forged id {value:?} reached the log:\n{logged}"
            );
        }
    }
    // A well-formed id (1 to 64 of [A-Za-z0-9._-]) is kept, at both ends of the range.
    let longest = "b".repeat(64);
    for value in ["a", "Req-1.2_3", longest.as_str()] {
        let (status, _) = send(
            &router,
            axum::http::Request::get("/healthz")
                .header("x-request-id", value)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, axum::http::StatusCode::OK);
        let logged = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
        assert!(
            logged.contains(&format!("request_id={value} "))
                || logged.contains(&format!("request_id={value}}}")),
            "{value} kept:\n{logged}"
        );
    }
}

/// A provider's mass logout (an administrator ending many sessions) comes from a few
/// addresses, and most providers do not retry: the logout route is not held to the per-IP
/// budget of the login routes (the token's signature is its gate).
#[tokio::test]
async fn a_providers_mass_logout_is_not_held_to_the_login_budget() {
    let app = TestApp::spawn_with(Options {
        rate_limit_per_minute: 2,
        provider_extra: "backchannel_logout = true".into(),
        ..Options::mock()
    })
    .await;
    let client = reqwest::Client::new();
    for i in 0..6 {
        let token = crate::backchannel::good(&app, serde_json::json!({"sub": format!("user-{i}")}));
        let answer = client
            .post(format!("{}/v1/auth/corp/backchannel-logout", app.gateway))
            .form(&[("logout_token", token)])
            .send()
            .await
            .expect("logout");
        assert_eq!(
            answer.status(),
            StatusCode::OK,
            "logout {i} of a mass logout"
        );
    }
    // The login routes keep their budget, untouched by the logouts.
    for _ in 0..2 {
        assert_eq!(start_from(&app, None).await.status(), StatusCode::FOUND);
    }
    assert_eq!(
        start_from(&app, None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}
