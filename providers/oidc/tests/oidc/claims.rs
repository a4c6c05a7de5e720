//! Claims of ID tokens from the token endpoint, for what the conformance rows do not cover:
//! other spellings of a claim, the leeway and age settings, the accepting side of a check, the
//! algorithms other than RS256. The claim verdicts themselves (wrong or missing `iss`, `aud`,
//! `azp`, `iat`, `exp`, `nbf`, `sub`, `nonce`, `at_hash`) live in
//! `tests/integration/conformance/` (`basic_rp` and `jwt_attacks`, rp-conformance.md sections
//! 2.1 and 4 #8-#15, #18, #25), each through a full login; each test here names the row it
//! complements. Bad signatures and headers are in `signature`.

use mock_op::Behavior;
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

/// An `iss` that is not even a URL fails as malformed, before the issuer comparison. The wrong
/// issuers are `basic_rp::oidcc_client_test_invalid_iss` (issuer + "1"),
/// `basic_rp::oidcc_client_test_invalid_iss_legacy` and `jwt_attacks::r13_iss_trailing_slash`.
#[tokio::test]
async fn iss_that_is_not_a_url_is_malformed() {
    assert_eq!(
        claims_case(json!({ "iss": "not a url" })).await,
        "id_token_malformed"
    );
}

/// No row removes `iss`.
#[tokio::test]
async fn missing_iss() {
    // Without `iss` the claims do not even deserialize.
    assert_eq!(
        claims_case(json!({ "iss": null })).await,
        "id_token_malformed"
    );
}

/// `aud` as an array that lacks the client id. The string form is
/// `basic_rp::oidcc_client_test_invalid_aud` and `jwt_attacks::r15_another_apps_id_token`.
#[tokio::test]
async fn aud_as_an_array_without_the_client_id() {
    assert_eq!(
        claims_case(json!({ "aud": ["https://example.com/"] })).await,
        "id_token_audience_mismatch"
    );
}

/// The accepting side of §4 #12: several trusted audiences with `azp` = our client id pass.
/// The rejects are `jwt_attacks::r12_*`.
#[tokio::test]
async fn several_trusted_audiences_with_our_azp_are_accepted() {
    let trusted = json!({ "trusted_audiences": ["other-app"] });
    let h = Harness::with(op_config(), trusted).await;
    h.patch_claims(json!({ "aud": ["gateway", "other-app"], "azp": "gateway" }));
    h.login("alice").await.expect("trusted audience with azp");
}

/// The default 30 s leeway's edge: just past it. An hour past `exp` is
/// `jwt_attacks::r08_expired`.
#[tokio::test]
async fn expired_just_past_the_leeway() {
    assert_eq!(
        claims_case(json!({ "exp": now() - 40 })).await,
        "id_token_expired"
    );
}

#[tokio::test]
async fn exp_within_the_leeway_is_accepted() {
    let h = Harness::new().await;
    h.patch_claims(json!({ "exp": now() - 5 }));
    h.login("alice").await.expect("5 s past exp, 30 s leeway");
}

/// `max_token_age_seconds` sets the allowed age, and the default lets a 5-minute-old token
/// through. The default refusing an hour-old token is `jwt_attacks::r10_iat_too_old`.
#[tokio::test]
async fn max_token_age_seconds_bounds_iat() {
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

/// A non-numeric `nbf` is malformed and a past one is fine. An `nbf` in the future is
/// `jwt_attacks::r09_nbf_in_the_future`.
#[tokio::test]
async fn nbf_not_a_number_is_malformed_and_a_past_nbf_is_fine() {
    assert_eq!(
        claims_case(json!({ "nbf": "soon" })).await,
        "id_token_malformed"
    );
    let h = Harness::new().await;
    h.patch_claims(json!({ "nbf": now() - 10 }));
    h.login("alice").await.expect("nbf in the past is fine");
}

/// `at_hash` is computed with the hash of the token's algorithm: right and wrong for each
/// algorithm but RS256, whose wrong `at_hash` is `jwt_attacks::r25_at_hash_wrong` (and whose
/// right one every accepted login shows).
#[tokio::test]
async fn at_hash_is_checked_for_the_algs_other_than_rs256() {
    use mock_op::SigningAlg;
    for alg in [
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

/// §4 #15 with a logout token's real shape: an `events` claim and, by definition, no nonce; it
/// fails the nonce binding. `jwt_attacks::r15_logout_token_events_claim` covers one that
/// carries the right nonce (`id_token_type_invalid`).
#[tokio::test]
async fn a_logout_token_without_nonce_fails_the_nonce_binding() {
    let r = claims_case(json!({
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        "nonce": null,
    }))
    .await;
    assert_eq!(r, "id_token_nonce_mismatch");
}
