//! Back-channel logout tokens (`backchannel_logout = true`): signed by mock-op with its keys (or
//! misbehaving), handed to the provider's `verify_logout` as the gateway's route does. Every
//! rule of the spec's "Logout Token Validation" has a row that breaks it alone.

use std::time::{Duration, SystemTime};

use idp_provider_api::{Provider, ProviderError, Secret, VerifiedLogout};
use mock_op::{Behavior, SigningAlg};
use serde_json::{Value, json};

use crate::support::{Harness, now, obj, op_config, reason};

/// The member of `events` a logout token carries.
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

async fn enabled() -> Harness {
    Harness::with(op_config(), json!({"backchannel_logout": true})).await
}

/// A valid logout token's claims for alice's session `s-1`, with `patch` applied (`null`
/// removes a claim).
fn claims(harness: &Harness, patch: Value) -> Value {
    let mut claims = json!({
        "iss": harness.op.issuer(),
        "aud": harness.op.config().client_id,
        "iat": now(),
        "exp": now() + 120,
        "jti": format!("jti-{}", rand_suffix()),
        "sub": "alice",
        "sid": "s-1",
        "events": { EVENT: {} },
    });
    for (key, value) in obj(patch) {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(&key);
        } else {
            claims[key] = value;
        }
    }
    claims
}

fn rand_suffix() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
}

/// A logout token signed by the harness's OP, claims patched, header and signing as `behavior`.
fn token(harness: &Harness, patch: Value, behavior: Behavior) -> String {
    harness.op.sign_id_token(&claims(harness, patch), &behavior)
}

async fn verify(harness: &Harness, raw: &str) -> Result<VerifiedLogout, ProviderError> {
    let provider: &dyn Provider = harness.provider.as_ref();
    provider
        .backchannel_logout()
        .expect("backchannel_logout = true gives the capability")
        .verify_logout(&Secret::new(raw.to_string()))
        .await
}

