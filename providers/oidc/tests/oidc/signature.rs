//! Bad signatures and headers on ID tokens from the token endpoint, for what the conformance
//! rows do not cover. The attack verdicts themselves (corrupted RS256/ES256/HS256 and psychic
//! signatures, `crit`, `typ: at+jwt`, `cty`, `jku`/`x5u`/`jwk`/`x5c`, `kid` injection,
//! oversized and re-encoded tokens) live in `tests/integration/conformance/`, each through a
//! full login of the gateway (rp-conformance.md sections 2.2 and 4); each test here names the
//! row it complements.

use mock_op::{Behavior, SigningAlg};
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

/// The algorithms no conformance row corrupts: RS256, ES256 and HS256 are
/// `basic_rp::oidcc_client_test_invalid_sig_{rs256,es256,hs256}`.
#[tokio::test]
async fn corrupted_ps256_and_eddsa_signatures() {
    for alg in [SigningAlg::PS256, SigningAlg::EdDSA] {
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

/// §4 #15 with a logout token's `typ`: `jwt_attacks::r15_access_token_typ` covers `at+jwt`.
#[tokio::test]
async fn a_logout_token_typ_is_no_id_token_typ() {
    assert_eq!(
        header_case(json!({ "typ": "logout+jwt" })).await,
        "id_token_header_unsupported"
    );
}

/// The accepting side of §4 #15, which no row covers: the `typ` spellings an ID token may carry.
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

/// §4 #7 with a symmetric key: the `jwt_attacks::r07_*` rows embed the attacker's RSA key
/// (`jwk`, `x5c`); here an `oct` `jwk` holding the HMAC key that signed the HS256 token. With
/// HS256 not allowed the algorithm is refused; with it allowed, only the client secret keys it,
/// so the embedded key never verifies.
#[tokio::test]
async fn an_embedded_symmetric_jwk_never_keys_hs256() {
    let forged = || Behavior {
        alg: Some(SigningAlg::HS256),
        hmac_key: Some(b"attacker".to_vec()),
        header_patch: obj(json!({ "jwk": { "kty": "oct", "k": "YXR0YWNrZXI" } })),
        ..Default::default()
    };
    let h = Harness::new().await;
    h.behave(forged());
    assert_eq!(h.rejection("alice").await, "id_token_alg_not_allowed");
    let h = Harness::with(op_config(), json!({ "allowed_algs": ["RS256", "HS256"] })).await;
    h.behave(forged());
    assert_eq!(h.rejection("alice").await, "id_token_signature_invalid");
}

/// §4 #22 "before decoding": a string over 16 KiB that is no JWT at all is refused for its size,
/// not as malformed. `jwt_attacks::r22_oversized_token` covers an oversized signed token.
#[tokio::test]
async fn an_oversized_non_jwt_is_too_large_before_parsing() {
    let h = Harness::new().await;
    h.behave(Behavior {
        id_token_override: Some("a".repeat(16 * 1024 + 1)),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_too_large");
}

/// §4 #21 with strings that are no compact JWS at all (empty, one, two or four garbage
/// segments, an empty signature over `{}`). The `jwt_attacks::r21_*` rows re-encode otherwise
/// valid tokens (padding, alphabet, duplicate keys, a fourth segment after a genuine token,
/// a nested JWE).
#[tokio::test]
async fn malformed_compact_tokens() {
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
