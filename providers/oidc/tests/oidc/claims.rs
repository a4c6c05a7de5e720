//! Bad ID tokens from the token endpoint: each rejected with its own reason, and never followed
//! by a userinfo call (rp-conformance.md section 2.1, section 4 #8-#15, #18, #22, #25). Bad
//! signatures and headers are in `signature`.

use mock_op::{Behavior, MockOpConfig};
use serde_json::{Value, json};

use crate::support::{Harness, expect_rejection, now, obj, op_config};

/// Logs alice in with `claims` patched into the ID token and returns the rejection reason.
async fn claims_case(claims: Value) -> &'static str {
    claims_case_with(claims, json!({})).await
}

async fn claims_case_with(claims: Value, config: Value) -> &'static str {
    let h = Harness::with(op_config(), config).await;
    h.patch_claims(claims);
    h.rejection("alice").await
}

#[tokio::test]
async fn wrong_iss() {
    // The conformance suite appends "1" to the issuer; with a bare `http://127.0.0.1:PORT`
    // issuer that makes an invalid port, so use an issuer with a path.
    let op_config = MockOpConfig {
        issuer_suffix: "/realms/corp".into(),
        ..op_config()
    };
    let h = Harness::with(op_config, json!({})).await;
    h.patch_claims(json!({ "iss": format!("{}1", h.op.issuer()) }));
    assert_eq!(h.rejection("alice").await, "id_token_issuer_mismatch");
    // A string that is not even a URL fails earlier.
    h.patch_claims(json!({ "iss": "not a url" }));
    assert_eq!(h.rejection("alice").await, "id_token_malformed");
    h.patch_claims(json!({ "iss": "https://example.org/" }));
    assert_eq!(h.rejection("alice").await, "id_token_issuer_mismatch");
    h.patch_claims(json!({ "iss": format!("{}/", h.op.issuer()) }));
    assert_eq!(h.rejection("alice").await, "id_token_issuer_mismatch");
}

#[tokio::test]
async fn missing_iss() {
    // Without `iss` the claims do not even deserialize.
    assert_eq!(
        claims_case(json!({ "iss": null })).await,
        "id_token_malformed"
    );
}

#[tokio::test]
async fn wrong_aud() {
    assert_eq!(
        claims_case(json!({ "aud": "gateway1" })).await,
        "id_token_audience_mismatch"
    );
    assert_eq!(
        claims_case(json!({ "aud": ["https://example.com/"] })).await,
        "id_token_audience_mismatch"
    );
}

#[tokio::test]
async fn missing_aud() {
    assert_eq!(
        claims_case(json!({ "aud": null })).await,
        "id_token_audience_mismatch"
    );
}

#[tokio::test]
async fn wrong_aud_with_our_azp() {
    // §4 #11: azp never stands in for aud.
    assert_eq!(
        claims_case(json!({ "aud": "other-app", "azp": "gateway" })).await,
        "id_token_audience_mismatch"
    );
}

#[tokio::test]
async fn untrusted_extra_audience() {
    assert_eq!(
        claims_case(json!({ "aud": ["gateway", "other-app"], "azp": "gateway" })).await,
        "id_token_audience_mismatch"
    );
}

#[tokio::test]
async fn several_audiences_need_azp() {
    let trusted = json!({ "trusted_audiences": ["other-app"] });
    assert_eq!(
        claims_case_with(json!({ "aud": ["gateway", "other-app"] }), trusted.clone()).await,
        "id_token_azp_mismatch"
    );
    // With azp = client_id the same token passes.
    let h = Harness::with(op_config(), trusted).await;
    h.patch_claims(json!({ "aud": ["gateway", "other-app"], "azp": "gateway" }));
    h.login("alice").await.expect("trusted audience with azp");
}

#[tokio::test]
async fn azp_mismatch() {
    assert_eq!(
        claims_case(json!({ "azp": "other-app" })).await,
        "id_token_azp_mismatch"
    );
}

#[tokio::test]
async fn missing_iat() {
    // openidconnect's claims type requires `iat`.
    assert_eq!(
        claims_case(json!({ "iat": null })).await,
        "id_token_malformed"
    );
}

#[tokio::test]
async fn missing_sub() {
    assert_eq!(
        claims_case(json!({ "sub": null })).await,
        "id_token_malformed"
    );
}

