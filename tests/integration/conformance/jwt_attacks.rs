//! The 26 classic JWT attacks of rp-conformance.md section 4, one or more tests per row
//! (`rNN_...`, NN = the row number), each through a full login. This file is the one home of
//! these verdicts: the oidc provider crate's tests (`providers/oidc/tests/oidc/`) do not repeat
//! them and keep only what a row does not cover (other algorithms, other spellings, settings,
//! the provider's API), naming the row they complement.

use data_encoding::{BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD};
use mock_op::{Behavior, MockOp, SigningAlg};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    Extra, Rig, accept_row, alg, b64, claims, client_id, header, long_secret, now, obj, reject_row,
    reject_token, segments,
};
use crate::helpers::{FAILURE, Options, PROVIDER, error_of, location, mock_config, without_query};

/// The standard claims of alice's ID token for `nonce`, as `op` issues them.
fn alice(op: &MockOp, nonce: &str) -> Value {
    op.id_token_claims("alice", nonce)
}

/// An "attacker" OP: the fixed test keys rotated once, so its signing key (`rsa-2`, the second
/// RSA key) is not in corp's JWKS.
async fn attacker() -> MockOp {
    let op = MockOp::spawn(mock_config()).await;
    op.rotate_keys();
    op
}

// ---------------------------------------------------------------- 1. alg none

reject_rows! {
    r01_alg_none: ("", |_, _| alg(SigningAlg::None)) => "id_token_alg_not_allowed";
}

/// `None`, `NONE`, `nOnE`: not JWS algorithms at all (matched case-sensitively), so the header
/// does not parse.
#[tokio::test]
async fn r01_alg_none_other_spellings() {
    let rig = Rig::new().await;
    for spelling in ["None", "NONE", "nOnE"] {
        let attempt = rig
            .login_scripted(|_, _| Behavior {
                alg: Some(SigningAlg::None),
                header_patch: obj(json!({ "alg": spelling })),
                ..Default::default()
            })
            .await;
        rig.assert_rejected(&attempt, "id_token_malformed");
    }
}

reject_rows! {
    /// An RS256 header with an empty signature segment.
    r01_empty_signature: ("", |_, _| Behavior {
        signature_override: Some(String::new()),
        ..Default::default()
    }) => "id_token_signature_invalid";
}

// ---------------------------------------------------------------- 2. algorithm confusion

reject_rows! {
    /// HS256 keyed with the provider's RSA public key (PEM) when HS256 is not allowed.
    r02_hs256_with_rsa_public_key_not_allowed: ("", |op, _| Behavior {
        alg: Some(SigningAlg::HS256),
        hmac_key: Some(op.rsa_public_key_pem().into_bytes()),
        ..Default::default()
    }) => "id_token_alg_not_allowed";
}

