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
        app.start_refused(app.start_url(success, failure).as_str())
            .await;
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
    // A repeated `state` is ambiguous: refused before any transaction is taken.
    let mut repeated = callback.clone();
    repeated
        .query_pairs_mut()
        .append_pair("state", "forged-state");
    let response = app.get(repeated.as_str()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .expect("page")
            .contains("more than one"),
        "the page says why"
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
    // Only a provider trusted for email writes one, so only its logins can clash.
    let app = TestApp::spawn_with(crate::helpers::Options {
        provider_extra: "trusted_for_email = true".into(),
        ..crate::helpers::Options::default()
    })
    .await;
    app.emulator.seed_user(SeedUser {
        id: "existing-user".into(),
        email: Some("clash@example.test".into()),
        name: "Someone Else".into(),
        email_verification: true,
        status: true,
        ..SeedUser::default()
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
    // The user as the gateway made it (no email: corp is not trusted for email), now blocked.
    app.emulator.seed_user(SeedUser {
        id: user_id,
        name: "Alice".into(),
        email_verification: false,
        status: false,
        ..SeedUser::default()
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

/// What an attacker can do with Appwrite's public client API alone (project id, no key): create
/// an account with a chosen id, and get its one-time secret at an address they own.
#[derive(Debug, Clone, Copy)]
enum Squat {
    /// `POST /v1/account` with the attacker's email and a password.
    Password,
    /// `POST /v1/account/tokens/email`: no password, code emailed to the attacker.
    EmailToken,
    /// `POST /v1/account/tokens/magic-url`: no password, link emailed to the attacker.
    MagicUrl,
    /// `POST /v1/account/tokens/phone`: no password, code texted to the attacker.
    PhoneToken,
}

impl Squat {
    /// Calls the client API as the attacker: the account `id` with `email` (or the attacker's
    /// phone); answers the status.
    async fn call(self, app: &TestApp, id: &str, email: &str) -> StatusCode {
        let (route, body) = match self {
            Self::Password => (
                "account",
                serde_json::json!({"userId": id, "email": email, "password": "mallory-knows-this"}),
            ),
            Self::EmailToken => (
                "account/tokens/email",
                serde_json::json!({"userId": id, "email": email}),
            ),
            Self::MagicUrl => (
                "account/tokens/magic-url",
                serde_json::json!({"userId": id, "email": email, "url": "http://127.0.0.1:3000/app/"}),
            ),
            Self::PhoneToken => (
                "account/tokens/phone",
                serde_json::json!({"userId": id, "phone": "+15555550123"}),
            ),
        };
        reqwest::Client::new()
            .post(format!("{}/{route}", app.emulator.endpoint()))
            .header("X-Appwrite-Project", app.emulator.project())
            .json(&body)
            .send()
            .await
            .expect("client API call")
            .status()
    }

    /// Creates the account `id` with the attacker's own email or phone; returns the secret the
    /// attacker received (none for the password route: they know the password).
    async fn create(self, app: &TestApp, id: &str) -> Option<String> {
        let status = self.call(app, id, "mallory@evil.example").await;
        assert_eq!(status, StatusCode::CREATED, "{self:?}");
        assert!(app.emulator.user(id).is_some(), "{self:?} created {id}");
        app.emulator
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.user_id == id)
            .map(|m| m.secret)
    }
}

/// The attacker squats the victim's id through `squat` (as if the id had leaked despite the
/// key), then the victim logs in for the first time: refused, nothing minted, and the account
/// stays the attacker's, unlabelled.
async fn squatted_id_is_refused(squat: Squat) {
    let app = TestApp::spawn_with(crate::helpers::Options::mock()).await;
    let victim = app.user_id("alice");
    let secret = squat.create(&app, victim.as_str()).await;
    if let Some(secret) = &secret {
        // The attacker really can sign in to that account with what they received.
        assert_eq!(app.create_session(victim.as_str(), secret).await.0, 201);
    }
    let tokens_before = app.emulator.tokens().len();
    let landed = app.login("alice").await;
    assert_eq!(without_query(&landed), FAILURE, "{squat:?}");
    assert_eq!(error_of(&landed)["type"], "user_id_conflict", "{squat:?}");
    assert_eq!(
        app.emulator.tokens().len(),
        tokens_before,
        "{squat:?}: the gateway minted no token for the squatter's account"
    );
    assert_eq!(
        app.emulator.user(victim.as_str()).expect("squatted")["labels"],
        serde_json::json!([]),
        "{squat:?}: the squatter's account is not labelled as the identity's"
    );
}

#[tokio::test]
async fn a_squat_with_a_password_gets_no_token() {
    squatted_id_is_refused(Squat::Password).await;
}

#[tokio::test]
async fn a_squat_through_an_email_token_gets_no_token() {
    squatted_id_is_refused(Squat::EmailToken).await;
}

#[tokio::test]
async fn a_squat_through_a_magic_url_gets_no_token() {
    squatted_id_is_refused(Squat::MagicUrl).await;
}

#[tokio::test]
async fn a_squat_through_a_phone_token_gets_no_token() {
    squatted_id_is_refused(Squat::PhoneToken).await;
}

#[tokio::test]
async fn the_id_anyone_could_compute_is_not_the_users_id() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn_with(crate::helpers::Options::mock()).await;
    // The unkeyed derivation of earlier versions: "u" + base32(SHA-256(issuer NUL subject)).
    let mut hash = Sha256::new();
    hash.update(app.mock().issuer().as_bytes());
    hash.update([0u8]);
    hash.update(b"alice");
    let public = format!(
        "u{}",
        &data_encoding::BASE32_NOPAD
            .encode(&hash.finalize())
            .to_ascii_lowercase()[..35]
    );
    Squat::EmailToken.create(&app, &public).await;
    let landed = app.login("alice").await;
    let user_id = param(&landed, "userId").expect("alice logs in");
    assert_eq!(user_id, app.user_id("alice").as_str());
    assert_ne!(user_id, public, "the pre-created account is not hers");
    assert_eq!(
        app.emulator.user(&public).expect("squatted")["labels"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn users_the_gateway_creates_carry_its_label_and_an_unfinished_create_is_adopted() {
    use idp_bridge::login::mapping::OWNER_LABEL;
    let app = TestApp::spawn_with(crate::helpers::Options::mock()).await;
    let alice = param(&app.login("alice").await, "userId").expect("alice");
    assert_eq!(
        app.emulator.user(&alice).expect("alice")["labels"],
        serde_json::json!([OWNER_LABEL])
    );
    // A create whose labelling step never happened: exactly what the gateway writes (no
    // password, no phone, no email for bob, whose email the provider does not verify).
    // Adopted and labelled.
    let bob = app.user_id("bob");
    app.emulator.seed_user(SeedUser {
        id: bob.as_str().into(),
        name: "Bob".into(),
        ..SeedUser::default()
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

#[tokio::test]
async fn an_unlabelled_user_with_a_foreign_email_or_a_phone_is_not_adopted() {
    let app = TestApp::spawn_with(crate::helpers::Options::mock()).await;
    let bob = app.user_id("bob");
    for (email, phone) in [
        (Some("bob@example.test"), None),
        (None, Some("+15555550123")),
    ] {
        app.emulator.seed_user(SeedUser {
            id: bob.as_str().into(),
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            email_verification: true,
            ..SeedUser::default()
        });
        let landed = app.login("bob").await;
        assert_eq!(
            error_of(&landed)["type"],
            "user_id_conflict",
            "{email:?} {phone:?}"
        );
    }
    assert!(app.emulator.tokens().is_empty());
}

/// The attacker registers the victim's address first, through the client API, before the
/// victim's first login: the victim still logs in (to a user of their own, without the
/// address), and the attacker's account gets nothing. (Through a provider trusted for email:
/// no other writes an address that could meet the attacker's.)
async fn registering_the_address_first_does_not_lock_out(squat: Squat) {
    let app = TestApp::spawn_with(crate::helpers::Options {
        provider_extra: "trusted_for_email = true".into(),
        ..crate::helpers::Options::mock()
    })
    .await;
    let status = squat.call(&app, "unique()", "alice@example.test").await;
    assert_eq!(status, StatusCode::CREATED);
    let tokens_before = app.emulator.tokens().len();
    let landed = app.login("alice").await;
    let user_id = param(&landed, "userId").unwrap_or_else(|| panic!("{squat:?}: {landed}"));
    assert_eq!(user_id, app.user_id("alice").as_str());
    let alice = app.emulator.user(&user_id).expect("alice");
    assert_eq!(alice["email"], "", "{squat:?}: created without the address");
    assert_eq!(app.emulator.users_count(), 2);
    assert!(
        app.emulator.tokens()[tokens_before..]
            .iter()
            .all(|t| t.user_id == user_id),
        "{squat:?}: the gateway minted nothing for the attacker's account"
    );
}

#[tokio::test]
async fn registering_the_victims_address_with_a_password_does_not_lock_them_out() {
    registering_the_address_first_does_not_lock_out(Squat::Password).await;
}

#[tokio::test]
async fn registering_the_victims_address_by_email_token_does_not_lock_them_out() {
    registering_the_address_first_does_not_lock_out(Squat::EmailToken).await;
}