#[tokio::test]
async fn bad_sub() {
    // §4 #18: empty, too long, control characters, non-string.
    for sub in [json!(""), json!("a".repeat(256)), json!("al\nice")] {
        assert_eq!(
            claims_case(json!({ "sub": sub })).await,
            "id_token_subject_invalid",
            "{sub}"
        );
    }
    assert_eq!(
        claims_case(json!({ "sub": 42 })).await,
        "id_token_malformed"
    );
}

#[tokio::test]
async fn nonce_mismatch() {
    assert_eq!(
        claims_case(json!({ "nonce": "012345678" })).await,
        "id_token_nonce_mismatch"
    );
}

#[tokio::test]
async fn missing_nonce() {
    assert_eq!(
        claims_case(json!({ "nonce": null })).await,
        "id_token_nonce_mismatch"
    );
}

#[tokio::test]
async fn expired() {
    let t = now();
    assert_eq!(
        claims_case(json!({ "exp": t - 3600, "iat": t - 3900 })).await,
        "id_token_expired"
    );
    // Just past the 30 s default leeway.
    assert_eq!(
        claims_case(json!({ "exp": t - 40 })).await,
        "id_token_expired"
    );
}

#[tokio::test]
async fn exp_within_the_leeway_is_accepted() {
    let h = Harness::new().await;
    h.patch_claims(json!({ "exp": now() - 5 }));
    h.login("alice").await.expect("5 s past exp, 30 s leeway");
}

#[tokio::test]
async fn missing_or_non_numeric_exp() {
    assert_eq!(
        claims_case(json!({ "exp": null })).await,
        "id_token_malformed"
    );
    assert_eq!(
        claims_case(json!({ "exp": "tomorrow" })).await,
        "id_token_malformed"
    );
}

#[tokio::test]
async fn iat_in_the_future() {
    assert_eq!(
        claims_case(json!({ "iat": now() + 3600, "exp": now() + 7200 })).await,
        "id_token_issued_in_future"
    );
}

#[tokio::test]
async fn iat_too_old() {
    let t = now();
    assert_eq!(
        claims_case_with(
            json!({ "iat": t - 600 }),
            json!({ "max_token_age_seconds": 60 })
        )
        .await,
        "id_token_too_old"
    );
    // The default (600 s + 30 s leeway) lets a 5-minute-old token through.
    let h = Harness::new().await;
    h.patch_claims(json!({ "iat": t - 300 }));
    h.login("alice").await.expect("5 minutes old is fine");
}

#[tokio::test]
async fn nbf_in_the_future() {
    assert_eq!(
        claims_case(json!({ "nbf": now() + 3600 })).await,
        "id_token_not_yet_valid"
    );
    assert_eq!(
        claims_case(json!({ "nbf": "soon" })).await,
        "id_token_malformed"
    );
    let h = Harness::new().await;
    h.patch_claims(json!({ "nbf": now() - 10 }));
    h.login("alice").await.expect("nbf in the past is fine");
}

#[tokio::test]
async fn at_hash_wrong() {
    let h = Harness::new().await;
    h.patch_claims(json!({ "at_hash": "AAAAAAAAAAAAAAAAAAAAAA" }));
    assert_eq!(h.rejection("alice").await, "id_token_at_hash_mismatch");
}

#[tokio::test]
async fn at_hash_absent_is_fine_in_code_flow() {
    let h = Harness::new().await;
    h.patch_claims(json!({ "at_hash": null }));
    h.login("alice").await.expect("at_hash is optional");
}

#[tokio::test]
async fn at_hash_is_checked_for_every_alg() {
    use mock_op::SigningAlg;
    for alg in [
        SigningAlg::RS256,
        SigningAlg::PS256,
        SigningAlg::ES256,
        SigningAlg::EdDSA,
        SigningAlg::HS256,
    ] {
        let h = Harness::for_alg(alg).await;
        h.behave(Behavior {
            alg: Some(alg),
            ..Default::default()
        });
        h.login("alice").await.expect("right at_hash");
        expect_rejection(
            &h,
            Behavior {
                alg: Some(alg),
                claims_patch: obj(json!({ "at_hash": "AAAAAAAAAAAAAAAAAAAAAA" })),
                ..Default::default()
            },
            "id_token_at_hash_mismatch",
            alg,
        )
        .await;
    }
}

#[tokio::test]
async fn logout_token_shape_is_rejected() {
    // §4 #15: a logout token (an `events` claim and, by definition, no nonce) replayed as an
    // ID token fails the nonce binding.
    let r = claims_case(json!({
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        "nonce": null,
    }))
    .await;
    assert_eq!(r, "id_token_nonce_mismatch");
}