/// Even with HS256 allowed, only the client secret keys it: HS256 keyed with the RSA public key
/// as PEM, or as JWK JSON, fails the signature check.
#[tokio::test]
async fn r02_hs256_with_rsa_public_key_even_when_hs256_allowed() {
    let hs = Extra::spawn("hs", long_secret, Behavior::default())
        .await
        .lines(r#"allowed_algs = ["RS256", "HS256"]"#);
    let rig = Rig::with("", vec![hs]).await;
    let op = rig.op("hs");
    let jwk = op.jwks()["keys"][0].to_string();
    for key in [op.rsa_public_key_pem(), jwk] {
        op.set_behavior(Behavior {
            alg: Some(SigningAlg::HS256),
            hmac_key: Some(key.into_bytes()),
            ..Default::default()
        });
        let attempt = rig.login_at("hs", "alice").await;
        rig.assert_rejected(&attempt, "id_token_signature_invalid");
    }
}

// ---------------------------------------------------------------- 3. cross-family substitution

reject_rows! {
    /// An RS256 signature presented as ES256 under the RSA key's `kid`: no EC key has that kid.
    r03_rsa_signature_presented_as_es256:
        ("", |_, _| header(json!({ "alg": "ES256" }))) => "id_token_unknown_key";

    /// An ES256 signature presented as RS256 under the EC key's `kid`.
    r03_ec_key_with_rsa_alg: ("", |_, _| Behavior {
        alg: Some(SigningAlg::ES256),
        header_patch: obj(json!({ "alg": "RS256" })),
        ..Default::default()
    }) => "id_token_unknown_key";

    /// A genuine PS256 token (same RSA key) when only RS256 and ES256 are allowed.
    r03_ps256_not_allowed: ("", |_, _| alg(SigningAlg::PS256)) => "id_token_alg_not_allowed";
}

// ---------------------------------------------------------------- 4. kid injection

#[tokio::test]
async fn r04_kid_injection() {
    let rig = Rig::new().await;
    for kid in [
        "../../../../dev/null".to_string(),
        "' OR 1=1 --".to_string(),
        "https://attacker.example/key".to_string(),
        "k".repeat(10 * 1024),
    ] {
        let attempt = rig
            .login_scripted(|_, _| header(json!({ "kid": kid })))
            .await;
        rig.assert_rejected(&attempt, "id_token_unknown_key");
    }
}

// ---------------------------------------------------------------- 5. unknown-kid flood

/// 20 logins with random `kid`s within one minimum interval: each is rejected, and together
/// they cost at most one JWKS refetch. A genuine token is still accepted from the cache.
#[tokio::test]
async fn r05_unknown_kid_flood() {
    let rig = Rig::with("jwks_refetch_interval_seconds = 60", Vec::new()).await;
    let before = rig.mock().counters().jwks;
    assert_eq!(before, 1, "keys loaded at startup");
    for _ in 0..20 {
        let kid = uuid::Uuid::new_v4().to_string();
        let attempt = rig
            .login_scripted(|_, _| header(json!({ "kid": kid })))
            .await;
        rig.assert_rejected(&attempt, "id_token_unknown_key");
    }
    let fetched = rig.mock().counters().jwks - before;
    assert!(fetched <= 1, "{fetched} JWKS fetches for 20 unknown kids");
    let genuine = rig.login_scripted(|_, _| Behavior::default()).await;
    rig.assert_accepted(&genuine).await;
    assert_eq!(
        rig.mock().counters().jwks - before,
        fetched,
        "served from the cache"
    );
}

// ---------------------------------------------------------------- 6. jku / x5u

/// A token signed by the attacker's key, with `jku`/`x5u` pointing at the attacker's JWKS: the
/// headers are never dereferenced and the key is unknown.
#[tokio::test]
async fn r06_jku_x5u_to_attacker_keys() {
    let evil = attacker().await;
    let evil_jwks = format!("{}/jwks", evil.base_url());
    let rig = Rig::new().await;
    let attempt = rig
        .login_with_token(|op, nonce| {
            evil.sign_id_token(
                &alice(op, nonce),
                &header(json!({ "jku": evil_jwks, "x5u": evil_jwks })),
            )
        })
        .await;
    rig.assert_rejected(&attempt, "id_token_unknown_key");
    assert_eq!(evil.counters().jwks, 0, "jku/x5u were fetched");
}

/// The same headers on a token the provider really signed are ignored: accepted, and the
/// attacker's URL is still never fetched.
#[tokio::test]
async fn r06_jku_on_a_genuine_token_is_ignored() {
    let evil = attacker().await;
    let evil_jwks = format!("{}/jwks", evil.base_url());
    accept_row("", |_, _| {
        header(json!({ "jku": evil_jwks, "x5u": evil_jwks }))
    })
    .await;
    assert_eq!(evil.counters().jwks, 0, "jku/x5u were fetched");
}

// ---------------------------------------------------------------- 7. embedded jwk / x5c

/// Self-signed: the attacker's public key embedded as `jwk`, under its own `kid`.
#[tokio::test]
async fn r07_embedded_jwk_with_its_kid() {
    let evil = attacker().await;
    let jwk = evil.jwks()["keys"][0].clone();
    reject_token(
        |op, nonce| evil.sign_id_token(&alice(op, nonce), &header(json!({ "jwk": jwk }))),
        "id_token_unknown_key",
    )
    .await;
}

/// Self-signed with an embedded `jwk` and no `kid`: verified with the provider's one RS256 key,
/// which did not sign it.
#[tokio::test]
async fn r07_embedded_jwk_without_kid() {
    let evil = attacker().await;
    let jwk = evil.jwks()["keys"][0].clone();
    reject_token(
        |op, nonce| {
            evil.sign_id_token(
                &alice(op, nonce),
                &Behavior {
                    omit_kid: true,
                    header_patch: obj(json!({ "jwk": jwk })),
                    ..Default::default()
                },
            )
        },
        "id_token_signature_invalid",
    )
    .await;
}

/// Self-signed with an `x5c` chain and no `kid`.
#[tokio::test]
async fn r07_embedded_x5c_chain() {
    let evil = attacker().await;
    reject_token(
        |op, nonce| {
            evil.sign_id_token(
                &alice(op, nonce),
                &Behavior {
                    omit_kid: true,
                    header_patch: obj(json!({ "x5c": ["MIIBszCCAVmgAwIBAgIUQ29uZm9ybWFuY2U="] })),
                    ..Default::default()
                },
            )
        },
        "id_token_signature_invalid",
    )
    .await;
}

// ---------------------------------------------------------------- 8. exp

reject_rows! {
    r08_expired: ("", |_, _| {
        let t = now();
        claims(json!({ "exp": t - 3600, "iat": t - 3900 }))
    }) => "id_token_expired";

    r08_exp_missing: ("", |_, _| claims(json!({ "exp": null }))) => "id_token_malformed";

    r08_exp_not_numeric: ("", |_, _| claims(json!({ "exp": "tomorrow" }))) => "id_token_malformed";
}

// ---------------------------------------------------------------- 9. nbf

reject_rows! {
    r09_nbf_in_the_future:
        ("", |_, _| claims(json!({ "nbf": now() + 3600 }))) => "id_token_not_yet_valid";
}

// ---------------------------------------------------------------- 10. iat

reject_rows! {
    r10_iat_missing: ("", |_, _| claims(json!({ "iat": null }))) => "id_token_malformed";

    r10_iat_in_the_future: ("", |_, _| {
        let t = now();
        claims(json!({ "iat": t + 3600, "exp": t + 7200 }))
    }) => "id_token_issued_in_future";

    /// An hour old (the default maximum age is 10 minutes), though not expired.
    r10_iat_too_old: ("", |_, _| {
        let t = now();
        claims(json!({ "iat": t - 3600, "exp": t + 300 }))
    }) => "id_token_too_old";
}

// ---------------------------------------------------------------- 11. azp never replaces aud

reject_rows! {
    r11_wrong_aud_with_our_azp:
        ("", |_, _| claims(json!({ "aud": "other-app", "azp": client_id() })))
        => "id_token_audience_mismatch";
}

// ---------------------------------------------------------------- 12. several audiences, azp

const TRUSTED: &str = r#"trusted_audiences = ["other-app"]"#;

reject_rows! {
    r12_untrusted_extra_audience:
        ("", |_, _| claims(json!({ "aud": [client_id(), "other-app"], "azp": client_id() })))
        => "id_token_audience_mismatch";

    r12_several_audiences_without_azp:
        (TRUSTED, |_, _| claims(json!({ "aud": [client_id(), "other-app"] })))
        => "id_token_azp_mismatch";

    r12_several_audiences_azp_not_us:
        (TRUSTED, |_, _| claims(json!({ "aud": [client_id(), "other-app"], "azp": "other-app" })))
        => "id_token_azp_mismatch";

    r12_azp_not_us: ("", |_, _| claims(json!({ "azp": "other-app" }))) => "id_token_azp_mismatch";
}

// ---------------------------------------------------------------- 13. issuer trailing slash

reject_rows! {
    /// At token time: `iss` with a trailing slash the issuer does not have.
    r13_iss_trailing_slash:
        ("", |op, _| claims(json!({ "iss": format!("{}/", op.issuer()) })))
        => "id_token_issuer_mismatch";
}

/// At configuration time: the configured issuer has a slash the discovered one lacks. The
/// gateway does not normalise: the provider is misconfigured and no login starts.
#[tokio::test]
async fn r13_configured_issuer_trailing_slash() {
    let slash = Extra::spawn("slash", |_| {}, Behavior::default()).await;
    let configured = format!("{}/", slash.op.issuer());
    let slash = slash.issuer(&configured);
    let rig = Rig::with("", vec![slash]).await;
    rig.app.emulator.clear_calls();
    let response = rig.start("slash", "alice").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let landed = location(&response);
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "provider_misconfigured");
    assert_eq!(rig.op("slash").counters().authorize, 0);
    assert!(rig.app.emulator.calls().is_empty());
    rig.assert_logs_clean(&[]);
}

