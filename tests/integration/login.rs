//! Successful logins through the real OpenID provider.

use reqwest::StatusCode;

use crate::helpers::{FAILURE, Options, SUCCESS, TestApp, fragment_param, param, without_query};

#[tokio::test]
async fn first_login_creates_the_user_and_the_secret_works_exactly_once() {
    let app = TestApp::spawn().await;
    let landed = app.login("alice").await;

    assert_eq!(without_query(&landed), SUCCESS);
    let user_id = param(&landed, "userId").expect("userId");
    let secret = param(&landed, "secret").expect("secret");
    assert_eq!(user_id.len(), 36);
    assert_eq!(secret.len(), 64, "minted with token.length = 64");

    let user = app
        .emulator
        .user(&user_id)
        .expect("the user exists in Appwrite");
    assert_eq!(user["name"], "Alice");
    let tokens = app.emulator.tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].user_id, user_id);
    assert_eq!(tokens[0].length, 64);
    assert_eq!(tokens[0].expire_seconds, 60);

    let (status, session) = app.create_session(&user_id, &secret).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["userId"], user_id.as_str());
    assert_eq!(session["provider"], "token");
    let (status, error) = app.create_session(&user_id, &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error["type"], "user_invalid_token",
        "the secret is single-use"
    );
}

#[tokio::test]
async fn the_configured_length_and_expiry_are_used() {
    let app = TestApp::spawn_with(Options {
        token_length: 128,
        token_expire: 300,
        ..Options::default()
    })
    .await;
    let landed = app.login("alice").await;
    assert_eq!(param(&landed, "secret").expect("secret").len(), 128);
    let tokens = app.emulator.tokens();
    assert_eq!((tokens[0].length, tokens[0].expire_seconds), (128, 300));
}

#[tokio::test]
async fn a_second_login_reuses_the_user() {
    let app = TestApp::spawn().await;
    let first = param(&app.login("alice").await, "userId").expect("userId");
    let second = param(&app.login("alice").await, "userId").expect("userId");
    assert_eq!(first, second);
    assert_eq!(app.emulator.users_count(), 1);
    assert_eq!(app.emulator.tokens().len(), 2);
    let other = param(&app.login("bob").await, "userId").expect("userId");
    assert_ne!(first, other);
    assert_eq!(app.emulator.users_count(), 2);
}

#[tokio::test]
async fn an_unverified_email_is_not_written_to_appwrite() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "trusted_for_email = true".into(),
        ..Options::default()
    })
    .await;
    let user_id = param(&app.login("bob").await, "userId").expect("userId");
    let user = app.emulator.user(&user_id).expect("user");
    assert_eq!(
        user["email"], "",
        "bob's email is not verified by the provider, even a trusted one"
    );
    assert_eq!(user["name"], "Bob");
}

/// A provider that is not `trusted_for_email` vouches for nothing about the address, even one it
/// calls verified: its users get no email in Appwrite. Written there, the address would be a
/// handle for Appwrite's own email flows (email OTP, magic URL and password recovery find the
/// user by email), so whoever registered someone else's address at that provider would hold a
/// user that the address's owner later lands in. The email still serves the access policy.
#[tokio::test]
async fn an_untrusted_providers_verified_email_is_not_written_to_appwrite() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "require_email_verified = true\nemail_domains = [\"example.test\"]".into(),
        ..Options::default()
    })
    .await;
    let landed = app.login("alice").await;
    let user_id = param(&landed, "userId").expect("admitted on its verified email");
    let user = app.emulator.user(&user_id).expect("user");
    assert_eq!(user["email"], "", "{user}");
    assert_eq!(user["emailVerification"], false, "{user}");
    assert_eq!(user["name"], "Alice");

    // The same provider trusted for email writes the address, verified.
    let trusted = TestApp::spawn_with(Options {
        provider_extra: "trusted_for_email = true".into(),
        ..Options::default()
    })
    .await;
    let user_id = param(&trusted.login("alice").await, "userId").expect("userId");
    let user = trusted.emulator.user(&user_id).expect("user");
    assert_eq!(user["email"], "alice@example.test", "{user}");
    assert_eq!(user["emailVerification"], true, "{user}");
}

#[tokio::test]
async fn fragment_delivery_keeps_the_secret_out_of_the_query() {
    let app = TestApp::spawn_with(Options {
        delivery: "fragment",
        ..Options::default()
    })
    .await;
    let landed = app.login("alice").await;
    assert_eq!(landed.query(), None);
    let user_id = fragment_param(&landed, "userId").expect("userId in the fragment");
    let secret = fragment_param(&landed, "secret").expect("secret in the fragment");
    let (status, _) = app.create_session(&user_id, &secret).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn the_success_urls_own_query_is_kept() {
    let app = TestApp::spawn().await;
    let landed = app
        .login_to("alice", "http://127.0.0.1:3000/app/done?next=%2Fhome&tab=2")
        .await;
    let pairs: Vec<(String, String)> = landed
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert_eq!(pairs[0], ("next".into(), "/home".into()));
    assert_eq!(pairs[1], ("tab".into(), "2".into()));
    assert_eq!(pairs[2].0, "userId");
    assert_eq!(pairs[3].0, "secret");
}

#[tokio::test]
async fn client_secret_post_works_too() {
    let app = TestApp::spawn_with(Options {
        auth_method: "client_secret_post",
        ..Options::default()
    })
    .await;
    let landed = app.login("alice").await;
    assert!(param(&landed, "secret").is_some(), "landed at {landed}");
    assert_ne!(without_query(&landed), FAILURE);
}

#[tokio::test]
async fn start_sets_a_binding_cookie_and_sends_pkce_state_and_nonce() {
    let app = TestApp::spawn().await;
    let response = app.get(app.start_url(SUCCESS, FAILURE).as_str()).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(cookie.starts_with("idpb_"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let to_idp = crate::helpers::location(&response);
    for name in [
        "state",
        "nonce",
        "code_challenge",
        "redirect_uri",
        "client_id",
    ] {
        assert!(param(&to_idp, name).is_some(), "{name} missing in {to_idp}");
    }
    assert_eq!(
        param(&to_idp, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&to_idp, "response_type").as_deref(), Some("code"));
    assert_eq!(
        param(&to_idp, "scope").as_deref(),
        Some("openid email profile")
    );
}

#[tokio::test]
async fn extra_scopes_come_in_both_forms_and_bad_parameters_are_named() {
    let app = TestApp::spawn_with(Options::mock()).await;
    let mut url = app.start_url(SUCCESS, FAILURE);
    url.query_pairs_mut()
        .append_pair("scopes[]", "groups")
        .append_pair("scopes[]", "offline_access")
        .append_pair("scopes", "org email");
    let response = app.get(url.as_str()).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let scope = param(&crate::helpers::location(&response), "scope").expect("scope");
    assert_eq!(scope, "openid email profile org groups offline_access");

    for (name, value, says) in [
        ("scopes", "bad\"scope", "`scopes`"),
        ("login_hint", "a\u{0007}b", "`login_hint`"),
        ("sucess", "typo", "unknown field `sucess`"),
    ] {
        let mut url = app.start_url(SUCCESS, FAILURE);
        url.query_pairs_mut().append_pair(name, value);
        let response = app.get(url.as_str()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(response.headers().get("location").is_none());
        let body = response.text().await.expect("body");
        assert!(body.contains(says), "{name}: {body}");
    }
}
