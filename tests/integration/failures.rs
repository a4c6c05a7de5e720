//! Every way a login must fail closed: no redirect to a foreign URL, no token minted.

use appwrite_emulator::{Fault, FaultScope, SeedUser};
use reqwest::StatusCode;

use crate::helpers::{
    FAILURE, SUCCESS, TestApp, browser, error_of, location, param, without_query,
};

#[tokio::test]
async fn a_disallowed_success_or_failure_url_gets_400_and_no_redirect() {
    let app = TestApp::spawn().await;
    for (success, failure) in [
        ("https://evil.example/steal", FAILURE),
        (SUCCESS, "https://evil.example/steal"),
        ("http://127.0.0.1:3000/other", FAILURE),
        ("http://127.0.0.1:3000@evil.example/app/", FAILURE),
        ("//evil.example/app/", FAILURE),
    ] {
        let response = app.get(app.start_url(success, failure).as_str()).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{success} / {failure}"
        );
        assert!(response.headers().get("location").is_none());
        assert!(response.headers().get("set-cookie").is_none());
    }
    let missing = format!("{}/v1/auth/corp/start?success={SUCCESS}", app.gateway);
    let response = app.get(&missing).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.expect("body").contains("`failure`"));
    assert_eq!(app.emulator.calls().len(), 0);
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let app = TestApp::spawn().await;
    let callback = app.login_at_idp("alice", SUCCESS).await;
    let first = app.get(callback.as_str()).await;
    assert!(param(&location(&first), "secret").is_some());
    let replay = app.get(callback.as_str()).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.headers().get("location").is_none());
    assert_eq!(app.emulator.tokens().len(), 1, "the replay minted nothing");
}

#[tokio::test]
async fn a_forged_or_missing_state_is_refused() {
    let app = TestApp::spawn().await;
    let callback = app.login_at_idp("alice", SUCCESS).await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "state" {
                "forged-state".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let response = app.get(forged.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let mut stateless = callback.clone();
    stateless.set_query(Some("code=abc"));
    assert_eq!(
        app.get(stateless.as_str()).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.emulator.calls().len(), 0);
    // The real state still works once: the forgeries did not consume it.
    let real = app.get(callback.as_str()).await;
    assert!(param(&location(&real), "secret").is_some());
}

#[tokio::test]
async fn a_callback_without_the_binding_cookie_is_refused() {
    let app = TestApp::spawn().await;
    let callback = app.login_at_idp("alice", SUCCESS).await;
    // Another browser (an attacker's link opened by a victim) has no binding cookie.
    let response = browser()
        .get(callback.as_str())
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), StatusCode::FOUND);
    let landed = location(&response);
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "login_binding_invalid");
    assert_eq!(app.emulator.calls().len(), 0, "nothing reached Appwrite");
    // And the transaction is spent: the right browser cannot finish it either.
    assert_eq!(
        app.get(callback.as_str()).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn access_denied_at_the_provider_ends_at_the_failure_url() {
    let app = TestApp::spawn().await;
    let landed = app.login("deny").await;
    assert_eq!(without_query(&landed), FAILURE);
    let error = error_of(&landed);
    assert_eq!(error["type"], "provider_access_denied");
    assert_eq!(error["code"], 401);
    assert!(error["message"].is_string());
    assert_eq!(app.emulator.calls().len(), 0);
}

async fn login_with_appwrite_fault(fault: Fault) -> (TestApp, url::Url) {
    let app = TestApp::spawn().await;
    app.emulator.inject(fault, FaultScope::Always);
    let landed = app.login("alice").await;
    (app, landed)
}

#[tokio::test]
async fn appwrite_answering_500_ends_at_the_failure_url_with_nothing_minted() {
    let (app, landed) = login_with_appwrite_fault(Fault::Status(500)).await;
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "appwrite_unavailable");
    assert!(app.emulator.tokens().is_empty());
    assert_eq!(app.emulator.users_count(), 0);
    assert_eq!(app.emulator.calls().len(), 3, "a read is tried three times");
}

#[tokio::test]
async fn appwrite_answering_429_ends_at_the_failure_url_with_nothing_minted() {
    let (app, landed) = login_with_appwrite_fault(Fault::Status(429)).await;
    assert_eq!(error_of(&landed)["type"], "appwrite_unavailable");
    assert!(app.emulator.tokens().is_empty());
}

#[tokio::test]
async fn appwrite_answering_nothing_ends_at_the_failure_url_with_nothing_minted() {
    let (app, landed) = login_with_appwrite_fault(Fault::Drop).await;
    assert_eq!(error_of(&landed)["type"], "appwrite_unavailable");
    assert!(app.emulator.tokens().is_empty());
}