// ---------------------------------------------------------------- 14. crit

#[tokio::test]
async fn r14_crit_header() {
    let rig = Rig::new().await;
    for patch in [
        json!({ "crit": ["exp"], "exp": 0 }),
        json!({ "crit": ["https://attacker.example/ext"], "https://attacker.example/ext": true }),
    ] {
        let attempt = rig
            .login_scripted(|_, _| Behavior {
                header_patch: obj(patch),
                ..Default::default()
            })
            .await;
        rig.assert_rejected(&attempt, "id_token_header_unsupported");
    }
}

// ---------------------------------------------------------------- 15. token-type confusion

reject_rows! {
    /// An access token (`typ: at+jwt`) presented as an ID token.
    r15_access_token_typ:
        ("", |_, _| header(json!({ "typ": "at+jwt" }))) => "id_token_header_unsupported";
}

/// A logout token (an `events` claim) presented as an ID token, even with the right nonce and
/// a plain `typ`. The reason's name is not fixed yet; any `id_token_*` reject passes.
#[tokio::test]
async fn r15_logout_token_events_claim() {
    let rig = Rig::new().await;
    let attempt = rig
        .login_scripted(|_, _| {
            claims(json!({
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
                "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
            }))
        })
        .await;
    rig.assert_rejected_where(&attempt, "id_token_type_invalid", |t| {
        t == "id_token_type_invalid"
    });
}

