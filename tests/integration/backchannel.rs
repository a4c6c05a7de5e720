//! Back-channel logout (`POST /v1/auth/{provider}/backchannel-logout`): a provider's logout
//! token ends the identity's Appwrite sessions, and nothing else does.
//!
//! End to end with the real node `oidc-provider` (its Back-Channel Logout 1.0 feature posts the
//! token when the session ends there), then the refusals, the unknown user, an Appwrite outage
//! and a token that names only the session, with tokens signed by mock-op's keys.

use appwrite_emulator::{Emulator, EmulatorConfig, Fault, FaultScope, SeedUser};
use mock_op::{Behavior, MockOp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{
    FAILURE, Options, PROVIDER, SUCCESS, Served, TestApp, browser, config_toml, create_session,
    location, mock_config, param,
};
use crate::idp::{CLIENT_ID, free_port};
use crate::redis_server::RedisServer;

/// The member of `events` a logout token carries.
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Logs `login_hint` in and turns the result into an Appwrite session, as the app does; the
/// Appwrite user id.
async fn logged_in_with_session(app: &TestApp, login_hint: &str) -> String {
    let landed = app.login(login_hint).await;
    let user_id = param(&landed, "userId").unwrap_or_else(|| panic!("no userId: {landed}"));
    let secret = param(&landed, "secret").expect("secret");
    let (status, body) = app.create_session(&user_id, &secret).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    user_id
}

/// What the gateway answered a logout post: status, JSON body (`Null` when empty) and its
/// `Cache-Control`.
struct Answer {
    status: StatusCode,
    body: Value,
    cache_control: String,
}

/// Posts `form` to `provider`'s logout route, as a provider does.
async fn post_form(app: &TestApp, provider: &str, form: &[(&str, &str)]) -> Answer {
    post_to(&app.gateway, provider, form).await
}

/// Posts `form` to `provider`'s logout route at the gateway `gateway`.
async fn post_to(gateway: &str, provider: &str, form: &[(&str, &str)]) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{gateway}/v1/auth/{provider}/backchannel-logout"))
        .form(form)
        .send()
        .await
        .expect("logout request");
    let status = response.status();
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        cache_control,
    }
}

async fn post_logout(app: &TestApp, token: &str) -> Answer {
    post_form(app, PROVIDER, &[("logout_token", token)]).await
}

/// A logout token signed by the app's mock-op for alice, claims patched (`null` removes).
fn signed(app: &TestApp, patch: Value, behavior: &Behavior) -> String {
    signed_by(app.mock(), patch, behavior)
}

/// A logout token signed by `mock` for alice, claims patched (`null` removes).
pub(crate) fn signed_by(mock: &MockOp, patch: Value, behavior: &Behavior) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": mock.issuer(),
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": "alice",
        "events": { EVENT: {} },
    });
    for (key, value) in patch.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(&key);
        } else {
            claims[key] = value;
        }
    }
    mock.sign_id_token(&claims, behavior)
}

pub(crate) fn good(app: &TestApp, patch: Value) -> String {
    signed(app, patch, &Behavior::default())
}

/// A gateway with `backchannel_logout = true`, in front of mock-op.
async fn mock_app() -> TestApp {
    TestApp::spawn_with(Options {
        provider_extra: "backchannel_logout = true".into(),
        ..Options::mock()
    })
    .await
}

#[track_caller]
fn assert_ok(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.cache_control, "no-store");
}

#[track_caller]
fn assert_invalid(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.body["error"], "invalid_request", "{}", answer.body);
    let text = answer.body["error_description"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains(description), "{text}");
    assert_eq!(answer.cache_control, "no-store");
}

#[track_caller]
fn assert_unavailable(answer: &Answer) {
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"], "temporarily_unavailable");
    assert_eq!(answer.cache_control, "no-store");
}

/// The DELETE calls the emulator received.
fn deletes(app: &TestApp) -> Vec<String> {
    app.emulator
        .calls()
        .into_iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.path)
        .collect()
}

