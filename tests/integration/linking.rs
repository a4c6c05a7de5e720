//! Linking by verified email (opt-in per provider) and the takeover attempts it must resist.

use appwrite_emulator::SeedUser;
use idp_bridge::login::mapping::OWNER_LABEL;
use mock_op::Behavior;
use serde_json::{Value, json};

use crate::helpers::{FAILURE, Options, TestApp, error_of, param, without_query};

/// An Appwrite-native user id (what `ID.unique()` makes: 20 hex characters).
const NATIVE_ID: &str = "65f1c2a9e8b7d6c5b4a3";

fn linking() -> Options {
    Options {
        provider_extra: "trusted_for_email = true\nlink_by_email = true".into(),
        ..Options::mock()
    }
}

fn seed(app: &TestApp, id: &str, email: &str, verified: bool) {
    app.emulator.seed_user(SeedUser {
        id: id.into(),
        email: Some(email.into()),
        name: "Existing".into(),
        email_verification: verified,
        status: true,
        ..SeedUser::default()
    });
}

fn claims(patch: Value) -> Behavior {
    Behavior {
        claims_patch: patch.as_object().cloned().unwrap_or_default(),
        ..Behavior::default()
    }
}

#[tokio::test]
async fn a_verified_email_links_to_the_existing_verified_user() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    let landed = app.login("alice").await;
    assert_eq!(
        param(&landed, "userId").as_deref(),
        Some(NATIVE_ID),
        "{landed}"
    );
    assert_eq!(app.emulator.users_count(), 1, "no second user");
    let secret = param(&landed, "secret").expect("secret");
    assert_eq!(app.create_session(NATIVE_ID, &secret).await.0, 201);
    // The link is recorded on the user with a label only a server key can write.
    assert_eq!(
        app.emulator.user(NATIVE_ID).expect("linked")["labels"],
        json!([app.link_label("alice").as_str()])
    );
    // A second login follows the recorded link.
    assert_eq!(
        param(&app.login("alice").await, "userId").as_deref(),
        Some(NATIVE_ID)
    );
    assert_eq!(app.emulator.users_count(), 1, "no second user");
}

#[tokio::test]
async fn a_recorded_link_survives_an_email_change_at_the_provider() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    assert_eq!(
        param(&app.login("alice").await, "userId").as_deref(),
        Some(NATIVE_ID)
    );
    // Alice's address at the provider changes: she is still the same identity.
    app.mock()
        .set_behavior(claims(json!({"email": "alice.new@example.test"})));
    assert_eq!(
        param(&app.login("alice").await, "userId").as_deref(),
        Some(NATIVE_ID),
        "the recorded link, not the email, finds her user"
    );
    assert_eq!(app.emulator.users_count(), 1, "no second user");
}

#[tokio::test]
async fn a_recycled_or_shared_email_does_not_move_a_linked_account() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    assert_eq!(
        param(&app.login("alice").await, "userId").as_deref(),
        Some(NATIVE_ID)
    );
    // Another identity now asserts the same verified address (the address was recycled, or a
    // second trusted provider vouches for it): the account already belongs to alice.
    app.mock().set_behavior(claims(
        json!({"email": "alice@example.test", "email_verified": true}),
    ));
    let landed = app.login("bob").await;
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "user_email_conflict");
    assert_eq!(app.emulator.tokens().len(), 1, "only alice's login minted");
    assert_eq!(
        app.emulator.user(NATIVE_ID).expect("linked")["labels"],
        json!([app.link_label("alice").as_str()]),
        "still alice's alone"
    );
}

#[tokio::test]
async fn linking_keeps_the_labels_the_app_set() {
    let app = TestApp::spawn_with(linking()).await;
    app.emulator.seed_user(SeedUser {
        id: NATIVE_ID.into(),
        email: Some("alice@example.test".into()),
        email_verification: true,
        labels: vec!["admin".into(), "beta".into()],
        ..SeedUser::default()
    });
    assert_eq!(
        param(&app.login("alice").await, "userId").as_deref(),
        Some(NATIVE_ID)
    );
    assert_eq!(
        app.emulator.user(NATIVE_ID).expect("linked")["labels"],
        json!(["admin", "beta", app.link_label("alice").as_str()])
    );
}

#[tokio::test]
async fn an_unverified_appwrite_email_is_never_taken_over() {
    // Someone registered the address in Appwrite without proving it: linking would hand the
    // provider's user that account (pre-hijacking), or the reverse. Alice gets a user of her
    // own, without the address she could not claim, and the holder's account is untouched.
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", false);
    let landed = app.login("alice").await;
    let user_id = param(&landed, "userId").expect("alice gets her own user");
    assert_eq!(user_id, app.user_id("alice").as_str());
    assert_eq!(app.emulator.user(&user_id).expect("alice")["email"], "");
    let holder = app.emulator.user(NATIVE_ID).expect("holder");
    assert_eq!(holder["labels"], json!([]));
    assert_eq!(holder["email"], "alice@example.test");
    assert_eq!(holder["emailVerification"], false);
    assert!(app.emulator.tokens().iter().all(|t| t.user_id != NATIVE_ID));
}