reject_rows! {
    /// Another app's ID token (its client id as `aud`) replayed to us.
    r15_another_apps_id_token:
        ("", |_, _| claims(json!({ "aud": "another-app", "azp": "another-app" })))
        => "id_token_audience_mismatch";
}

// ---------------------------------------------------------------- 16. mix-up

/// Two providers, corp and `other`, each with its own OP.
async fn two_providers() -> Rig {
    let other = Extra::spawn("other", |_| {}, Behavior::default()).await;
    Rig::with("", vec![other]).await
}

/// A login started at corp, its callback delivered to other's callback URL.
#[tokio::test]
async fn r16_callback_at_another_provider() {
    let rig = two_providers().await;
    let pending = rig.begin(PROVIDER, "alice").await;
    let callback = rig.authorize(&pending, "alice");
    let moved = callback
        .as_str()
        .replace("/v1/auth/corp/callback", "/v1/auth/other/callback");
    assert_ne!(moved, callback.as_str());
    let attempt = rig
        .finish(pending, url::Url::parse(&moved).expect("url"))
        .await;
    rig.assert_rejected(&attempt, "login_provider_mismatch");
    for op in rig.ops() {
        assert_eq!(op.counters().token, 0, "no code was exchanged");
    }
}

/// RFC 9207: corp's authorization response names other's issuer.
#[tokio::test]
async fn r16_authorization_response_from_another_issuer() {
    let rig = two_providers().await;
    let other_issuer = rig.op("other").issuer();
    let attempt = rig
        .login_scripted(|_, _| Behavior {
            authorize_iss: Some(other_issuer),
            ..Default::default()
        })
        .await;
    rig.assert_rejected(&attempt, "authorization_response_issuer_mismatch");
    assert_eq!(rig.mock().counters().token, 0, "no code was exchanged");
}

/// RFC 9207: corp announces `iss` in authorization responses but this one has none.
#[tokio::test]
async fn r16_authorization_response_without_iss() {
    let rig = Rig::new().await;
    let attempt = rig
        .login_scripted(|_, _| Behavior {
            omit_authorize_iss: true,
            ..Default::default()
        })
        .await;
    rig.assert_rejected(&attempt, "authorization_response_issuer_missing");
    assert_eq!(rig.mock().counters().token, 0, "no code was exchanged");
}

/// An ID token that other's OP issued (same test keys, so the signature verifies), delivered
/// by corp's token endpoint: only `iss` tells them apart.
#[tokio::test]
async fn r16_id_token_from_another_provider() {
    let rig = two_providers().await;
    let other = rig.op("other");
    let attempt = rig
        .login_with_token(|_, nonce| {
            other.sign_id_token(&alice(other, nonce), &Behavior::default())
        })
        .await;
    rig.assert_rejected(&attempt, "id_token_issuer_mismatch");
}