#[tokio::test]
async fn ending_the_session_at_the_provider_ends_the_appwrite_sessions() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "backchannel_logout = true".into(),
        idp_backchannel_logout: true,
        ..Options::default()
    })
    .await;
    let user_id = logged_in_with_session(&app, "alice").await;
    assert_eq!(app.emulator.sessions_of(&user_id), 1);

    // The user signs out at the provider: its logout page, then the confirmation form.
    let issuer = app.idp.issuer();
    let issuer = issuer.trim_end_matches('/');
    let page = app
        .browser
        .get(format!("{issuer}/session/end?client_id={CLIENT_ID}"))
        .send()
        .await
        .expect("logout page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    let attribute = |before: &str| {
        let start = html
            .find(before)
            .unwrap_or_else(|| panic!("no {before} in {html}"))
            + before.len();
        html[start..start + html[start..].find('"').expect("closing quote")].to_string()
    };
    let (action, xsrf) = (attribute("action=\""), attribute("name=\"xsrf\" value=\""));
    let confirmed = app
        .browser
        .post(&action)
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .expect("confirm logout");
    assert!(
        confirmed.status().is_redirection(),
        "{}",
        confirmed.status()
    );

    // oidc-provider posts the logout token (with sub and sid) before it answers.
    assert_eq!(app.emulator.sessions_of(&user_id), 0, "the session ended");
    assert_eq!(deletes(&app), vec![format!("/v1/users/{user_id}/sessions")]);
    let metrics = reqwest::get(&app.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "idp_bridge_backchannel_logouts_total{provider=\"corp\",result=\"sessions_ended\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_bad_or_replayed_token_is_a_400_and_ends_nothing() {
    let app = mock_app().await;
    let alice = logged_in_with_session(&app, "alice").await;
    let bob = logged_in_with_session(&app, "bob").await;
    app.emulator.clear_calls();
    let forged = Behavior {
        corrupt_signature: true,
        ..Default::default()
    };
    let none = Behavior {
        alg: Some(mock_op::SigningAlg::None),
        ..Default::default()
    };
    for (case, raw, says) in [
        ("forged", signed(&app, json!({}), &forged), "signature"),
        (
            "alg none",
            signed(&app, json!({}), &none),
            "alg_not_allowed",
        ),
        ("nonce", good(&app, json!({"nonce": "n"})), "nonce_present"),
        ("no events", good(&app, json!({"events": null})), "events"),
        ("other aud", good(&app, json!({"aud": "x"})), "audience"),
        ("expired", good(&app, json!({"exp": 1})), "expired"),
        (
            "an ID token",
            good(&app, json!({"events": null, "nonce": "n"})),
            "refused",
        ),
    ] {
        let answer = post_logout(&app, &raw).await;
        assert_invalid(&answer, says);
        assert_eq!(app.emulator.sessions_of(&alice), 1, "{case}");
    }
    assert!(
        app.emulator.calls().is_empty(),
        "a refused token costs no Appwrite call: {:?}",
        app.emulator.calls()
    );

    let token = good(&app, json!({}));
    assert_ok(&post_logout(&app, &token).await);
    assert_eq!(app.emulator.sessions_of(&alice), 0);
    assert_eq!(
        app.emulator.sessions_of(&bob),
        1,
        "only alice's sessions end"
    );

    // The same token again, after alice logged in once more: spent, so nothing ends.
    logged_in_with_session(&app, "alice").await;
    app.emulator.clear_calls();
    assert_invalid(&post_logout(&app, &token).await, "already used");
    assert_eq!(app.emulator.sessions_of(&alice), 1);
    assert!(deletes(&app).is_empty());
}

#[tokio::test]
async fn a_logout_for_an_unknown_user_is_a_200_that_changes_nothing() {
    let app = mock_app().await;
    let alice = logged_in_with_session(&app, "alice").await;
    app.emulator.clear_calls();
    let users = app.emulator.users_count();
    assert_ok(&post_logout(&app, &good(&app, json!({"sub": "never-logged-in"}))).await);
    assert!(deletes(&app).is_empty(), "{:?}", app.emulator.calls());
    assert!(
        app.emulator.calls().iter().all(|c| c.method == "GET"),
        "only reads: {:?}",
        app.emulator.calls()
    );
    assert_eq!(app.emulator.users_count(), users, "no user is created");
    assert_eq!(app.emulator.sessions_of(&alice), 1);
}

