//! Native-app ID-token exchange on an `oidc` provider (`allow_id_token_exchange = true`)
//! through the real gateway: an ID token from mock-op, as a native app would have received it,
//! exchanged at `POST /v1/auth/corp/exchange`, makes one Appwrite session for the same user a
//! redirect login of that person gets. The refusals, with their log checks, are in
//! `assertion_logs.rs`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, TestApp, exchange};
use crate::signed_assertion::logs_in_once;

/// mock-op's ID token for `sub` with `nonce`, as the OP issues it now.
pub fn id_token(app: &TestApp, sub: &str, nonce: &str) -> String {
    let mock = app.mock();
    mock.sign_id_token(
        &mock.id_token_claims(sub, nonce),
        &mock_op::Behavior::default(),
    )
}

#[tokio::test]
async fn a_native_apps_id_token_logs_the_same_user_in_once() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "allow_id_token_exchange = true".into(),
        ..Options::mock()
    })
    .await;
    let token = id_token(&app, "alice", "native-nonce-1");
    let body = json!({"id_token": token, "nonce": "native-nonce-1"}).to_string();
    logs_in_once(&app, "corp", body.as_bytes(), &[]).await;
    let user = app.user_id("alice");
    assert!(
        app.emulator.user(user.as_str()).is_some(),
        "the user a redirect login of alice maps to"
    );
    // The same token again: refused, nothing minted.
    let (status, answer) = exchange(&app.gateway, "corp", body.as_bytes(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["type"], "id_token_replayed");
    assert_eq!(app.emulator.tokens().len(), 1);
}
