//! The code flow end to end: happy path, signature algorithms, client authentication and
//! RFC 9207 (rp-conformance.md sections 2.2, 2.4). The attack verdicts of section 4 #1-#3, #16
//! and #20 live in `tests/integration/conformance/jwt_attacks.rs`, each through a full login;
//! the tests here that touch them name the row they complement. Discovery is in `discovery`.

use idp_provider_api::{AuthorizationRequest, ProviderError, RedirectFlow, Secret};
use mock_op::{AuthMethod, Behavior, MockOpConfig, SigningAlg};
use serde_json::json;
use url::Url;

use crate::support::{Harness, Iss, REDIRECT, op_config};

#[tokio::test]
async fn happy_path_gives_a_verified_identity() {
    let mut op_config = op_config();
    op_config.users[0]
        .extra
        .insert("groups".into(), json!(["admins", "staff"]));
    op_config.users[0]
        .extra
        .insert("tenant".into(), json!("acme"));
    let h = Harness::with(op_config, json!({})).await;
    h.ready().await;

    let id = h.login("alice").await.expect("alice logs in");
    assert_eq!(id.provider(), "corp");
    assert_eq!(id.issuer(), h.op.issuer());
    assert_eq!(id.subject(), "alice");
    assert_eq!(id.email(), Some("alice@example.test"));
    assert!(id.email_verified());
    assert_eq!(id.verified_email(), Some("alice@example.test"));
    assert_eq!(id.name(), Some("Alice"));
    assert_eq!(id.claims()["groups"], json!(["admins", "staff"]));
    assert_eq!(id.claims()["tenant"], json!("acme"));
    // Standard claims are typed fields, not "other" claims.
    for standard in ["iss", "sub", "aud", "email", "name", "nonce", "at_hash"] {
        assert!(
            !id.claims().contains_key(standard),
            "{standard} leaked into the extra claims: {:?}",
            id.claims()
        );
    }

    let c = h.op.counters();
    assert_eq!((c.discovery, c.jwks, c.token), (1, 1, 1), "{c:?}");
    h.assert_no_userinfo();
}

#[tokio::test]
async fn unverified_email_stays_unverified() {
    let h = Harness::new().await;
    let id = h.login("bob").await.expect("bob logs in");
    assert_eq!(id.subject(), "bob");
    assert_eq!(id.email(), Some("bob@example.test"));
    assert!(!id.email_verified());
    assert_eq!(id.verified_email(), None);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_state_nonce_and_scopes() {
    let h = Harness::new().await;
    let redirect_uri = Url::parse(REDIRECT).unwrap();
    let state = Secret::new("st".to_string());
    let extra = vec!["groups".to_string(), "email".to_string()];
    let authorization = h
        .provider
        .authorization_url(AuthorizationRequest {
            redirect_uri: &redirect_uri,
            state: &state,
            extra_scopes: &extra,
            login_hint: Some("alice"),
            max_age: None,
        })
        .await
        .unwrap();
    let url = &authorization.url;
    assert!(
        url.as_str()
            .starts_with(&format!("{}/authorize?", h.op.base_url()))
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "gateway");
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert_eq!(q["scope"], "openid email profile groups");
    assert_eq!(q["state"], "st");
    assert!(q["nonce"].len() >= 22, "a fresh nonce of at least 128 bits");
    assert_eq!(q["code_challenge"].len(), 43, "an S256 challenge");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["login_hint"], "alice");
    // The nonce and the verifier travel in the opaque login data, which never prints.
    assert!(authorization.data.expose().contains(q["nonce"].as_str()));
    assert!(!format!("{:?}", authorization.data).contains(q["nonce"].as_str()));
}

#[tokio::test]
async fn a_requested_scope_that_is_no_scope_token_is_refused_before_any_network_call() {
    let h = Harness::new().await;
    let redirect_uri = Url::parse(REDIRECT).unwrap();
    let state = Secret::new("st".to_string());
    let discoveries = h.op.counters().discovery;
    for bad in ["with\"quote", "back\\slash", "caf\u{e9}"] {
        let result = h
            .provider
            .authorization_url(AuthorizationRequest {
                redirect_uri: &redirect_uri,
                state: &state,
                extra_scopes: &[bad.to_string()],
                login_hint: None,
                max_age: None,
            })
            .await;
        assert!(
            matches!(
                result,
                Err(ProviderError::InvalidRequest {
                    param: "scopes",
                    ..
                })
            ),
            "{bad:?}: {result:?}"
        );
    }
    assert_eq!(
        h.op.counters().discovery,
        discoveries,
        "no discovery for a bad request"
    );
}