/// A session for the seeded user `id`, made with the server key as the gateway would.
async fn seeded_session(app: &TestApp, id: &str) {
    let token: Value = reqwest::Client::new()
        .post(format!("{}/users/{id}/tokens", app.emulator.endpoint()))
        .header("X-Appwrite-Project", app.emulator.project())
        .header("X-Appwrite-Key", app.emulator.api_key())
        .json(&json!({"length": 64}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let secret = token["secret"].as_str().expect("secret");
    let (status, body) = app.create_session(id, secret).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn labels_not_ids_say_whose_sessions_end() {
    let app = mock_app().await;
    // Someone else's user under the identity's id (no gateway label): left alone.
    let squatted = app.user_id("squatted").as_str().to_string();
    app.emulator.seed_user(SeedUser {
        id: squatted.clone(),
        ..SeedUser::default()
    });
    seeded_session(&app, &squatted).await;
    assert_ok(&post_logout(&app, &good(&app, json!({"sub": "squatted"}))).await);
    assert_eq!(app.emulator.sessions_of(&squatted), 1);
    assert!(deletes(&app).is_empty(), "{:?}", app.emulator.calls());

    // A user an earlier login linked by email (the identity's link label): its sessions end.
    let link = app.link_label("linked").as_str().to_string();
    app.emulator.seed_user(SeedUser {
        id: "existing-user".into(),
        labels: vec![link],
        ..SeedUser::default()
    });
    seeded_session(&app, "existing-user").await;
    assert_ok(&post_logout(&app, &good(&app, json!({"sub": "linked"}))).await);
    assert_eq!(app.emulator.sessions_of("existing-user"), 0);
}

#[tokio::test]
async fn appwrite_down_is_a_503_the_sessions_stay_and_the_same_token_ends_them_once_it_is_back() {
    let app = mock_app().await;
    let alice = logged_in_with_session(&app, "alice").await;
    let token = good(&app, json!({}));
    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    assert_unavailable(&post_logout(&app, &token).await);
    app.emulator.clear_faults();
    assert_eq!(app.emulator.sessions_of(&alice), 1);
    // The provider retries after a 503: the failed attempt did not spend the token.
    assert_ok(&post_logout(&app, &token).await);
    assert_eq!(app.emulator.sessions_of(&alice), 0);
    // Once it succeeded, it is spent.
    assert_invalid(&post_logout(&app, &token).await, "already used");
}

#[tokio::test]
async fn a_token_naming_only_the_session_finds_the_user_recorded_at_login() {
    let app = mock_app().await;
    app.mock().set_behavior(Behavior {
        claims_patch: json!({"sid": "op-session-1"})
            .as_object()
            .cloned()
            .expect("object"),
        ..Default::default()
    });
    let alice = logged_in_with_session(&app, "alice").await;
    app.emulator.clear_calls();

    // Another session of the provider: nobody logged in with it here.
    let other = good(&app, json!({"sub": null, "sid": "op-session-2"}));
    assert_ok(&post_logout(&app, &other).await);
    assert!(
        app.emulator.calls().is_empty(),
        "{:?}",
        app.emulator.calls()
    );
    assert_eq!(app.emulator.sessions_of(&alice), 1);

    let by_sid = good(&app, json!({"sub": null, "sid": "op-session-1"}));
    assert_ok(&post_logout(&app, &by_sid).await);
    assert_eq!(app.emulator.sessions_of(&alice), 0);
}

#[tokio::test]
async fn only_a_provider_that_opted_in_takes_logout_tokens_and_only_as_a_form() {
    let app = TestApp::spawn_with(Options::mock()).await;
    let answer = post_logout(&app, &good(&app, json!({}))).await;
    assert_invalid(&answer, "does not accept back-channel logout");
    let answer = post_form(&app, "nope", &[("logout_token", "x")]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    let app = mock_app().await;
    assert_invalid(&post_form(&app, PROVIDER, &[]).await, "logout_token");
    let token = good(&app, json!({}));
    let twice = [
        ("logout_token", token.as_str()),
        ("logout_token", token.as_str()),
    ];
    assert_invalid(&post_form(&app, PROVIDER, &twice).await, "exactly once");
    let json_body = reqwest::Client::new()
        .post(format!(
            "{}/v1/auth/{PROVIDER}/backchannel-logout",
            app.gateway
        ))
        .json(&json!({"logout_token": token}))
        .send()
        .await
        .expect("request");
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    let body: Value = json_body.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_request");
}

/// The login sessions of mock-op carry `sid`.
fn with_sid(mock: &MockOp, sid: &str) {
    mock.set_behavior(Behavior {
        claims_patch: json!({ "sid": sid }).as_object().cloned().expect("object"),
        ..Default::default()
    });
}

#[tokio::test]
async fn with_redis_the_session_is_kept_sealed_shared_by_instances_and_an_outage_is_a_503() {
    let mut redis = RedisServer::start().await;
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let mock = MockOp::spawn(mock_config()).await;
    with_sid(&mock, "op-session-7");
    let options = Options {
        provider_extra: "backchannel_logout = true".into(),
        store_extra: format!(
            "backend = \"redis\"\nredis_url = \"{}\"\nencryption_keys = [\"{}\"]\n",
            redis.url(),
            idp_bridge::store::seal::generate("k1").expect("key")
        ),
        ..Options::mock()
    };
    let (first, second) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{first}");
    let config = config_toml(&public, &mock.issuer(), &emulator, &options);
    // The real binary, twice: the login on one instance, the logout on the other.
    let one = Served::start(first, &config).await;
    let other = Served::start(second, &config).await;

    let client = browser();
    let start = format!("{public}/v1/auth/{PROVIDER}/start?success={SUCCESS}&failure={FAILURE}");
    let to_idp = location(&client.get(&start).send().await.expect("start"));
    let answer = mock.authorize(to_idp.as_str(), "alice").expect("authorize");
    let callback = Url::parse(&answer.redirect_to).expect("callback");
    let landed = location(&client.get(callback).send().await.expect("callback"));
    let user_id = param(&landed, "userId").expect("userId");
    let (status, body) = create_session(
        &emulator,
        &user_id,
        &param(&landed, "secret").expect("secret"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // One session record, under a hash, sealed: Redis holds neither the sid nor the subject.
    let dump = redis.dump().await;
    let records: Vec<&(String, Vec<u8>)> = dump
        .iter()
        .filter(|(key, _)| key.starts_with("idp-bridge:sid:"))
        .collect();
    assert_eq!(
        records.len(),
        1,
        "{:?}",
        dump.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    let (key, value) = records[0];
    for secret in ["op-session-7", "alice"] {
        assert!(!key.contains(secret), "{key}");
        assert!(
            !value.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the record holds {secret} in the clear"
        );
    }

    let gateway = format!("http://127.0.0.1:{second}");
    let by_sid = signed_by(
        &mock,
        json!({"sub": null, "sid": "op-session-7"}),
        &Behavior::default(),
    );
    assert_ok(&post_to(&gateway, PROVIDER, &[("logout_token", &by_sid)]).await);
    assert_eq!(emulator.sessions_of(&user_id), 0);

    // Redis away: the jti cannot be spent, so nothing is done and the provider hears 503.
    redis.kill();
    let token = signed_by(&mock, json!({}), &Behavior::default());
    assert_unavailable(&post_to(&gateway, PROVIDER, &[("logout_token", &token)]).await);
    let other_logs = other.stop().await;
    // Each logout leaves one audit event on the instance that decided it, valid against the
    // published schema: the identity the recorded sid named and its user, then the outage.
    let schema = crate::audit::AuditSchema::load();
    let logouts = crate::audit::logged_events(&other_logs);
    for event in &logouts {
        schema.check(event);
    }
    assert_eq!(logouts.len(), 2, "{logouts:?}");
    assert_eq!(
        (
            &logouts[0]["event"],
            &logouts[0]["outcome"],
            &logouts[0]["subject"],
            &logouts[0]["user_id"]
        ),
        (
            &json!("logout"),
            &json!("success"),
            &json!("alice"),
            &json!(user_id)
        ),
        "{logouts:?}"
    );
    assert_eq!(
        (&logouts[1]["outcome"], &logouts[1]["error_type"]),
        (&json!("failure"), &json!("logout_unavailable")),
        "{logouts:?}"
    );
    let logs = one.stop().await + &other_logs;
    assert!(!logs.contains("op-session-7"), "a sid reached the log");
    crate::helpers::assert_no_jwt_in(&logs);
}