#[tokio::test]
async fn an_unverified_provider_email_never_links() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "bob@example.test", true);
    let landed = app.login("bob").await;
    let user_id = param(&landed, "userId").expect("a new user");
    assert_ne!(user_id, NATIVE_ID);
    assert_eq!(app.emulator.user(&user_id).expect("user")["email"], "");
}

#[tokio::test]
async fn a_string_true_email_verified_is_not_verified() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    app.mock()
        .set_behavior(claims(json!({"email_verified": "true"})));
    let landed = app.login("alice").await;
    let user_id = param(&landed, "userId").expect("the login itself succeeds");
    assert_ne!(user_id, NATIVE_ID, "\"true\" (a string) must not link");
    assert_eq!(app.emulator.user(&user_id).expect("user")["email"], "");
}

#[tokio::test]
async fn a_multi_at_email_is_refused_before_any_appwrite_call() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    app.emulator.clear_calls();
    for email in [
        "alice@example.test@evil.example",
        "alice@evil.example@example.test",
        "alice @example.test",
    ] {
        app.mock().set_behavior(claims(json!({"email": email})));
        let landed = app.login("alice").await;
        assert_eq!(error_of(&landed)["type"], "email_invalid", "{email}");
    }
    assert!(
        app.emulator.calls().is_empty(),
        "{:?}",
        app.emulator.calls()
    );
}

#[tokio::test]
async fn a_look_alike_domain_does_not_reach_the_real_account() {
    let app = TestApp::spawn_with(linking()).await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    // Cyrillic "а" (U+0430) in "exаmple".
    app.mock()
        .set_behavior(claims(json!({"email": "alice@ex\u{0430}mple.test"})));
    let landed = app.login("alice").await;
    let user_id = param(&landed, "userId").expect("a separate user");
    assert_ne!(user_id, NATIVE_ID);
    let email = app.emulator.user(&user_id).expect("user")["email"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        email.contains("xn--"),
        "stored in its distinct IDNA form: {email}"
    );
    assert_eq!(
        app.emulator.user(NATIVE_ID).expect("victim")["email"],
        "alice@example.test"
    );
}

#[tokio::test]
async fn an_email_already_owned_by_another_identity_is_not_linked() {
    let app = TestApp::spawn_with(linking()).await;
    let other = app.id_key.user_id("https://other-idp.example", "someone");
    seed(&app, other.as_str(), "alice@example.test", true);
    let landed = app.login("alice").await;
    assert_eq!(error_of(&landed)["type"], "user_email_conflict");
    assert!(app.emulator.tokens().is_empty());
}

#[tokio::test]
async fn without_opt_in_an_existing_email_is_a_conflict_not_a_link() {
    // Trusted for email, so the address is written, but not `link_by_email`.
    let app = TestApp::spawn_with(Options {
        provider_extra: "trusted_for_email = true".into(),
        ..Options::mock()
    })
    .await;
    seed(&app, NATIVE_ID, "alice@example.test", true);
    let landed = app.login("alice").await;
    assert_eq!(error_of(&landed)["type"], "user_email_conflict");
    assert!(app.emulator.tokens().is_empty());
}

#[tokio::test]
async fn a_trusted_provider_marks_the_email_verified_and_never_downgrades() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "trusted_for_email = true".into(),
        ..Options::mock()
    })
    .await;
    let alice = param(&app.login("alice").await, "userId").expect("alice");
    assert_eq!(
        app.emulator.user(&alice).expect("alice")["emailVerification"],
        true
    );

    // Bob's user, made by the gateway (labelled); the app has since verified his email.
    let bob = app.user_id("bob");
    app.emulator.seed_user(SeedUser {
        id: bob.as_str().into(),
        email: Some("bob@example.test".into()),
        email_verification: true,
        labels: vec![OWNER_LABEL.into()],
        ..SeedUser::default()
    });
    let landed = app.login("bob").await;
    assert_eq!(param(&landed, "userId").as_deref(), Some(bob.as_str()));
    assert_eq!(
        app.emulator.user(bob.as_str()).expect("bob")["emailVerification"],
        true,
        "never downgraded"
    );

    // An untrusted provider's users get no email at all, so none to mark verified.
    let untrusted = TestApp::spawn_with(Options::mock()).await;
    let carol = param(&untrusted.login("alice").await, "userId").expect("alice");
    let user = untrusted.emulator.user(&carol).expect("user");
    assert_eq!(
        (&user["email"], &user["emailVerification"]),
        (&json!(""), &json!(false))
    );
}
