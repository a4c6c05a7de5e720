//! Bad signatures and headers on ID tokens from the token endpoint: corrupted or psychic
//! signatures, `crit`, `typ` and `cty`, embedded keys, `kid` injection, oversized and malformed
//! compact tokens; each rejected with its own reason (rp-conformance.md section 2.1).

use mock_op::Behavior;
use serde_json::{Value, json};

use crate::support::{Harness, expect_rejection, obj, op_config};

async fn header_case(header: Value) -> &'static str {
    let h = Harness::new().await;
    h.behave(Behavior {
        header_patch: obj(header),
        ..Default::default()
    });
    h.rejection("alice").await
}

#[tokio::test]
async fn corrupted_signature() {
    let h = Harness::new().await;
    h.behave(Behavior {
        corrupt_signature: true,
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_signature_invalid");
}

#[tokio::test]
async fn corrupted_signature_for_each_alg() {
    use mock_op::SigningAlg;
    for alg in [
        SigningAlg::PS256,
        SigningAlg::ES256,
        SigningAlg::EdDSA,
        SigningAlg::HS256,
    ] {
        let h = Harness::for_alg(alg).await;
        expect_rejection(
            &h,
            Behavior {
                alg: Some(alg),
                corrupt_signature: true,
                ..Default::default()
            },
            "id_token_signature_invalid",
            alg,
        )
        .await;
    }
}

#[tokio::test]
async fn ecdsa_psychic_signature() {
    // §4 #23 (CVE-2022-21449): r = s = 0.
    let h = Harness::with(op_config(), json!({ "allowed_algs": ["ES256"] })).await;
    h.behave(Behavior {
        alg: Some(mock_op::SigningAlg::ES256),
        signature_override: Some("A".repeat(86)),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_signature_invalid");
}

#[tokio::test]
async fn crit_header() {
    assert_eq!(
        header_case(json!({ "crit": ["exp"], "exp": 0 })).await,
        "id_token_header_unsupported"
    );
}

#[tokio::test]
async fn access_token_typ() {
    assert_eq!(
        header_case(json!({ "typ": "at+jwt" })).await,
        "id_token_header_unsupported"
    );
    assert_eq!(
        header_case(json!({ "typ": "logout+jwt" })).await,
        "id_token_header_unsupported"
    );
}

#[tokio::test]
async fn jwt_typ_or_none_is_fine() {
    let h = Harness::new().await;
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("application/jwt"),
        Value::Null,
    ] {
        h.behave(Behavior {
            header_patch: obj(json!({ "typ": typ })),
            ..Default::default()
        });
        h.login("alice")
            .await
            .unwrap_or_else(|e| panic!("{typ}: {e:?}"));
    }
}

#[tokio::test]
async fn nested_jwt_cty() {
    assert_eq!(
        header_case(json!({ "cty": "JWT" })).await,
        "id_token_header_unsupported"
    );
}

#[tokio::test]
async fn embedded_keys_in_the_header_are_ignored() {
    // §4 #6-#7: a jku/x5u/jwk header never selects a key: a token signed by the OP's real key
    // still verifies, and one signed by another key under a header-provided key still fails.
    let h = Harness::new().await;
    h.behave(Behavior {
        header_patch: obj(json!({
            "jku": "https://attacker.example/jwks",
            "x5u": "https://attacker.example/cert",
        })),
        ..Default::default()
    });
    h.login("alice").await.expect("jku/x5u are ignored");
    h.behave(Behavior {
        alg: Some(mock_op::SigningAlg::HS256),
        hmac_key: Some(b"attacker".to_vec()),
        header_patch: obj(json!({ "jwk": { "kty": "oct", "k": "YXR0YWNrZXI" } })),
        ..Default::default()
    });
    let r = h.rejection("alice").await;
    assert_eq!(r, "id_token_alg_not_allowed");
}

#[tokio::test]
async fn kid_injection_is_just_an_unknown_key() {
    for kid in [
        json!("../../../../dev/null"),
        json!("' OR 1=1 --"),
        json!("https://attacker.example/key"),
        json!("k".repeat(10_000)),
    ] {
        assert_eq!(
            header_case(json!({ "kid": kid })).await,
            "id_token_unknown_key"
        );
    }
}

#[tokio::test]
async fn token_larger_than_16_kib() {
    let h = Harness::new().await;
    h.patch_claims(json!({ "padding": "x".repeat(17 * 1024) }));
    assert_eq!(h.rejection("alice").await, "id_token_too_large");
    h.behave(Behavior {
        id_token_override: Some("a".repeat(16 * 1024 + 1)),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_too_large");
}

#[tokio::test]
async fn malformed_compact_tokens() {
    // §4 #21.
    let h = Harness::new().await;
    for raw in [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.extra",
    ] {
        h.behave(Behavior {
            id_token_override: Some(raw.to_string()),
            ..Default::default()
        });
        let r = h.rejection("alice").await;
        assert_eq!(r, "id_token_malformed", "{raw:?}");
    }
}
