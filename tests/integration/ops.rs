//! `/v1/providers`, `/healthz`, `/readyz`, unknown routes, body limits.

use appwrite_emulator::{Fault, FaultScope};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

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

    let ready = app.get(&format!("{}/readyz", app.gateway)).await;
    let status = ready.status();
    let body: Value = ready.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["appwrite"], "ok");
    assert_eq!(body["checks"]["provider:corp"], "ok");

    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    // The verdict is cached for a few seconds (a flood of /readyz must not reach Appwrite):
    // the outage shows once it expires.
    tokio::time::sleep(idp_bridge::http::ops::READY_CACHE + std::time::Duration::from_millis(200))
        .await;
    let ready = app.get(&format!("{}/readyz", app.gateway)).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.expect("json");
    assert_ne!(body["checks"]["appwrite"], "ok");
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
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    // One round: the ping and its retries (at most three attempts).
    let calls = app.emulator.calls().len();
    assert!(
        (1..=3).contains(&calls),
        "50 concurrent /readyz made {calls} Appwrite calls"
    );
}