// ---------------------------------------------------------------- algorithms

async fn login_with_alg(alg: SigningAlg, allowed: &[&str]) -> Result<(), &'static str> {
    let h = Harness::with(op_config(), json!({ "allowed_algs": allowed })).await;
    h.behave(Behavior {
        alg: Some(alg),
        ..Default::default()
    });
    let result = h.login("alice").await;
    h.assert_no_userinfo();
    match result {
        Ok(id) => {
            assert_eq!(id.subject(), "alice");
            Ok(())
        }
        Err(ProviderError::Rejected(r)) => Err(r.reason),
        Err(other) => panic!("{alg:?}: unexpected {other:?}"),
    }
}

#[tokio::test]
async fn each_asymmetric_alg_is_accepted_when_listed() {
    for (alg, name) in [
        (SigningAlg::RS256, "RS256"),
        (SigningAlg::PS256, "PS256"),
        (SigningAlg::ES256, "ES256"),
        (SigningAlg::EdDSA, "EdDSA"),
    ] {
        assert_eq!(login_with_alg(alg, &[name]).await, Ok(()), "{name} alone");
        assert_eq!(
            login_with_alg(alg, &["RS256", "PS256", "ES256", "EdDSA"]).await,
            Ok(()),
            "{name} among others"
        );
    }
}

/// The allow-list in both directions and across key types. A genuine PS256 token when PS256 is
/// not listed is `jwt_attacks::r03_ps256_not_allowed`.
#[tokio::test]
async fn an_alg_not_listed_is_rejected() {
    let cases = [
        (SigningAlg::ES256, &["RS256"][..]),
        (SigningAlg::RS256, &["ES256"][..]),
        (SigningAlg::EdDSA, &["RS256", "ES256"][..]),
        (SigningAlg::RS256, &["PS256"][..]),
    ];
    for (alg, allowed) in cases {
        assert_eq!(
            login_with_alg(alg, allowed).await,
            Err("id_token_alg_not_allowed"),
            "{alg:?} with {allowed:?}"
        );
    }
}

/// HS256 keyed with the client secret, refused unless listed and then accepted alone or beside
/// RS256. The attacks on it are `jwt_attacks::r02_*` (the RSA public key as HMAC key) and
/// `jwt_attacks::r24_short_hmac_secret_*`.
#[tokio::test]
async fn hs256_only_when_listed() {
    assert_eq!(
        login_with_alg(SigningAlg::HS256, &["RS256"]).await,
        Err("id_token_alg_not_allowed")
    );
    // Keyed with the client secret (mock-op's default for HS256).
    assert_eq!(login_with_alg(SigningAlg::HS256, &["HS256"]).await, Ok(()));
    assert_eq!(
        login_with_alg(SigningAlg::HS256, &["RS256", "HS256"]).await,
        Ok(())
    );
}

/// §4 #1 with a symmetric algorithm allowed: `none` cannot even be configured, so no
/// allow-list lets it through, not even one with HS256 (whose key is no public key). The rows
/// `jwt_attacks::r01_alg_none` and `r01_alg_none_other_spellings` use the RS256/ES256 list.
#[tokio::test]
async fn alg_none_is_rejected_even_with_hs256_allowed() {
    let reason = login_with_alg(SigningAlg::None, &["RS256", "HS256"]).await;
    assert_eq!(reason, Err("id_token_alg_not_allowed"));
}

/// The provider's side of `jwt_attacks::r24_short_hmac_secret_refused_at_config`: `open_oidc`
/// reports the short secret as one problem, named by its key, without any network call.
#[tokio::test]
async fn hs256_needs_a_long_enough_client_secret() {
    // mock-op's stock secret is 31 bytes: too short to key HS256, refused at open (offline).
    let op = mock_op::MockOp::spawn(MockOpConfig::default()).await;
    let config = crate::support::provider_config(&op, json!({ "allowed_algs": ["HS256"] }));
    let err = idp_provider_oidc::open_oidc(
        idp_provider_api::ProviderInfo {
            id: "corp".into(),
            kind: "oidc",
            display_name: "Corp".into(),
        },
        config,
    )
    .err()
    .expect("short secret refused");
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].key, "providers.corp.client_secret");
    assert_eq!(op.counters().discovery, 0, "checked without the network");
}