// ---------------------------------------------------------------- 17. replay

/// A used `state`: the transaction is gone, so there is no trusted failure URL: a 400 page,
/// no redirect, nothing minted.
#[tokio::test]
async fn r17_replayed_state() {
    let rig = Rig::new().await;
    let pending = rig.begin(PROVIDER, "alice").await;
    let callback = rig.authorize(&pending, "alice");
    let attempt = rig.finish(pending, callback.clone()).await;
    rig.assert_accepted(&attempt).await;
    rig.app.emulator.clear_calls();
    let replay = rig.app.get(callback.as_str()).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.headers().get("location").is_none());
    assert!(rig.app.emulator.calls().is_empty());
    assert_eq!(
        rig.app.emulator.tokens().len(),
        1,
        "the replay minted nothing"
    );
    assert_eq!(
        rig.mock().counters().token,
        1,
        "the code was not sent again"
    );
    let code = attempt.code.clone().expect("the accepted login had a code");
    rig.assert_logs_clean(&[("authorization code", code)]);
}

/// A used authorization code, delivered with a fresh `state`: the OP refuses it.
#[tokio::test]
async fn r17_replayed_code() {
    let rig = Rig::new().await;
    let first = rig.login().await;
    rig.assert_accepted(&first).await;
    let pending = rig.begin(PROVIDER, "alice").await;
    let mut callback = rig.authorize(&pending, "alice");
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code" {
                first.code.clone().expect("the accepted login had a code")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    callback.query_pairs_mut().clear().extend_pairs(pairs);
    let attempt = rig.finish(pending, callback).await;
    rig.assert_rejected(&attempt, "token_exchange_refused");
}

/// An ID token bound to an earlier login's nonce.
#[tokio::test]
async fn r17_replayed_nonce() {
    let rig = Rig::new().await;
    let first = rig.login().await;
    rig.assert_accepted(&first).await;
    let old_nonce = first.nonce.clone();
    let attempt = rig
        .login_scripted(|_, _| claims(json!({ "nonce": old_nonce })))
        .await;
    rig.assert_rejected(&attempt, "id_token_nonce_mismatch");
}

// ---------------------------------------------------------------- 18. sub

reject_rows! {
    r18_sub_missing: ("", |_, _| claims(json!({ "sub": null }))) => "id_token_malformed";

    r18_sub_empty: ("", |_, _| claims(json!({ "sub": "" }))) => "id_token_subject_invalid";

    r18_sub_not_a_string: ("", |_, _| claims(json!({ "sub": 42 }))) => "id_token_malformed";

    r18_sub_longer_than_255:
        ("", |_, _| claims(json!({ "sub": "a".repeat(256) }))) => "id_token_subject_invalid";

    r18_sub_with_control_characters:
        ("", |_, _| claims(json!({ "sub": "al\nice" }))) => "id_token_subject_invalid";
}

// ---------------------------------------------------------------- 19. email syntax

/// A verified email the gateway must refuse before any allow-list or linking decision.
async fn bad_email(email: &str) {
    reject_row(
        "",
        |_, _| claims(json!({ "email": email, "email_verified": true })),
        "email_invalid",
    )
    .await;
}

#[tokio::test]
async fn r19_email_with_several_at_signs() {
    bad_email("alice@evil.example@example.test").await;
}

#[tokio::test]
async fn r19_email_with_whitespace() {
    bad_email("alice @example.test").await;
}

#[tokio::test]
async fn r19_email_with_control_characters() {
    bad_email("alice\u{0}@example.test").await;
}

/// `exаmple.test` with a Cyrillic `а` (U+0430): a valid IDN, so the login works, but the
/// address is normalised to its distinct `xn--` form and can never equal `example.test`
/// (linking by email with a look-alike is covered in `linking.rs`).
#[tokio::test]
async fn r19_email_with_lookalike_domain() {
    // Trusted for email, so that the address is written where the test can read it.
    let (rig, user_id) = accept_row("trusted_for_email = true", |_, _| {
        claims(json!({ "email": "alice@ex\u{430}mple.test" }))
    })
    .await;
    let user = rig.app.emulator.user(&user_id).expect("user");
    let email = user["email"].as_str().unwrap_or_default();
    assert!(
        email.ends_with("@xn--exmple-4nf.test"),
        "stored as its IDNA form: {email}"
    );
}

