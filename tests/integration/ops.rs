//! `/v1/providers`, `/healthz`, `/readyz`, unknown routes, wrong methods, body limits.

use appwrite_emulator::{Fault, FaultScope};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{FAILURE, Options, SUCCESS, TestApp, error_of, without_query};

/// A second provider whose issuer does not answer (nothing listens on port 9).
pub const DOWN_PROVIDER: &str = "[providers.down]\ntype = \"oidc\"\n\
    issuer = \"http://127.0.0.1:9/\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";

/// The gateway with mock-op as `corp`'s IdP and [`DOWN_PROVIDER`] as `down`.
pub async fn spawn_with_one_provider_down() -> TestApp {
    TestApp::spawn_with(Options {
        extra_toml: DOWN_PROVIDER.into(),
        ..Options::mock()
    })
    .await
}

/// `/readyz` answered 200 `degraded` with these values in `checks`.
#[track_caller]
fn assert_degraded(status: StatusCode, body: &Value, checks: &[(&str, &str)]) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    for (check, word) in checks {
        assert_eq!(body["checks"][check], *word, "{check}: {body}");
    }
}

/// `GET /readyz`: the status and the JSON body.
async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = app.get(&format!("{}/readyz", app.gateway)).await;
    let status = response.status();
    (status, response.json().await.expect("/readyz answers JSON"))
}

#[tokio::test]
async fn providers_health_and_readiness() {
    let app = TestApp::spawn().await;
    let providers: Value = app
        .get(&format!("{}/v1/providers", app.gateway))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(providers["providers"][0]["id"], "corp");
    assert_eq!(providers["providers"][0]["type"], "oidc");
    assert_eq!(providers["providers"][0]["name"], "Corporate SSO");

    let health = app.get(&format!("{}/healthz", app.gateway)).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));

    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["appwrite"], "ok");
    assert_eq!(body["checks"]["store"], "ok");
    assert_eq!(body["checks"]["provider:corp"], "ok");
    assert!(body.get("errors").is_none(), "{body}");
}

/// Appwrite down fails the logins that need it (every one), but it is no reason to take this
/// instance out of the balancer: every replica shares that Appwrite, so a 503 would take them
/// all out at once. `/readyz` says so, and why, with 200.
#[tokio::test]
async fn appwrite_down_is_reported_and_the_instance_stays_ready() {
    let app = TestApp::spawn().await;
    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    let (status, body) = readyz(&app).await;
    assert_degraded(
        status,
        &body,
        &[
            ("appwrite", "failed"),
            ("store", "ok"),
            ("provider:corp", "ok"),
        ],
    );
    let reason = body["errors"]["appwrite"].as_str().unwrap_or_default();
    assert!(
        reason.contains("HTTP 503"),
        "the cause, not just \"failed\": {body}"
    );
    assert!(
        !body.to_string().contains(app.emulator.api_key()),
        "the API key in {body}"
    );
}

/// One identity provider's outage is that provider's problem. The instance stays ready (a 503
/// would take every replica out of the balancer, and every other provider's logins with it),
/// `/readyz` names the provider and why, logins through the other provider work, and a login
/// through the one that is down ends at its failure URL as `provider_unavailable`.
#[tokio::test]
async fn one_provider_down_leaves_the_instance_ready_and_names_it() {
    let app = spawn_with_one_provider_down().await;
    let (status, body) = readyz(&app).await;
    assert_degraded(
        status,
        &body,
        &[
            ("provider:corp", "ok"),
            ("provider:down", "failed"),
            ("appwrite", "ok"),
            ("store", "ok"),
        ],
    );
    let reason = body["errors"]["provider:down"].as_str().unwrap_or_default();
    assert!(
        reason.contains("http://127.0.0.1:9/"),
        "the cause names what could not be reached: {body}"
    );
    assert_eq!(
        body["errors"].as_object().map(|errors| errors.len()),
        Some(1),
        "only the failed check has an error: {body}"
    );

    assert_eq!(without_query(&app.login("alice").await), SUCCESS);
    let start = app
        .get(app.start_url_at("down", SUCCESS, FAILURE).as_str())
        .await;
    assert_eq!(start.status(), StatusCode::FOUND);
    let landed = crate::helpers::location(&start);
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "provider_unavailable");
}

