//! The knobs for byte-exact tokens (`MockOp::sign_raw`) and weak keys (`Behavior::weak_rsa_key`).

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idp_jose::{Algorithm, KeySet, PublicKey};
use mock_op::{Behavior, MockOp, MockOpConfig, SigningAlg};
use serde_json::Value;

fn jwks(op: &MockOp) -> KeySet {
    serde_json::from_value(op.jwks()).unwrap()
}

fn key(set: &KeySet, kid: &str) -> PublicKey {
    set.find(kid).unwrap().key().unwrap().clone()
}

fn signature(token: &str) -> (&str, Vec<u8>) {
    let (input, signature) = token.rsplit_once('.').unwrap();
    (input, URL_SAFE_NO_PAD.decode(signature).unwrap())
}

fn verifies(token: &str, key: &PublicKey, alg: Algorithm) -> bool {
    let (input, signature) = signature(token);
    key.verify(alg, input.as_bytes(), &signature).is_ok()
}

/// RS256 with a key of any size down to 1024 bits: the gateway's backend (ring's 2048-bit
/// minimum) refuses the weak key outright, and these tests check what the OP signed with it.
fn verifies_rs256_any_size(token: &str, jwk: &Value) -> bool {
    let (input, signature) = signature(token);
    let part = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    ring::signature::RsaPublicKeyComponents {
        n: part("n"),
        e: part("e"),
    }
    .verify(
        &ring::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        input.as_bytes(),
        &signature,
    )
    .is_ok()
}

#[tokio::test]
async fn sign_raw_signs_the_exact_bytes_given() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    // Padded, standard-alphabet base64 and duplicate keys: nothing is re-encoded.
    let header = STANDARD.encode(br#"{"alg":"RS256","kid":"rsa-1"}"#);
    let payload = STANDARD.encode(br#"{"sub":"alice","sub":"mallory","q":"??????"}"#);
    let input = format!("{header}.{payload}");
    assert!(input.contains('=') || input.contains('/') || input.contains('+'));
    let token = op.sign_raw(&input, &Behavior::default());
    assert!(token.starts_with(&format!("{input}.")));
    let set = jwks(&op);
    let rsa = key(&set, "rsa-1");
    assert!(verifies(&token, &rsa, Algorithm::RS256));

    // Other algorithms and the signature knobs apply too.
    let es = op.sign_raw(
        &input,
        &Behavior {
            alg: Some(SigningAlg::ES256),
            ..Default::default()
        },
    );
    let ec = key(&set, "ec-1");
    assert!(verifies(&es, &ec, Algorithm::ES256));
    let hs = op.sign_raw(
        &input,
        &Behavior {
            alg: Some(SigningAlg::HS256),
            ..Default::default()
        },
    );
    let secret = PublicKey::from_secret(op.config().client_secret.as_bytes());
    assert!(verifies(&hs, &secret, Algorithm::HS256));
    let corrupted = op.sign_raw(
        &input,
        &Behavior {
            corrupt_signature: true,
            ..Default::default()
        },
    );
    assert!(!verifies(&corrupted, &rsa, Algorithm::RS256));
    let overridden = op.sign_raw(
        &input,
        &Behavior {
            signature_override: Some("AAAA".into()),
            ..Default::default()
        },
    );
    assert_eq!(overridden, format!("{input}.AAAA"));
}

#[tokio::test]
async fn weak_rsa_key_is_published_and_signs() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let before = op.jwks()["keys"].as_array().unwrap().len();
    assert!(
        !op.jwks().to_string().contains("weak-rsa"),
        "off by default"
    );

    op.set_behavior(Behavior {
        weak_rsa_key: true,
        ..Default::default()
    });
    let doc = op.jwks();
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), before + 1);
    let weak = keys.iter().find(|k| k["kid"] == "weak-rsa-1").unwrap();
    assert_eq!(weak["kty"], "RSA");
    assert_eq!(weak["alg"], "RS256");
    let modulus = URL_SAFE_NO_PAD.decode(weak["n"].as_str().unwrap()).unwrap();
    assert_eq!(modulus.len() * 8, 1024, "a 1024-bit modulus");

    let claims = op.id_token_claims("alice", "n-1");
    let token = op.sign_id_token(&claims, &op.behavior());
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], "weak-rsa-1");
    let strong = keys.iter().find(|k| k["kid"] == "rsa-1").unwrap();
    assert!(verifies_rs256_any_size(&token, weak));
    assert!(!verifies_rs256_any_size(&token, strong));
    assert!(
        !verifies(&token, &key(&jwks(&op), "weak-rsa-1"), Algorithm::RS256),
        "the gateway's backend refuses a 1024-bit key"
    );

    // The kid follows rotation; kid-less JWKS drop it too.
    op.rotate_keys();
    op.set_behavior(Behavior {
        weak_rsa_key: true,
        jwks_omit_kid: true,
        ..Default::default()
    });
    let doc = op.jwks();
    assert!(
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("kid").is_none())
    );
    op.set_behavior(Behavior {
        weak_rsa_key: true,
        ..Default::default()
    });
    assert!(op.jwks().to_string().contains("weak-rsa-2"));
}
