//! The per-provider access policy (`email_domains`, `require_email_verified`, `required_claims`,
//! `max_age_seconds`), the labels it writes (`labels`, `label_claims`) and `on_email_conflict`.
//! Claims are scripted with mock-op; one test runs the real node `oidc-provider` for `max_age`.

use std::time::{SystemTime, UNIX_EPOCH};

use appwrite_emulator::SeedUser;
use idp_bridge::login::mapping::OWNER_LABEL;
use mock_op::Behavior;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    FAILURE, Options, SUCCESS, TestApp, error_of, location, param, without_query,
};

/// An Appwrite-native user id (what `ID.unique()` makes: 20 hex characters).
const NATIVE_ID: &str = "65f1c2a9e8b7d6c5b4a3";

fn with_policy(lines: &str) -> Options {
    Options {
        provider_extra: lines.into(),
        ..Options::mock()
    }
}

fn claims(patch: Value) -> Behavior {
    Behavior {
        claims_patch: patch.as_object().cloned().unwrap_or_default(),
        ..Behavior::default()
    }
}

fn unix_now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_secs()).expect("fits")
}

/// Logs `user` in and asserts the refusal: the failure URL with `access_denied` (403), a message
/// naming `rule` and none of `hidden` (claim values of the user), no Appwrite call at all and
/// no token.
async fn assert_refused(app: &TestApp, user: &str, rule: &str, hidden: &[&str]) {
    app.emulator.clear_calls();
    let landed = app.login(user).await;
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    let error = error_of(&landed);
    assert_eq!(error["type"], "access_denied", "{error}");
    assert_eq!(error["code"], 403, "{error}");
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.contains(&format!("`{rule}`")),
        "the message names {rule}: {message}"
    );
    for value in hidden {
        assert!(
            !landed.as_str().contains(value),
            "the failure URL carries {value:?}: {landed}"
        );
    }
    assert!(
        app.emulator.calls().is_empty(),
        "a refused login calls no Appwrite route: {:?}",
        app.emulator.calls()
    );
    assert!(app.emulator.tokens().is_empty(), "nothing minted");
}

/// Logs `user` in and returns the Appwrite user id it landed on.
async fn assert_admitted(app: &TestApp, user: &str) -> String {
    let landed = app.login(user).await;
    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    param(&landed, "userId").expect("userId")
}