/// A dependency that hangs must not hold `/readyz` past a probe's timeout: the probes would
/// fail on every replica at once, which is the outage readiness must not cause. Here a provider
/// whose issuer accepts connections and never answers, and an Appwrite that answers after 30 s:
/// `/readyz` still answers (within 8 s here, where the checks alone would take 10 s or more),
/// 200, each of them failed with why.
#[tokio::test]
async fn dependencies_that_hang_are_reported_without_holding_readyz() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });
    let app = TestApp::spawn_with(Options {
        extra_toml: format!(
            "[providers.silent]\ntype = \"oidc\"\nissuer = \"http://127.0.0.1:{port}/\"\n\
             client_id = \"c\"\nclient_secret = \"s\"\ntimeout_ms = 30000\n"
        ),
        ..Options::mock()
    })
    .await;
    app.emulator.inject(
        Fault::Latency(std::time::Duration::from_secs(30)),
        FaultScope::Always,
    );
    let response = app
        .browser
        .get(format!("{}/readyz", app.gateway))
        .timeout(std::time::Duration::from_secs(8))
        .send()
        .await
        .expect("/readyz answers while its dependencies hang");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_degraded(
        status,
        &body,
        &[
            ("appwrite", "failed"),
            ("provider:silent", "failed"),
            ("provider:corp", "ok"),
            ("store", "ok"),
        ],
    );
    for check in ["appwrite", "provider:silent"] {
        let cause = body["errors"][check].as_str().unwrap_or_default();
        assert!(cause.starts_with("no answer within"), "{check}: {body}");
    }
    holder.abort();
}

/// A route called with a method it does not take answers the JSON error of every other
/// refusal, with `Allow`; the CORS preflight of `exchange` still works.
#[tokio::test]
async fn a_wrong_method_gets_the_json_error_with_allow() {
    let app = TestApp::spawn().await;
    for (method, path, allow) in [
        (reqwest::Method::POST, "/healthz", "GET,HEAD"),
        (reqwest::Method::DELETE, "/readyz", "GET,HEAD"),
        (reqwest::Method::PUT, "/v1/providers", "GET,HEAD"),
        (reqwest::Method::GET, "/v1/auth/corp/exchange", "POST"),
        (reqwest::Method::POST, "/v1/auth/corp/start", "GET,HEAD"),
        (
            reqwest::Method::DELETE,
            "/v1/auth/corp/callback",
            "GET,HEAD,POST",
        ),
        (reqwest::Method::POST, "/metrics", "GET,HEAD"),
    ] {
        let response = app
            .browser
            .request(method.clone(), format!("{}{path}", app.gateway))
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allowed = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(allowed, allow, "{method} {path}");
        let body: Value = response.json().await.expect("a JSON error");
        assert_eq!(
            body["type"], "general_method_not_allowed",
            "{method} {path}"
        );
        assert_eq!(body["code"], 405, "{method} {path}");
    }
    let preflight = app
        .browser
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/auth/corp/exchange", app.gateway),
        )
        .header("Origin", "http://127.0.0.1:3000")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://127.0.0.1:3000")
    );
}

#[tokio::test]
async fn unknown_routes_and_providers_get_json_errors() {
    let app = TestApp::spawn().await;
    let response = app
        .get(&format!(
            "{}/v1/auth/nope/start?success=x&failure=y",
            app.gateway
        ))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "provider_not_found");
    assert_eq!(body["code"], 404);
    let response = app.get(&format!("{}/nothing/here", app.gateway)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "general_route_not_found");
}

#[tokio::test]
async fn oversized_callback_bodies_get_413() {
    let app = TestApp::spawn().await;
    let response = app
        .browser
        .post(format!("{}/v1/auth/corp/callback", app.gateway))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("state={}", "a".repeat(64 * 1024)))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = response.json().await.expect("the JSON error");
    assert_eq!(body["type"], "general_payload_too_large", "{body}");
}

/// Fires `n` concurrent `/readyz` calls; returns their statuses.
async fn readyz_burst(app: &TestApp, n: usize) -> Vec<StatusCode> {
    let calls =
        (0..n).map(|_| async { app.get(&format!("{}/readyz", app.gateway)).await.status() });
    futures::future::join_all(calls).await
}

#[tokio::test]
async fn a_burst_of_readyz_calls_makes_one_round_of_appwrite_calls() {
    let app = TestApp::spawn().await;
    let statuses = readyz_burst(&app, 50).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let calls = app.emulator.calls();
    assert!(
        calls.len() <= 1,
        "50 concurrent /readyz made {} Appwrite calls: {:?}",
        calls.len(),
        calls.iter().map(|c| &c.path).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_failing_verdict_is_cached_too() {
    // An outage is when a flood of /readyz would hurt Appwrite most.
    let app = TestApp::spawn().await;
    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    let statuses = readyz_burst(&app, 50).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "Appwrite down leaves the instance ready: {statuses:?}"
    );
    // One round: the ping and its retries (at most three attempts).
    let calls = app.emulator.calls().len();
    assert!(
        (1..=3).contains(&calls),
        "50 concurrent /readyz made {calls} Appwrite calls"
    );
}
