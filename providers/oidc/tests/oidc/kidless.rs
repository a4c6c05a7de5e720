//! Tokens without `kid`: the one key of the token's key type is picked, several candidates are
//! ambiguous, none is an unknown key; and a provider that publishes its keys without `kid` and
//! signs without one, then rotates its RSA key: the cached key no longer verifies, and one
//! refetch (on the unknown-`kid` budget) brings the new one. The plan rows
//! (`oidcc-client-test-kid-absent-single-jwks` and `-multiple-jwks`) and the kid-less RS256,
//! ES256 and EdDSA tokens against keys without `alg` live in
//! `tests/integration/conformance/basic_rp.rs`, each through a full login; the tests here
//! cover the other cases.

use mock_op::{Behavior, MockOp};
use openidconnect::Nonce;
use serde_json::{Value, json};

use crate::support::{Harness, op_config, reason};

fn kidless() -> Behavior {
    Behavior {
        omit_kid: true,
        jwks_omit_kid: true,
        ..Default::default()
    }
}

/// An RS256 token of alice's without `kid`, signed with the OP's current key (or `behavior`'s
/// forgery), and its nonce.
fn token(h: &Harness, behavior: &Behavior) -> (idp_provider_api::Secret<String>, String) {
    let nonce = Nonce::new_random().secret().clone();
    let raw =
        h.op.sign_id_token(&h.op.id_token_claims("alice", &nonce), behavior);
    (idp_provider_api::Secret::new(nonce), raw)
}

