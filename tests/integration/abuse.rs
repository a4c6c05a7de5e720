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