// ---------------------------------------------------------------- 20. email_verified

/// Row 20 at a provider trusted for email, which writes a verified email (as
/// `basic_rp::oidcc_client_test` shows for alice): an email left out proves it counted as
/// unverified.
const TRUSTED_FOR_EMAIL: &str = "trusted_for_email = true";

/// No `email_verified`: the login works, the email counts as unverified (not written).
#[tokio::test]
async fn r20_email_verified_absent() {
    let (rig, user_id) = accept_row(TRUSTED_FOR_EMAIL, |_, _| {
        claims(json!({ "email_verified": null }))
    })
    .await;
    let user = rig.app.emulator.user(&user_id).expect("user");
    assert_eq!(user["email"], "", "an unverified email is not written");
}

/// `email_verified: "true"` (a string, Cognito style): the login works, unverified.
#[tokio::test]
async fn r20_email_verified_as_string() {
    let (rig, user_id) = accept_row(TRUSTED_FOR_EMAIL, |_, _| {
        claims(json!({ "email_verified": "true" }))
    })
    .await;
    let user = rig.app.emulator.user(&user_id).expect("user");
    assert_eq!(user["email"], "", "an unverified email is not written");
}

// ---------------------------------------------------------------- 21. malformed JOSE

/// A token correctly RS256-signed with corp's current key, over its header (base64url of
/// `{"alg":"RS256","kid":"rsa-1","typ":"JWT"}`) and exactly `payload_segment` as given.
fn raw_token(op: &MockOp, payload_segment: &str) -> String {
    let header = json!({ "alg": "RS256", "kid": "rsa-1", "typ": "JWT" });
    let header_segment = b64(header.to_string().as_bytes());
    op.sign_raw(
        &format!("{header_segment}.{payload_segment}"),
        &Behavior::default(),
    )
}

/// base64url with `=` padding (the signature covers the padded text).
#[tokio::test]
async fn r21_padded_base64url() {
    reject_token(
        |op, nonce| {
            let mut claims = alice(op, nonce);
            let mut encoded = BASE64URL.encode(claims.to_string().as_bytes());
            while !encoded.ends_with('=') {
                let pad = claims["pad"].as_str().unwrap_or_default().to_string() + "x";
                claims["pad"] = pad.into();
                encoded = BASE64URL.encode(claims.to_string().as_bytes());
            }
            raw_token(op, &encoded)
        },
        "id_token_malformed",
    )
    .await;
}

/// The standard base64 alphabet (`+` and `/`) instead of base64url.
#[tokio::test]
async fn r21_standard_base64_alphabet() {
    reject_token(
        |op, nonce| {
            let mut claims = alice(op, nonce);
            claims["q"] = "??????>>>>>>".into();
            let encoded = BASE64_NOPAD.encode(claims.to_string().as_bytes());
            assert!(encoded.contains('/') && encoded.contains('+'), "{encoded}");
            raw_token(op, &encoded)
        },
        "id_token_malformed",
    )
    .await;
}

/// Duplicate JSON keys: `sub` twice, correctly signed.
#[tokio::test]
async fn r21_duplicate_json_keys() {
    reject_token(
        |op, nonce| {
            let json = alice(op, nonce).to_string();
            let payload = format!("{{\"sub\":\"mallory\",{}", &json[1..]);
            assert_eq!(payload.matches("\"sub\"").count(), 2, "{payload}");
            raw_token(op, &b64(payload.as_bytes()))
        },
        "id_token_malformed",
    )
    .await;
}

/// A fourth segment after a valid token.
#[tokio::test]
async fn r21_more_than_three_segments() {
    reject_token(
        |op, nonce| op.sign_id_token(&alice(op, nonce), &Behavior::default()) + ".e30",
        "id_token_malformed",
    )
    .await;
}

/// A (nested) JWE: five segments.
#[tokio::test]
async fn r21_nested_jwe() {
    reject_token(
        |_, _| {
            let protected = json!({ "alg": "RSA-OAEP", "enc": "A256GCM", "cty": "JWT" });
            format!(
                "{}.{}.{}.{}.{}",
                b64(protected.to_string().as_bytes()),
                b64(&[7; 256]),
                b64(&[1; 12]),
                b64(b"ciphertext"),
                b64(&[2; 16])
            )
        },
        "id_token_malformed",
    )
    .await;
}