#[tokio::test]
async fn an_email_domain_off_the_list_is_refused() {
    let app = TestApp::spawn_with(with_policy(r#"email_domains = ["corp.example"]"#)).await;
    // alice@example.test: verified, but not a listed domain.
    assert_refused(&app, "alice", "email_domains", &["example.test"]).await;
    // A subdomain of a listed domain is another domain.
    app.mock()
        .set_behavior(claims(json!({"email": "alice@eu.corp.example"})));
    assert_refused(&app, "alice", "email_domains", &["eu.corp.example"]).await;
    app.mock()
        .set_behavior(claims(json!({"email": "alice@Corp.Example"})));
    assert_admitted(&app, "alice").await;
}

#[tokio::test]
async fn an_unverified_email_is_refused_when_verification_is_required() {
    let app = TestApp::spawn_with(with_policy("require_email_verified = true")).await;
    // bob's email_verified is false at mock-op.
    assert_refused(&app, "bob", "require_email_verified", &["bob@example.test"]).await;
    // A string "true" is not the boolean.
    app.mock()
        .set_behavior(claims(json!({"email_verified": "true"})));
    assert_refused(&app, "bob", "require_email_verified", &[]).await;
    app.mock().set_behavior(Behavior::default());
    assert_admitted(&app, "alice").await;
}

#[tokio::test]
async fn a_missing_required_group_is_refused() {
    let app =
        TestApp::spawn_with(with_policy(r#"required_claims = { groups = ["admins"] }"#)).await;
    app.mock()
        .set_behavior(claims(json!({"groups": ["everyone", "hiddengroupname"]})));
    assert_refused(
        &app,
        "alice",
        r#"required_claims."groups""#,
        &["hiddengroupname", "everyone"],
    )
    .await;
    // No groups claim at all.
    app.mock().set_behavior(Behavior::default());
    assert_refused(&app, "alice", r#"required_claims."groups""#, &[]).await;
    app.mock()
        .set_behavior(claims(json!({"groups": ["everyone", "admins"]})));
    assert_admitted(&app, "alice").await;
}

#[tokio::test]
async fn a_namespaced_claim_with_the_wrong_value_is_refused() {
    let app = TestApp::spawn_with(with_policy(
        r#"required_claims = { "https://example.com/tier" = ["gold"], mfa = [true] }"#,
    ))
    .await;
    app.mock().set_behavior(claims(
        json!({"https://example.com/tier": "silverhiddenvalue", "mfa": true}),
    ));
    assert_refused(
        &app,
        "alice",
        r#"required_claims."https://example.com/tier""#,
        &["silverhiddenvalue"],
    )
    .await;
    app.mock().set_behavior(claims(
        json!({"https://example.com/tier": "gold", "mfa": "true"}),
    ));
    assert_refused(&app, "alice", r#"required_claims."mfa""#, &[]).await;
    app.mock().set_behavior(claims(
        json!({"https://example.com/tier": "gold", "mfa": true}),
    ));
    assert_admitted(&app, "alice").await;
}

#[tokio::test]
async fn an_old_or_unknown_authentication_time_is_refused_under_max_age() {
    let app = TestApp::spawn_with(with_policy("max_age_seconds = 300")).await;
    let an_hour_ago = unix_now() - 3600;
    app.mock()
        .set_behavior(claims(json!({"auth_time": an_hour_ago})));
    assert_refused(
        &app,
        "alice",
        "max_age_seconds",
        &[&an_hour_ago.to_string()],
    )
    .await;
    app.mock().set_behavior(claims(json!({"auth_time": null})));
    assert_refused(&app, "alice", "max_age_seconds", &[]).await;
    app.mock()
        .set_behavior(claims(json!({"auth_time": unix_now() - 200})));
    assert_admitted(&app, "alice").await;
}

#[tokio::test]
async fn redirect_flows_check_no_age_unless_max_age_is_set() {
    let app = TestApp::spawn_with(Options::mock()).await;
    app.mock()
        .set_behavior(claims(json!({"auth_time": unix_now() - 86_400})));
    assert_admitted(&app, "alice").await;
    app.mock().set_behavior(claims(json!({"auth_time": null})));
    assert_admitted(&app, "alice").await;
}

/// The authorization URL `start` sends the browser to.
async fn authorization_url(app: &TestApp) -> url::Url {
    let response = app.get(app.start_url(SUCCESS, FAILURE).as_str()).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    location(&response)
}

#[tokio::test]
async fn max_age_is_sent_to_the_real_provider_which_reports_auth_time() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "max_age_seconds = 600".into(),
        ..Options::default()
    })
    .await;
    let to_idp = authorization_url(&app).await;
    assert_eq!(
        param(&to_idp, "max_age").as_deref(),
        Some("600"),
        "{to_idp}"
    );
    // npm oidc-provider answers max_age with auth_time, which the gateway then checks.
    assert_admitted(&app, "alice").await;

    let without = TestApp::spawn_with(Options::mock()).await;
    let to_idp = authorization_url(&without).await;
    assert_eq!(
        param(&to_idp, "max_age"),
        None,
        "no max_age unless configured"
    );
}

const LABELS: &str = r#"labels = ["staff"]
label_claims = ["roles", "https://example.com/tier"]"#;

fn labels_of(app: &TestApp, user_id: &str) -> Value {
    app.emulator.user(user_id).expect("user")["labels"].clone()
}

fn label_writes(app: &TestApp) -> usize {
    app.emulator
        .calls()
        .iter()
        .filter(|c| c.method == "PUT" && c.path.ends_with("/labels"))
        .count()
}

#[tokio::test]
async fn static_and_claim_labels_follow_the_provider() {
    let app = TestApp::spawn_with(with_policy(LABELS)).await;
    app.mock().set_behavior(claims(json!({
        "roles": ["editor", "read-only", "admin:all", "billing"],
        "https://example.com/tier": "gold",
    })));
    let user_id = assert_admitted(&app, "alice").await;
    assert_eq!(
        labels_of(&app, &user_id),
        json!([OWNER_LABEL, "staff", "editor", "billing", "gold"]),
        "the gateway's label first, static labels, then valid claim values"
    );

    // The same claims again: the set is unchanged, so nothing is written.
    app.emulator.clear_calls();
    assert_admitted(&app, "alice").await;
    assert_eq!(label_writes(&app), 0, "{:?}", app.emulator.calls());

    // A role removed at the provider is gone after the next login; one write.
    app.mock().set_behavior(claims(json!({
        "roles": ["viewer"],
        "https://example.com/tier": "gold",
    })));
    app.emulator.clear_calls();
    assert_admitted(&app, "alice").await;
    assert_eq!(label_writes(&app), 1);
    assert_eq!(
        labels_of(&app, &user_id),
        json!([OWNER_LABEL, "staff", "viewer", "gold"])
    );

    // Claims that vanish take their labels with them; the gateway's and static ones stay.
    app.mock().set_behavior(Behavior::default());
    assert_admitted(&app, "alice").await;
    assert_eq!(labels_of(&app, &user_id), json!([OWNER_LABEL, "staff"]));
}

#[tokio::test]
async fn claim_values_shaped_like_the_gateways_labels_are_never_written() {
    let app = TestApp::spawn_with(with_policy(r#"label_claims = ["roles"]"#)).await;
    let other_link = app.link_label("bob");
    app.mock().set_behavior(claims(json!({
        "roles": [other_link.as_str(), "member"],
    })));
    let user_id = assert_admitted(&app, "alice").await;
    assert_eq!(labels_of(&app, &user_id), json!([OWNER_LABEL, "member"]));
}

#[tokio::test]
async fn an_owned_label_set_replaces_the_apps_labels_but_keeps_the_link() {
    let app = TestApp::spawn_with(with_policy(&format!(
        "trusted_for_email = true\nlink_by_email = true\n{LABELS}"
    )))
    .await;
    app.emulator.seed_user(SeedUser {
        id: NATIVE_ID.into(),
        email: Some("alice@example.test".into()),
        email_verification: true,
        status: true,
        labels: vec!["beta".into()],
        ..SeedUser::default()
    });
    app.mock()
        .set_behavior(claims(json!({"roles": ["editor"]})));
    assert_eq!(assert_admitted(&app, "alice").await, NATIVE_ID);
    assert_eq!(
        labels_of(&app, NATIVE_ID),
        json!([app.link_label("alice").as_str(), "staff", "editor"]),
        "the link label stays; the app's `beta` goes, since the policy owns the labels"
    );
    // The next login still finds the user by its link.
    assert_eq!(assert_admitted(&app, "alice").await, NATIVE_ID);
}

#[tokio::test]
async fn without_label_keys_the_labels_are_left_alone() {
    let app = TestApp::spawn_with(Options::mock()).await;
    app.mock()
        .set_behavior(claims(json!({"roles": ["editor"]})));
    let user_id = assert_admitted(&app, "alice").await;
    assert_eq!(labels_of(&app, &user_id), json!([OWNER_LABEL]));
    app.emulator.clear_calls();
    assert_admitted(&app, "alice").await;
    assert_eq!(label_writes(&app), 0);
}

fn seed_holder(app: &TestApp) -> Value {
    app.emulator.seed_user(SeedUser {
        id: NATIVE_ID.into(),
        email: Some("alice@example.test".into()),
        name: "Holder".into(),
        email_verification: true,
        status: true,
        labels: vec!["vip".into()],
        ..SeedUser::default()
    });
    app.emulator.user(NATIVE_ID).expect("seeded")
}

#[tokio::test]
async fn an_email_conflict_fails_by_default() {
    // Trusted for email: no other provider writes one, so no other can clash.
    let app = TestApp::spawn_with(with_policy(
        "trusted_for_email = true\non_email_conflict = \"fail\"",
    ))
    .await;
    let holder = seed_holder(&app);
    let landed = app.login("alice").await;
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "user_email_conflict");
    assert!(app.emulator.tokens().is_empty());
    assert_eq!(app.emulator.user(NATIVE_ID), Some(holder));
}

#[tokio::test]
async fn an_email_conflict_can_create_the_user_without_an_email() {
    let app = TestApp::spawn_with(with_policy(
        "trusted_for_email = true\non_email_conflict = \"create_without_email\"",
    ))
    .await;
    let holder = seed_holder(&app);
    let user_id = assert_admitted(&app, "alice").await;
    assert_eq!(user_id, app.user_id("alice").as_str());
    let user = app.emulator.user(&user_id).expect("created");
    assert_eq!(user["email"], "");
    assert_eq!(user["emailVerification"], false);
    assert_eq!(user["labels"], json!([OWNER_LABEL]));
    assert_eq!(
        app.emulator.user(NATIVE_ID),
        Some(holder),
        "the holder is untouched"
    );
    // Later logins land on the same user.
    assert_eq!(assert_admitted(&app, "alice").await, user_id);
    assert_eq!(app.emulator.users_count(), 2);
}

#[tokio::test]
async fn create_without_email_never_links_to_a_holder_that_belongs_to_another_identity() {
    let app = TestApp::spawn_with(with_policy(
        "trusted_for_email = true\nlink_by_email = true\non_email_conflict = \"create_without_email\"",
    ))
    .await;
    // The address's holder already belongs to an external identity (bob's link).
    app.emulator.seed_user(SeedUser {
        id: NATIVE_ID.into(),
        email: Some("alice@example.test".into()),
        email_verification: true,
        status: true,
        labels: vec![app.link_label("bob").as_str().into()],
        ..SeedUser::default()
    });
    let holder = app.emulator.user(NATIVE_ID).expect("seeded");
    let user_id = assert_admitted(&app, "alice").await;
    assert_ne!(user_id, NATIVE_ID);
    assert_eq!(app.emulator.user(&user_id).expect("created")["email"], "");
    assert_eq!(app.emulator.user(NATIVE_ID), Some(holder));
}

#[tokio::test]
async fn labels_over_appwrites_limit_drop_the_last_claim_values_never_the_gateways() {
    let statics: Vec<String> = (0..990).map(|i| format!("\"s{i}\"")).collect();
    let app = TestApp::spawn_with(with_policy(&format!(
        "labels = [{}]\nlabel_claims = [\"roles\"]",
        statics.join(", ")
    )))
    .await;
    let roles: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    app.mock().set_behavior(claims(json!({ "roles": roles })));
    let user_id = assert_admitted(&app, "alice").await;
    let labels = labels_of(&app, &user_id);
    let labels = labels.as_array().expect("labels");
    assert_eq!(labels.len(), 1000, "Appwrite's limit");
    assert_eq!(labels[0], OWNER_LABEL);
    assert_eq!(labels[990], "s989");
    assert_eq!(labels[999], "r8", "r9 to r19 are dropped");
}
