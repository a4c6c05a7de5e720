//! Config RP certification plan (`oidcc-client-config-certification-test-plan`): discovery,
//! keys from the discovered `jwks_uri`, the discovery issuer check, signing-key rotation.
//! (`oidcc-client-test-idtoken-sig-none` is in both plans: `basic_rp`.)

use mock_op::{Behavior, MockOp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Extra, Rig, obj};
use crate::helpers::{FAILURE, PROVIDER, error_of, location, mock_config, without_query};

/// `oidcc-client-test-discovery-openid-config`: metadata from
/// `.well-known/openid-configuration`, loaded once, and its endpoints used.
#[tokio::test]
async fn oidcc_client_test_discovery_openid_config() {
    let rig = Rig::new().await;
    let pending = rig.begin(PROVIDER, "alice").await;
    let authorization_endpoint = format!("{}/authorize", rig.mock().base_url());
    assert!(
        pending.to_idp.as_str().starts_with(&authorization_endpoint),
        "{}",
        pending.to_idp
    );
    let callback = rig.authorize(&pending, "alice");
    let attempt = rig.finish(pending, callback).await;
    rig.assert_accepted(&attempt).await;
    let c = rig.mock().counters();
    assert_eq!(c.discovery, 1, "metadata is loaded once: {c:?}");
    assert_eq!((c.jwks, c.token), (1, 1), "{c:?}");
}

/// `oidcc-client-test-discovery-jwks-uri-keys`: the `jwks_uri` gets a random suffix and here
/// even another host; keys are fetched only from it, never from a guessed `{issuer}/jwks`.
#[tokio::test]
async fn oidcc_client_test_discovery_jwks_uri_keys() {
    // The same fixed test keys, served by another server.
    let key_host = MockOp::spawn(mock_config()).await;
    let jwks_uri = format!("{}/jwks/{}", key_host.base_url(), uuid::Uuid::new_v4());
    let moved = Extra::spawn(
        "moved",
        |_| {},
        Behavior {
            discovery_patch: obj(json!({ "jwks_uri": jwks_uri })),
            ..Default::default()
        },
    )
    .await;
    let rig = Rig::with("", vec![moved]).await;
    let attempt = rig.login_at("moved", "alice").await;
    rig.assert_accepted(&attempt).await;
    assert_eq!(
        rig.op("moved").counters().jwks,
        0,
        "no JWKS fetch at a guessed URL"
    );
    assert_eq!(
        key_host.counters().jwks,
        1,
        "keys from the discovered jwks_uri"
    );
}

/// `oidcc-client-test-discovery-issuer-mismatch`: the metadata names issuer + "INVALID".
/// The configuration is rejected: no login starts (the OP never sees an authorization
/// request), no key is fetched, and readiness reports the provider as failing.
#[tokio::test]
async fn oidcc_client_test_discovery_issuer_mismatch() {
    let liar = Extra::spawn("liar", |_| {}, Behavior::default()).await;
    let published = format!("{}INVALID", liar.op.issuer());
    liar.op.set_behavior(Behavior {
        discovery_issuer: Some(published),
        ..Default::default()
    });
    let rig = Rig::with("", vec![liar]).await;
    rig.app.emulator.clear_calls();
    let response = rig.start("liar", "alice").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let landed = location(&response);
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "provider_misconfigured");
    let c = rig.op("liar").counters();
    assert_eq!(
        (c.authorize, c.jwks, c.token, c.userinfo),
        (0, 0, 0, 0),
        "{c:?}"
    );
    assert!(rig.app.emulator.calls().is_empty());
    assert!(rig.app.emulator.tokens().is_empty());

    // The lying provider is reported as not ready; the instance stays in service for corp.
    let ready = rig.app.get(&format!("{}/readyz", rig.app.gateway)).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.expect("json");
    assert_ne!(body["checks"]["provider:liar"], "ok", "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["provider:corp"], "ok", "{body}");
    rig.assert_logs_clean(&[]);
}

/// `oidcc-client-test-signing-key-rotation`: after the first login the OP rotates its keys;
/// the second login's unknown `kid` costs one JWKS refetch and is accepted.
#[tokio::test]
async fn oidcc_client_test_signing_key_rotation() {
    let rig = Rig::new().await;
    let first = rig.login().await;
    rig.assert_accepted(&first).await;
    let before = rig.mock().counters().jwks;
    rig.mock().rotate_keys();
    let second = rig.login().await;
    rig.assert_accepted(&second).await;
    assert_eq!(rig.mock().counters().jwks, before + 1, "one refetch");
    let third = rig.login().await;
    rig.assert_accepted(&third).await;
    assert_eq!(rig.mock().counters().jwks, before + 1, "new keys cached");
}

/// `oidcc-client-test-signing-key-rotation-just-before-signing`: the keys loaded at startup
/// are stale before the first ID token is signed; the refetch guard does not block the first
/// refetch.
#[tokio::test]
async fn oidcc_client_test_signing_key_rotation_just_before_signing() {
    let rig = Rig::new().await;
    assert_eq!(rig.mock().counters().jwks, 1, "keys loaded at startup");
    rig.mock().rotate_keys();
    let attempt = rig.login().await;
    rig.assert_accepted(&attempt).await;
    assert_eq!(rig.mock().counters().jwks, 2);
}

/// Issue 6, item 5: while the JWKS endpoint fails, the last good keys keep verifying logins,
/// but only for `jwks_max_stale_seconds` after the last successful fetch. Past it the login is
/// refused as `provider_unavailable` and nothing is minted.
#[tokio::test]
async fn stale_keys_stop_verifying_after_jwks_max_stale_seconds() {
    let rig = Rig::with(
        "jwks_max_stale_seconds = 2\njwks_refetch_interval_seconds = 1",
        Vec::new(),
    )
    .await;
    // The keys were loaded at startup, before this instant.
    let loaded = std::time::Instant::now();
    assert_eq!(rig.mock().counters().jwks, 1, "keys loaded at startup");
    let broken = || Behavior {
        jwks_override: Some(Value::String("garbage".into())),
        ..Default::default()
    };
    // A token with an unknown kid forces a refetch, which fails: stale keys from now on.
    let attempt = rig
        .login_scripted(|_, _| Behavior {
            header_patch: obj(json!({ "kid": "unknown" })),
            ..broken()
        })
        .await;
    rig.assert_rejected(&attempt, "id_token_unknown_key");
    assert_eq!(
        rig.mock().counters().jwks,
        2,
        "the forced refetch was tried"
    );
    // Within the bound: the stale keys verify.
    let attempt = rig.login_scripted(|_, _| broken()).await;
    rig.assert_accepted(&attempt).await;
    assert!(
        loaded.elapsed() < std::time::Duration::from_secs(2),
        "the test ran too slowly to be within the bound"
    );
    // Past the bound: refused, nothing minted.
    tokio::time::sleep(std::time::Duration::from_millis(2200).saturating_sub(loaded.elapsed()))
        .await;
    let attempt = rig.login_scripted(|_, _| broken()).await;
    rig.assert_rejected(&attempt, "provider_unavailable");
    // The endpoint recovers: the next login fetches fresh keys.
    let attempt = rig.login_scripted(|_, _| Behavior::default()).await;
    rig.assert_accepted(&attempt).await;
}