#[tokio::test]
async fn a_rotated_kidless_key_is_refetched_once() {
    let h = Harness::with(op_config(), json!({ "jwks_refetch_interval_seconds": 60 })).await;
    h.behave(kidless());
    h.login("alice").await.expect("the one kid-less RS256 key");
    assert_eq!(h.op.counters().jwks, 1);

    // New RSA material, still without kid: the cached key fails, the refetch finds the new one.
    h.op.rotate_keys();
    let id = h.login("alice").await.expect("verified after one refetch");
    assert_eq!(id.subject(), "alice");
    assert_eq!(h.op.counters().jwks, 2, "exactly one extra fetch");
    h.login("alice").await.expect("from the cache now");
    assert_eq!(h.op.counters().jwks, 2);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn kidless_bad_signatures_spend_the_unknown_kid_budget() {
    let h = Harness::with(op_config(), json!({ "jwks_refetch_interval_seconds": 60 })).await;
    h.behave(kidless());
    h.ready().await;
    assert_eq!(h.op.counters().jwks, 1);
    let forged = Behavior {
        corrupt_signature: true,
        ..kidless()
    };
    // The first may refetch (it could be a rotation); the rest within the interval may not.
    for _ in 0..20 {
        let (nonce, raw) = token(&h, &forged);
        assert_eq!(
            reason(h.provider.verify(&raw, &nonce, None).await),
            "id_token_signature_invalid"
        );
    }
    assert_eq!(h.op.counters().jwks, 2, "one refetch for all of them");
    // Nor may an unknown kid: one budget.
    let (nonce, raw) = token(
        &h,
        &Behavior {
            header_patch: crate::support::obj(json!({ "kid": "unknown" })),
            ..Default::default()
        },
    );
    assert_eq!(
        reason(h.provider.verify(&raw, &nonce, None).await),
        "id_token_unknown_key"
    );
    assert_eq!(h.op.counters().jwks, 2);
    // Genuine kid-less tokens still verify from the cache.
    let (nonce, raw) = token(&h, &kidless());
    h.provider
        .verify(&raw, &nonce, None)
        .await
        .expect("genuine");
    assert_eq!(h.op.counters().jwks, 2);
}

// ---------------------------------------------------------------- kid absent

/// A kid-less token against a JWKS whose keys do have kids: still exactly one RS256 key. The
/// JWKS without kids is `basic_rp::oidcc_client_test_kid_absent_single_jwks`.
#[tokio::test]
async fn kid_absent_against_a_jwks_with_kids() {
    let h = Harness::new().await;
    h.behave(Behavior {
        omit_kid: true,
        ..Default::default()
    });
    h.login("alice").await.expect("one RS256 key, kid ignored");
    h.assert_no_userinfo();
}

#[tokio::test]
async fn kid_absent_with_no_matching_key() {
    let h = Harness::new().await;
    h.behave(Behavior {
        omit_kid: true,
        jwks_override: Some(json!({ "keys": [] })),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_unknown_key");
}

// ---------------------------------------------------------------- kid absent, keys without alg

/// The P-384 and X25519 public keys below were made once with `openssl genpkey`; they only
/// need to parse, nothing is signed with them.
const P384_X: &str = "cU_ZkZWkOh9uGauP7803Zxy2kgUWSkNMbi7GrjJrY-VIDrp64FpE0Rx5mBqEjqu1";
const P384_Y: &str = "6nOqkc61bjBf9P4Vm7j6cZKhyoOpCnQnpsUQ8Cgm7-qXQT5FayhttpNcURgkMJzE";
const X25519_X: &str = "bpzg9linfMwwdT1SArJalNkSbHC4VcXmNw6__2gZEG4";

/// The OP's own RSA, P-256 and Ed25519 keys, each once, without `kid`, `alg` or `use`, plus a
/// P-384 key and an X25519 key: one key per token key type (RSA for RS*/PS*, EC P-256 for
/// ES256, OKP Ed25519 for EdDSA), with other keys of the same `kty` beside them.
fn one_key_per_type_without_alg(op: &MockOp) -> Value {
    let mut keys: Vec<Value> = op.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] != "PS256")
        .cloned()
        .collect();
    for key in &mut keys {
        let key = key.as_object_mut().unwrap();
        key.remove("kid");
        key.remove("alg");
        key.remove("use");
    }
    keys.push(json!({ "kty": "EC", "crv": "P-384", "x": P384_X, "y": P384_Y }));
    keys.push(json!({ "kty": "OKP", "crv": "X25519", "x": X25519_X }));
    assert_eq!(keys.len(), 5);
    json!({ "keys": keys })
}

/// A kid-less PS256 token takes the one RSA key. RS256, ES256 and EdDSA against the same kind
/// of key set are `basic_rp::kid_absent_one_key_per_type_without_alg`.
#[tokio::test]
async fn kid_absent_picks_the_one_rsa_key_for_ps256() {
    let alg = mock_op::SigningAlg::PS256;
    let h = Harness::for_alg(alg).await;
    h.behave(Behavior {
        alg: Some(alg),
        omit_kid: true,
        jwks_override: Some(one_key_per_type_without_alg(&h.op)),
        ..Default::default()
    });
    let id = h.login("alice").await.expect("PS256 without kid");
    assert_eq!(id.subject(), "alice");
    h.assert_no_userinfo();
}

#[tokio::test]
async fn kid_absent_ignores_keys_not_for_signatures_or_for_another_alg() {
    // Two RSA keys, but one is for encryption and one is for RS512: the RS256 token has one
    // candidate.
    let h = Harness::new().await;
    let mut keys = one_key_per_type_without_alg(&h.op)["keys"]
        .as_array()
        .unwrap()
        .clone();
    let rsa = keys.iter().find(|k| k["kty"] == "RSA").cloned().unwrap();
    let mut enc = rsa.clone();
    enc["use"] = json!("enc");
    let mut rs512 = rsa.clone();
    rs512["alg"] = json!("RS512");
    keys.extend([enc, rs512]);
    h.behave(Behavior {
        omit_kid: true,
        jwks_override: Some(json!({ "keys": keys })),
        ..Default::default()
    });
    h.login("alice").await.expect("one RS256 candidate");
}

#[tokio::test]
async fn kid_absent_with_two_rsa_keys_without_alg_is_ambiguous() {
    let h = Harness::new().await;
    let mut keys = one_key_per_type_without_alg(&h.op)["keys"]
        .as_array()
        .unwrap()
        .clone();
    let mut other = keys.iter().find(|k| k["kty"] == "RSA").cloned().unwrap();
    // The other fixed RSA key (generation 2 signs with it).
    h.op.rotate_keys();
    other["n"] = h.op.jwks()["keys"][0]["n"].clone();
    h.op.rotate_keys();
    keys.push(other);
    h.behave(Behavior {
        omit_kid: true,
        jwks_override: Some(json!({ "keys": keys })),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_key_ambiguous");
}