fn header(patch: Value) -> Behavior {
    Behavior {
        header_patch: obj(patch),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_valid_token_names_the_identity_and_its_session() {
    let harness = enabled().await;
    let raw = token(&harness, json!({}), header(json!({"typ": "logout+jwt"})));
    let logout = verify(&harness, &raw).await.expect("valid");
    assert_eq!(logout.issuer(), harness.op.issuer());
    assert_eq!(logout.subject(), Some("alice"));
    assert_eq!(logout.session_id(), Some("s-1"));
    // Remembered until its exp (120 s) plus the 30 s leeway.
    let until = logout
        .replay_until()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    assert!((until - (now() + 151)).abs() <= 3, "{until}");

    // A plain JWT `typ`, no `typ`, no `exp`, only a `sid` or only a `sub`: all valid.
    for (patch, behavior) in [
        (json!({}), header(json!({"typ": "JWT"}))),
        (json!({}), header(json!({"typ": null}))),
        (json!({"exp": null}), Behavior::default()),
        (json!({"sub": null}), Behavior::default()),
        (json!({"sid": null}), Behavior::default()),
    ] {
        let raw = token(&harness, patch.clone(), behavior);
        verify(&harness, &raw)
            .await
            .unwrap_or_else(|e| panic!("{patch}: {e}"));
    }
    let sid_only = verify(
        &harness,
        &token(&harness, json!({"sub": null}), Behavior::default()),
    )
    .await
    .expect("sid only");
    assert_eq!(
        (sid_only.subject(), sid_only.session_id()),
        (None, Some("s-1"))
    );
}

#[tokio::test]
async fn every_logout_rule_refuses_on_its_own() {
    let harness = enabled().await;
    let cases: Vec<(&str, Value, Behavior, &str)> = vec![
        (
            "forged signature",
            json!({}),
            Behavior {
                corrupt_signature: true,
                ..Default::default()
            },
            "logout_token_signature_invalid",
        ),
        (
            "unknown key",
            json!({}),
            header(json!({"kid": "not-a-key-of-this-op"})),
            "logout_token_unknown_key",
        ),
        (
            "wrong iss",
            json!({"iss": "https://example.org/"}),
            Behavior::default(),
            "logout_token_issuer_mismatch",
        ),
        (
            "iss with a trailing slash",
            json!({"iss": format!("{}/", harness.op.issuer())}),
            Behavior::default(),
            "logout_token_issuer_mismatch",
        ),
        (
            "no iss",
            json!({"iss": null}),
            Behavior::default(),
            "logout_token_issuer_mismatch",
        ),
        (
            "wrong aud",
            json!({"aud": "gateway1"}),
            Behavior::default(),
            "logout_token_audience_mismatch",
        ),
        (
            "untrusted extra aud",
            json!({"aud": ["gateway", "other-app"]}),
            Behavior::default(),
            "logout_token_audience_mismatch",
        ),
        (
            "no aud",
            json!({"aud": null}),
            Behavior::default(),
            "logout_token_audience_mismatch",
        ),
        (
            "iat too old",
            json!({"iat": now() - 3600, "exp": now() + 60}),
            Behavior::default(),
            "logout_token_too_old",
        ),
        (
            "iat in the future",
            json!({"iat": now() + 3600, "exp": now() + 4000}),
            Behavior::default(),
            "logout_token_issued_in_future",
        ),
        (
            "no iat",
            json!({"iat": null}),
            Behavior::default(),
            "logout_token_malformed",
        ),
        (
            "exp past",
            json!({"iat": now() - 300, "exp": now() - 120}),
            Behavior::default(),
            "logout_token_expired",
        ),
        (
            "nbf in the future",
            json!({"nbf": now() + 600}),
            Behavior::default(),
            "logout_token_not_yet_valid",
        ),
        (
            "nonce present",
            json!({"nonce": "n-1"}),
            Behavior::default(),
            "logout_token_nonce_present",
        ),
        (
            "events missing",
            json!({"events": null}),
            Behavior::default(),
            "logout_token_events_invalid",
        ),
        (
            "events without the logout member",
            json!({"events": {"http://schemas.openid.net/event/other": {}}}),
            Behavior::default(),
            "logout_token_events_invalid",
        ),
        (
            "events as the 2016 draft's array",
            json!({"events": [EVENT]}),
            Behavior::default(),
            "logout_token_events_invalid",
        ),
        (
            "neither sub nor sid",
            json!({"sub": null, "sid": null}),
            Behavior::default(),
            "logout_token_subject_missing",
        ),
        (
            "jti missing",
            json!({"jti": null}),
            Behavior::default(),
            "logout_token_jti_missing",
        ),
        (
            "empty sub",
            json!({"sub": ""}),
            Behavior::default(),
            "logout_token_claim_invalid",
        ),
        (
            "alg not allowed (HS256 keyed with the client secret)",
            json!({}),
            Behavior {
                alg: Some(SigningAlg::HS256),
                ..Default::default()
            },
            "logout_token_alg_not_allowed",
        ),
        (
            "alg none",
            json!({}),
            Behavior {
                alg: Some(SigningAlg::None),
                ..Default::default()
            },
            "logout_token_alg_not_allowed",
        ),
        (
            "an access token's typ",
            json!({}),
            header(json!({"typ": "at+jwt"})),
            "logout_token_header_unsupported",
        ),
        (
            "crit",
            json!({}),
            header(json!({"crit": ["exp"]})),
            "logout_token_header_unsupported",
        ),
    ];
    for (case, patch, behavior, want) in cases {
        let raw = token(&harness, patch, behavior);
        match verify(&harness, &raw).await {
            Err(ProviderError::Rejected(rejection)) => {
                assert_eq!(rejection.reason, want, "{case}: {}", rejection.detail);
            }
            other => panic!("{case}: expected {want}, got {other:?}"),
        }
    }
    // Not a JWS at all.
    for raw in ["", "a.b", "a.b.c.d", "not-base64!.e30.AA"] {
        assert_eq!(
            reason(verify(&harness, raw).await),
            "logout_token_malformed",
            "{raw:?}"
        );
    }
    assert_eq!(
        reason(verify(&harness, &"a".repeat(17 * 1024)).await),
        "logout_token_too_large"
    );
}

#[tokio::test]
async fn an_id_token_is_no_logout_token() {
    let harness = enabled().await;
    // What the OP signs at login: a nonce and no events.
    let id_token = harness.op.sign_id_token(
        &harness.op.id_token_claims("alice", "n-1"),
        &Behavior::default(),
    );
    assert_eq!(
        reason(verify(&harness, &id_token).await),
        "logout_token_events_invalid"
    );
}

#[tokio::test]
async fn the_replay_key_is_the_jti_whatever_else_differs() {
    let harness = enabled().await;
    let key = |patch: Value| {
        let raw = token(&harness, patch, Behavior::default());
        let harness = &harness;
        async move { verify(harness, &raw).await.expect("valid").replay_key() }
    };
    let first = key(json!({"jti": "j-1"})).await;
    // Another token (other iat, other signature) with the same jti is the same use.
    assert_eq!(first, key(json!({"jti": "j-1", "iat": now() - 5})).await);
    assert_ne!(first, key(json!({"jti": "j-2"})).await);
}

#[tokio::test]
async fn without_the_opt_in_there_is_no_logout_and_no_session_to_remember() {
    let harness = Harness::with(op_config(), json!({})).await;
    let provider: &dyn Provider = harness.provider.as_ref();
    assert!(provider.backchannel_logout().is_none());

    let harness = enabled().await;
    harness.patch_claims(json!({"sid": "s-9"}));
    let identity = harness.login("alice").await.expect("login");
    let provider: &dyn Provider = harness.provider.as_ref();
    let flow = provider.backchannel_logout().expect("enabled");
    assert_eq!(flow.session_id(&identity).as_deref(), Some("s-9"));
    assert_eq!(flow.session_lifetime(), Duration::from_secs(604_800));
    harness.patch_claims(json!({}));
    let identity = harness.login("alice").await.expect("login");
    assert_eq!(flow.session_id(&identity), None, "no sid in the ID token");
}

#[tokio::test]
async fn with_an_extra_trusted_audience_azp_must_be_the_client_id_as_for_an_id_token() {
    let harness = Harness::with(
        op_config(),
        json!({"backchannel_logout": true, "trusted_audiences": ["other-app"]}),
    )
    .await;
    let ours = harness.op.config().client_id.clone();
    let both = json!(["other-app", ours]);
    for (case, patch) in [
        ("no azp", json!({"aud": both})),
        (
            "azp of the other audience",
            json!({"aud": both, "azp": "other-app"}),
        ),
        ("azp of another client", json!({"azp": "other-app"})),
    ] {
        let raw = token(&harness, patch, Behavior::default());
        assert_eq!(
            reason(verify(&harness, &raw).await),
            "logout_token_azp_mismatch",
            "{case}"
        );
    }
    let raw = token(
        &harness,
        json!({"aud": both, "azp": ours}),
        Behavior::default(),
    );
    verify(&harness, &raw).await.expect("azp is the client id");
}