/// A genuine signature whose last base64url character has non-zero spare bits: the same bytes
/// to a lenient decoder, another spelling of the token to anyone keying on its text.
#[tokio::test]
async fn r21_signature_with_spare_bits_set() {
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        reject_token(
            |op, nonce| {
                let token = op.sign_id_token(
                    &alice(op, nonce),
                    &Behavior {
                        alg: Some(alg),
                        ..Default::default()
                    },
                );
                mock_op::spellings::spare_bit_spellings(&token)[0].clone()
            },
            "id_token_malformed",
        )
        .await;
    }
}

reject_rows! {
    /// `cty: JWT` (a nested token) on a signed token.
    r21_cty_jwt: ("", |_, _| header(json!({ "cty": "JWT" }))) => "id_token_header_unsupported";

    /// `zip: DEF` (compression, a JWE-only member) on a signed token.
    r21_zip_header: ("", |_, _| header(json!({ "zip": "DEF" }))) => "id_token_header_unsupported";
}

// ---------------------------------------------------------------- 22. size and depth

reject_rows! {
    r22_oversized_token:
        ("", |_, _| claims(json!({ "padding": "x".repeat(17 * 1024) }))) => "id_token_too_large";
}

/// 5000 nested arrays: under the size limit, over any sane JSON depth.
#[tokio::test]
async fn r22_deeply_nested_json() {
    reject_token(
        |op, nonce| {
            let json = alice(op, nonce).to_string();
            let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
            let payload = format!("{{\"deep\":{deep},{}", &json[1..]);
            let token = raw_token(op, &b64(payload.as_bytes()));
            assert!(token.len() < 16 * 1024, "{} bytes", token.len());
            token
        },
        "id_token_malformed",
    )
    .await;
}

// ---------------------------------------------------------------- 23. ECDSA signatures

/// An ES256 token of corp's for `nonce`, and a function of its raw `r || s` signature.
fn es256_with_signature(op: &MockOp, nonce: &str, forge: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let token = op.sign_id_token(
        &alice(op, nonce),
        &Behavior {
            alg: Some(SigningAlg::ES256),
            ..Default::default()
        },
    );
    let (h, p, s) = segments(&token);
    let raw = BASE64URL_NOPAD.decode(s.as_bytes()).expect("signature");
    assert_eq!(raw.len(), 64);
    format!("{h}.{p}.{}", b64(&forge(&raw)))
}

/// CVE-2022-21449, "psychic signature": r = s = 0.
#[tokio::test]
async fn r23_psychic_signature() {
    reject_token(
        |op, nonce| es256_with_signature(op, nonce, |_| vec![0; 64]),
        "id_token_signature_invalid",
    )
    .await;
}

/// A valid signature in ASN.1 DER instead of JOSE's fixed `r || s`.
#[tokio::test]
async fn r23_der_encoded_signature() {
    reject_token(
        |op, nonce| es256_with_signature(op, nonce, der),
        "id_token_signature_invalid",
    )
    .await;
}