#[tokio::test]
async fn a_failed_token_call_is_not_retried_and_mints_nothing_usable() {
    let app = TestApp::spawn().await;
    app.emulator.inject(
        Fault::Status(500),
        FaultScope::Route {
            method: "POST",
            path_prefix: "/users/".into(),
            times: None,
        },
    );
    let landed = app.login("alice").await;
    assert_eq!(error_of(&landed)["type"], "appwrite_unavailable");
    let token_calls = app
        .emulator
        .calls()
        .iter()
        .filter(|c| c.path.ends_with("/tokens"))
        .count();
    assert_eq!(
        token_calls, 1,
        "a create-token that may have happened is never repeated"
    );
    assert!(param(&landed, "secret").is_none());
}

#[tokio::test]
async fn an_email_clash_ends_in_user_email_conflict() {
    let app = TestApp::spawn().await;
    app.emulator.seed_user(SeedUser {
        id: "existing-user".into(),
        email: Some("clash@example.test".into()),
        name: "Someone Else".into(),
        email_verification: true,
        status: true,
    });
    let landed = app.login("carol").await;
    assert_eq!(without_query(&landed), FAILURE);
    let error = error_of(&landed);
    assert_eq!(error["type"], "user_email_conflict");
    assert_eq!(error["code"], 409);
    assert!(app.emulator.tokens().is_empty());
    assert_eq!(app.emulator.users_count(), 1, "no second user was created");
}

#[tokio::test]
async fn a_blocked_user_gets_no_token() {
    let app = TestApp::spawn().await;
    let user_id = param(&app.login("alice").await, "userId").expect("first login");
    app.emulator.seed_user(SeedUser {
        id: user_id,
        email: Some("alice@example.test".into()),
        name: "Alice".into(),
        email_verification: false,
        status: false,
    });
    let landed = app.login("alice").await;
    assert_eq!(error_of(&landed)["type"], "user_blocked");
    assert_eq!(
        app.emulator.tokens().len(),
        1,
        "only the first login minted"
    );
}

#[tokio::test]
async fn a_callback_for_another_provider_or_an_unknown_one_is_refused() {
    let app = TestApp::spawn().await;
    let callback = app.login_at_idp("alice", SUCCESS).await;
    let unknown = callback
        .as_str()
        .replace("/v1/auth/corp/", "/v1/auth/nope/");
    let response = app.get(&unknown).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["type"], "provider_not_found");
    assert_eq!(app.emulator.calls().len(), 0);
}

#[tokio::test]
async fn a_squatted_user_id_gets_no_token() {
    use idp_bridge::login::mapping::AppwriteUserId;
    let app = TestApp::spawn_with(crate::helpers::Options::mock()).await;
    // The attacker computes alice's derived id and creates that account through the public
    // client API, with a password they know.
    let squatted = AppwriteUserId::derive(&app.mock().issuer(), "alice");
    let created = reqwest::Client::new()
        .post(format!("{}/account", app.emulator.endpoint()))
        .header("X-Appwrite-Project", app.emulator.project())
        .json(&serde_json::json!({
            "userId": squatted.as_str(),
            "email": "mallory@evil.example",
            "password": "mallory-knows-this",
        }))
        .send()
        .await
        .expect("account create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let landed = app.login("alice").await;
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "user_id_conflict");
    assert!(
        app.emulator.tokens().is_empty(),
        "no token for the squatter's account"
    );
}

#[tokio::test]
async fn users_the_gateway_creates_carry_its_label_and_an_unlabelled_passwordless_one_is_adopted() {
    use idp_bridge::login::mapping::{AppwriteUserId, OWNER_LABEL};
    let app = TestApp::spawn_with(crate::helpers::Options::mock()).await;
    let alice = param(&app.login("alice").await, "userId").expect("alice");
    assert_eq!(
        app.emulator.user(&alice).expect("alice")["labels"],
        serde_json::json!([OWNER_LABEL])
    );
    // A create whose labelling step never happened (no password, no label): adopted and labelled.
    let bob = AppwriteUserId::derive(&app.mock().issuer(), "bob");
    app.emulator.seed_user(SeedUser {
        id: bob.as_str().into(),
        email: None,
        name: "Bob".into(),
        email_verification: false,
        status: true,
    });
    assert_eq!(
        param(&app.login("bob").await, "userId").as_deref(),
        Some(bob.as_str())
    );
    assert_eq!(
        app.emulator.user(bob.as_str()).expect("bob")["labels"],
        serde_json::json!([OWNER_LABEL])
    );
}