// ---------------------------------------------------------------- client authentication

async fn auth_method_case(op_method: AuthMethod, ours: &str) -> Result<(), &'static str> {
    let op_config = MockOpConfig {
        auth_method: op_method,
        ..op_config()
    };
    let h = Harness::with(op_config, json!({ "token_endpoint_auth_method": ours })).await;
    let result = h.login("alice").await;
    h.assert_no_userinfo();
    assert_eq!(h.op.counters().token, 1);
    match result {
        Ok(_) => Ok(()),
        Err(ProviderError::Rejected(r)) => Err(r.reason),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn client_secret_basic_and_post() {
    assert_eq!(
        auth_method_case(AuthMethod::Basic, "client_secret_basic").await,
        Ok(())
    );
    assert_eq!(
        auth_method_case(AuthMethod::Post, "client_secret_post").await,
        Ok(())
    );
    assert_eq!(
        auth_method_case(AuthMethod::Any, "client_secret_basic").await,
        Ok(())
    );
    assert_eq!(
        auth_method_case(AuthMethod::Any, "client_secret_post").await,
        Ok(())
    );
}

#[tokio::test]
async fn the_wrong_client_auth_method_is_refused() {
    assert_eq!(
        auth_method_case(AuthMethod::Basic, "client_secret_post").await,
        Err("token_exchange_refused")
    );
    assert_eq!(
        auth_method_case(AuthMethod::Post, "client_secret_basic").await,
        Err("token_exchange_refused")
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let h = Harness::with(op_config(), json!({ "client_secret": "not-the-secret" })).await;
    assert_eq!(h.rejection("alice").await, "token_exchange_refused");
}

#[tokio::test]
async fn a_token_error_is_refused_and_a_missing_id_token_is_invalid() {
    let h = Harness::new().await;
    h.behave(Behavior {
        token_error: Some((400, "invalid_grant".into())),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "token_exchange_refused");
    h.behave(Behavior {
        token_response_patch: crate::support::obj(json!({ "id_token": null })),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "token_response_invalid");
}

// ---------------------------------------------------------------- RFC 9207

/// §4 #16 with a near miss: the issuer with a trailing slash, refused before the code is
/// redeemed. Another provider's issuer, and a missing `iss` when announced, are
/// `jwt_attacks::r16_authorization_response_from_another_issuer` and
/// `jwt_attacks::r16_authorization_response_without_iss`.
#[tokio::test]
async fn authorization_response_iss_with_a_trailing_slash_is_a_mismatch() {
    let h = Harness::new().await;
    let result = h
        .login_with("alice", Iss::Value(format!("{}/", h.op.issuer())))
        .await;
    assert_eq!(
        crate::support::reason(result),
        "authorization_response_issuer_mismatch"
    );
    assert_eq!(
        h.op.counters().token,
        0,
        "checked before the code is redeemed"
    );
    h.assert_no_userinfo();
}

/// Not announced, `iss` may be absent, but a wrong one is still refused: no row covers a
/// provider that does not announce RFC 9207.
#[tokio::test]
async fn authorization_response_iss_is_optional_when_not_announced() {
    let h = Harness::new().await;
    h.behave(Behavior {
        omit_authorize_iss: true,
        discovery_patch: crate::support::obj(
            json!({ "authorization_response_iss_parameter_supported": null }),
        ),
        ..Default::default()
    });
    let id = h.login("alice").await.expect("no iss, none announced");
    assert_eq!(id.subject(), "alice");
    // But a wrong one is still refused.
    h.behave(Behavior {
        authorize_iss: Some("https://evil.example".into()),
        discovery_patch: crate::support::obj(
            json!({ "authorization_response_iss_parameter_supported": null }),
        ),
        ..Default::default()
    });
    assert_eq!(
        h.rejection("alice").await,
        "authorization_response_issuer_mismatch"
    );
}