/// A valid signature made high-S (s' = n - s). Accepted on purpose: JOSE (RFC 7518 section
/// 3.4) does not require low-S, ordinary signers (OpenSSL, most HSMs) produce high-S for about
/// half their signatures, and the malleated form proves the same thing (only the key holder can
/// make either). Rejecting it would refuse genuine ES256 tokens; it is not a forgery.
#[tokio::test]
async fn r23_high_s_signature_is_not_a_forgery() {
    use mock_op::spellings::{is_high_s, negate_s};
    let rig = Rig::new().await;
    let attempt = rig
        .login_with_token(|op, nonce| {
            let token = es256_with_signature(op, nonce, <[u8]>::to_vec);
            let high = if is_high_s(&token) {
                token
            } else {
                negate_s(&token)
            };
            assert!(is_high_s(&high));
            high
        })
        .await;
    rig.assert_accepted(&attempt).await;
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of a raw `r || s`.
fn der(raw: &[u8]) -> Vec<u8> {
    let int = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut value = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            Vec::new()
        };
        value.extend(trimmed);
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

// ---------------------------------------------------------------- 24. weak keys

reject_rows! {
    /// A 1024-bit RSA key in the JWKS, signing the token: the key must be refused, so its `kid`
    /// matches nothing usable.
    r24_weak_rsa_key_in_jwks: ("", |_, _| Behavior {
        weak_rsa_key: true,
        ..Default::default()
    }) => "id_token_unknown_key";
}

/// A provider `short` whose client secret is the tests' shared one (31 bytes, shorter than the
/// 32 an HS256 key needs), with `allowed_algs` as given, and whose OP signs ID tokens with HS256
/// keyed by that secret.
async fn short_secret_provider(allowed_algs: &str) -> Extra {
    let secret = mock_config().client_secret;
    assert!(secret.len() < 32, "the shared test secret is short");
    Extra::spawn(
        "short",
        |_| {},
        Behavior {
            alg: Some(SigningAlg::HS256),
            ..Default::default()
        },
    )
    .await
    .lines(&format!("allowed_algs = {allowed_algs}"))
}

/// The gateway configuration with the corp provider and `extra`, checked as the binary does.
async fn load_config(extra: &Extra) -> Result<idp_bridge::config::Config, String> {
    let emulator = appwrite_emulator::Emulator::spawn(Default::default()).await;
    let options = Options {
        provider_extra: format!("{}\n{}", super::CORP_ALGS, extra.table()),
        ..Options::mock()
    };
    let toml = crate::helpers::config_toml(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &emulator,
        &options,
    );
    idp_bridge::config::Config::from_toml(&toml).map_err(|e| e.to_string())
}

/// Row 24, refused at configuration: HS256 allowed with a 31-byte client secret. The
/// configuration is refused, naming the secret's key; the gateway never starts.
#[tokio::test]
async fn r24_short_hmac_secret_refused_at_config() {
    let short = short_secret_provider(r#"["RS256", "HS256"]"#).await;
    let error = load_config(&short)
        .await
        .expect_err("HS256 with a 31-byte secret must be refused when the configuration loads");
    assert!(
        error.contains("providers.short.client_secret") && error.contains("at least 32 bytes"),
        "refused, but not for the short secret: {error}"
    );
}

/// Row 24, refused at verification: the same 31-byte secret is a valid client secret when no
/// HS* algorithm is allowed, so the configuration loads; the OP then signs the ID token with
/// HS256 keyed by that short secret. The token is refused (`id_token_alg_not_allowed`): a short
/// secret never becomes an HMAC key.
#[tokio::test]
async fn r24_short_hmac_secret_refused_at_verify() {
    let short = short_secret_provider(r#"["RS256"]"#).await;
    if let Err(error) = load_config(&short).await {
        panic!("without HS* in allowed_algs the short secret must be accepted: {error}");
    }
    let rig = Rig::with("", vec![short]).await;
    let attempt = rig.login_at("short", "alice").await;
    rig.assert_rejected(&attempt, "id_token_alg_not_allowed");
    assert_eq!(
        rig.op("short").counters().token,
        1,
        "the code was exchanged: the token reached verification"
    );
}

// ---------------------------------------------------------------- 25. at_hash

reject_rows! {
    /// rp-id_token-bad-at_hash: `at_hash` present but not the access token's.
    r25_at_hash_wrong:
        ("", |_, _| claims(json!({ "at_hash": "AAAAAAAAAAAAAAAAAAAAAA" })))
        => "id_token_at_hash_mismatch";
}

// ---------------------------------------------------------------- 26. userinfo sub

/// rp-userinfo-bad-sub-claim: userinfo answers with another `sub`. The gateway takes the
/// identity from the verified ID token only and never calls userinfo, so this cannot steer it.
#[tokio::test]
async fn r26_userinfo_sub_mismatch() {
    // Trusted for email, so that the address taken is written where the test can read it.
    let (rig, user_id) = accept_row("trusted_for_email = true", |_, _| Behavior {
        userinfo_sub: Some("mallory".into()),
        userinfo_patch: obj(json!({ "email": "mallory@example.test", "email_verified": true })),
        ..Default::default()
    })
    .await;
    let user = rig.app.emulator.user(&user_id).expect("user");
    assert_eq!(user["email"], "alice@example.test");
    assert_eq!(rig.mock().counters().userinfo, 0);
}
