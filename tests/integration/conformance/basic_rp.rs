//! Basic RP certification plan (`oidcc-client-basic-certification-test-plan`, code flow,
//! client_secret_basic), plus the other code-flow rows of rp-conformance.md sections 2.1 and
//! 2.2 that no plan requires (missing `aud`/`nonce`, ES256 and HS256, `at_hash` absent).
//! Test names follow the `oidcc-client-test-*` module names.

use mock_op::{Behavior, MockOp, SigningAlg};
use serde_json::{Value, json};

use super::{Extra, Rig, accept_row, alg, basic_only, claims, client_id, long_secret, reject_row};
use crate::helpers::{PROVIDER, param};

/// `oidcc-client-test` (rp-response_type-code): the happy path, and the shape of the request
/// (code flow, PKCE S256, state and nonce always, so rp-nonce-unless-code-flow holds too).
#[tokio::test]
async fn oidcc_client_test() {
    // Trusted for email: the verified address is written where the test can read it.
    let rig = Rig::with("trusted_for_email = true", Vec::new()).await;
    let pending = rig.begin(PROVIDER, "alice").await;
    let q = |name| param(&pending.to_idp, name);
    assert_eq!(q("response_type").as_deref(), Some("code"));
    assert_eq!(q("client_id").as_deref(), Some(client_id()));
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert!(q("code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(pending.state.len() >= 22 && pending.nonce.len() >= 22);
    let callback = rig.authorize(&pending, "alice");
    let attempt = rig.finish(pending, callback).await;
    let user_id = rig.assert_accepted(&attempt).await;
    let user = rig.app.emulator.user(&user_id).expect("user created");
    assert_eq!(user["email"], "alice@example.test");
    let c = rig.mock().counters();
    assert_eq!((c.discovery, c.token, c.userinfo), (1, 1, 0), "{c:?}");
}

/// `oidcc-client-test-invalid-iss`: `iss` = issuer + "1" (the current suite). An issuer with a
/// path, because "1" after a bare `host:port` issuer makes another port.
#[tokio::test]
async fn oidcc_client_test_invalid_iss() {
    let tenant = Extra::spawn(
        "tenant",
        |c| c.issuer_suffix = "/realms/corp".into(),
        Behavior::default(),
    )
    .await;
    let wrong = format!("{}1", tenant.op.issuer());
    tenant.op.set_behavior(claims(json!({ "iss": wrong })));
    let rig = Rig::with("", vec![tenant]).await;
    let attempt = rig.login_at("tenant", "alice").await;
    rig.assert_rejected(&attempt, "id_token_issuer_mismatch");
}

reject_rows! {
    /// rp-id_token-issuer-mismatch (legacy): `iss` = `https://example.org/`.
    oidcc_client_test_invalid_iss_legacy:
        ("", |_, _| claims(json!({ "iss": "https://example.org/" }))) => "id_token_issuer_mismatch";

    /// `oidcc-client-test-missing-sub`: `sub` is a required claim, so the claims do not parse.
    oidcc_client_test_missing_sub:
        ("", |_, _| claims(json!({ "sub": null }))) => "id_token_malformed";
}

/// `oidcc-client-test-invalid-aud`: `aud` = client_id + "1".
#[tokio::test]
async fn oidcc_client_test_invalid_aud() {
    let aud = format!("{}1", client_id());
    reject_row(
        "",
        |_, _| claims(json!({ "aud": aud })),
        "id_token_audience_mismatch",
    )
    .await;
}

reject_rows! {
    /// `oidcc-client-test-missing-aud`.
    oidcc_client_test_missing_aud:
        ("", |_, _| claims(json!({ "aud": null }))) => "id_token_audience_mismatch";

    /// `oidcc-client-test-missing-iat`: `iat` is a required claim, so the claims do not parse.
    oidcc_client_test_missing_iat:
        ("", |_, _| claims(json!({ "iat": null }))) => "id_token_malformed";
}

/// `oidcc-client-test-kid-absent-single-jwks`: no `kid` anywhere; one key of each type
/// (RSA for RS256, RSA for PS256, EC P-256, Ed25519): the one matching key is used.
#[tokio::test]
async fn oidcc_client_test_kid_absent_single_jwks() {
    let kidless = Extra::spawn(
        "kidless",
        |_| {},
        Behavior {
            omit_kid: true,
            jwks_omit_kid: true,
            ..Default::default()
        },
    )
    .await;
    let rig = Rig::with("", vec![kidless]).await;
    let jwks = rig.op("kidless").jwks();
    assert!(
        jwks["keys"]
            .as_array()
            .is_some_and(|keys| keys.iter().all(|k| k.get("kid").is_none()))
    );
    let attempt = rig.login_at("kidless", "alice").await;
    rig.assert_accepted(&attempt).await;
}

/// A token without `kid` verifies when the JWKS holds
/// exactly one key of its key type, whatever else the set holds. Here no key has `kid`, `alg`
/// or `use`: one RSA key, the P-256 and a P-384 key, the Ed25519 and an X25519 key. RS256,
/// ES256 and EdDSA tokens each have one candidate (the curve counts, not just `kty`).
#[tokio::test]
async fn kid_absent_one_key_per_type_without_alg() {
    let op = MockOp::spawn(crate::helpers::mock_config()).await;
    let mut keys: Vec<Value> = op.jwks()["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter(|k| k["alg"] != "PS256")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for key in &mut keys {
        if let Some(key) = key.as_object_mut() {
            for member in ["kid", "alg", "use"] {
                key.remove(member);
            }
        }
    }
    // Public keys made once with `openssl genpkey`; nothing is signed with them.
    keys.push(json!({
        "kty": "EC", "crv": "P-384",
        "x": "cU_ZkZWkOh9uGauP7803Zxy2kgUWSkNMbi7GrjJrY-VIDrp64FpE0Rx5mBqEjqu1",
        "y": "6nOqkc61bjBf9P4Vm7j6cZKhyoOpCnQnpsUQ8Cgm7-qXQT5FayhttpNcURgkMJzE",
    }));
    keys.push(json!({
        "kty": "OKP", "crv": "X25519", "x": "bpzg9linfMwwdT1SArJalNkSbHC4VcXmNw6__2gZEG4",
    }));
    let jwks = json!({ "keys": keys });
    let kidless = |alg| Behavior {
        alg: Some(alg),
        omit_kid: true,
        jwks_override: Some(jwks.clone()),
        ..Default::default()
    };
    op.set_behavior(kidless(SigningAlg::RS256));
    let extra = Extra::of("kidless", op).lines(r#"allowed_algs = ["RS256", "ES256", "EdDSA"]"#);
    let rig = Rig::with("", vec![extra]).await;
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA] {
        rig.op("kidless").set_behavior(kidless(alg));
        let attempt = rig.login_at("kidless", "alice").await;
        rig.assert_accepted(&attempt).await;
    }
}

/// `oidcc-client-test-kid-absent-multiple-jwks`: several RS256 keys, none with a `kid`: we
/// reject as ambiguous rather than try each key.
#[tokio::test]
async fn oidcc_client_test_kid_absent_multiple_jwks() {
    let op = MockOp::spawn(crate::helpers::mock_config()).await;
    // Generation 1's RSA key, kept in the JWKS after rotating to the other RSA key.
    let mut old_rsa = op.jwks()["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["alg"] == "RS256").cloned())
        .expect("an RS256 key");
    if let Some(key) = old_rsa.as_object_mut() {
        key.remove("kid");
    }
    op.rotate_keys();
    op.set_behavior(Behavior {
        omit_kid: true,
        jwks_omit_kid: true,
        jwks_extra_keys: vec![old_rsa],
        ..Default::default()
    });
    let rig = Rig::with("", vec![Extra::of("multikey", op)]).await;
    let attempt = rig.login_at("multikey", "alice").await;
    rig.assert_rejected(&attempt, "id_token_key_ambiguous");
}

accept_rows! {
    /// `oidcc-client-test-idtoken-sig-rs256`.
    oidcc_client_test_idtoken_sig_rs256: ("", |_, _| alg(SigningAlg::RS256));
}

reject_rows! {
    /// `oidcc-client-test-idtoken-sig-none` (Basic and Config RP): `{"alg":"none"}` with an empty
    /// signature. The suite allows accept or reject; we reject.
    oidcc_client_test_idtoken_sig_none:
        ("", |_, _| alg(SigningAlg::None)) => "id_token_alg_not_allowed";

    /// `oidcc-client-test-invalid-sig-rs256`: every signature byte XORed with 0x5A.
    oidcc_client_test_invalid_sig_rs256: ("", |_, _| Behavior {
        corrupt_signature: true,
        ..Default::default()
    }) => "id_token_signature_invalid";
}

/// `oidcc-client-test-userinfo-invalid-sub`: the OP's userinfo answers with another `sub`.
/// The gateway never calls userinfo: the identity comes from the verified ID token only, so
/// the lie is never read. Accepted as alice, and userinfo stays uncalled.
#[tokio::test]
async fn oidcc_client_test_userinfo_invalid_sub() {
    let (rig, user_id) = accept_row("", |_, _| Behavior {
        userinfo_sub: Some("alice-invalid".into()),
        ..Default::default()
    })
    .await;
    let user = rig.app.emulator.user(&user_id).expect("user");
    assert_eq!(user["name"], "Alice");
    assert_eq!(rig.mock().counters().userinfo, 0);
}

reject_rows! {
    /// `oidcc-client-test-nonce-invalid`: `nonce` = the sent nonce + "1".
    oidcc_client_test_nonce_invalid:
        ("", |_, pending| claims(json!({ "nonce": format!("{}1", pending.nonce) })))
        => "id_token_nonce_mismatch";

    /// rp-nonce-invalid, second half: no `nonce` in the ID token at all.
    oidcc_client_test_nonce_missing:
        ("", |_, _| claims(json!({ "nonce": null }))) => "id_token_nonce_mismatch";
}

/// `oidcc-client-test-scope-userinfo-claims`: the RP asks for `openid email profile` and uses
/// the profile claims (from the ID token).
#[tokio::test]
async fn oidcc_client_test_scope_userinfo_claims() {
    let rig = Rig::with("trusted_for_email = true", Vec::new()).await;
    let pending = rig.begin(PROVIDER, "alice").await;
    let scope = param(&pending.to_idp, "scope").expect("scope");
    let scopes: Vec<&str> = scope.split(' ').collect();
    for wanted in ["openid", "email", "profile"] {
        assert!(scopes.contains(&wanted), "{wanted} not in {scope:?}");
    }
    let callback = rig.authorize(&pending, "alice");
    let attempt = rig.finish(pending, callback).await;
    let user_id = rig.assert_accepted(&attempt).await;
    let user = rig.app.emulator.user(&user_id).expect("user");
    assert_eq!(user["email"], "alice@example.test");
    assert_eq!(user["name"], "Alice");
}

/// `oidcc-client-test-client-secret-basic`: the OP accepts only HTTP Basic client
/// authentication.
#[tokio::test]
async fn oidcc_client_test_client_secret_basic() {
    let strict = Extra::spawn("strict", basic_only, Behavior::default()).await;
    let rig = Rig::with("", vec![strict]).await;
    let attempt = rig.login_at("strict", "alice").await;
    rig.assert_accepted(&attempt).await;
    assert_eq!(rig.op("strict").counters().token, 1);
}

/// The converse: a gateway configured for client_secret_post against that OP is refused at
/// the token endpoint, so the test above really exercised Basic.
#[tokio::test]
async fn oidcc_client_test_client_secret_basic_refuses_post() {
    let strict = Extra::spawn("strict", basic_only, Behavior::default())
        .await
        .auth_method("client_secret_post");
    let rig = Rig::with("", vec![strict]).await;
    let attempt = rig.login_at("strict", "alice").await;
    rig.assert_rejected(&attempt, "token_exchange_refused");
}

accept_rows! {
    /// rp-id_token-sig-es256: a valid ES256 token, ES256 being allowed.
    idtoken_sig_es256: ("", |_, _| alg(SigningAlg::ES256));
}

reject_rows! {
    /// rp-id_token-bad-sig-es256 (`oidcc-client-test-invalid-sig-es256`).
    oidcc_client_test_invalid_sig_es256: ("", |_, _| Behavior {
        alg: Some(SigningAlg::ES256),
        corrupt_signature: true,
        ..Default::default()
    }) => "id_token_signature_invalid";
}

/// An HS256 provider: a 40-byte client secret, HS256 listed.
async fn hs256_rig(behavior: Behavior) -> Rig {
    let hs = Extra::spawn("hs", long_secret, behavior)
        .await
        .lines(r#"allowed_algs = ["RS256", "HS256"]"#);
    Rig::with("", vec![hs]).await
}

/// rp-id_token-sig-hs256: HS256 keyed with the client secret, opted in per provider.
#[tokio::test]
async fn idtoken_sig_hs256() {
    let rig = hs256_rig(Behavior {
        alg: Some(SigningAlg::HS256),
        ..Default::default()
    })
    .await;
    let attempt = rig.login_at("hs", "alice").await;
    rig.assert_accepted(&attempt).await;
}

/// rp-id_token-bad-sig-hs256 (`oidcc-client-test-invalid-sig-hs256`).
#[tokio::test]
async fn oidcc_client_test_invalid_sig_hs256() {
    let rig = hs256_rig(Behavior {
        alg: Some(SigningAlg::HS256),
        corrupt_signature: true,
        ..Default::default()
    })
    .await;
    let attempt = rig.login_at("hs", "alice").await;
    rig.assert_rejected(&attempt, "id_token_signature_invalid");
}

accept_rows! {
    /// rp-id_token-missing-at_hash: in the code flow `at_hash` is optional, so its absence is fine
    /// (a wrong one is not: `jwt_attacks::r25_at_hash_wrong`).
    at_hash_absent_is_accepted_in_code_flow: ("", |_, _| claims(json!({ "at_hash": Value::Null })));
}
