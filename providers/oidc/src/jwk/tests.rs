//! Unit tests of the ring-backed JSON Web Key: parsing, algorithm compatibility and
//! signature checks.

use super::*;
use base64::Engine as _;
use openidconnect::core::CoreJsonWebKeySet;

/// A 2048-bit RSA key whose JWK modulus carries a leading zero byte, with an RS256 signature
/// of "THIS IS A SIGNATURE TEST" (openidconnect's own test vector for the same case).
const LEADING_ZERO_N: &str = "AN0M6Y760b9Ok2PxDOps1TgSmiOaR9mLIfUHtZ_o-6JypOckGcl1CxrteyokOb3WyDsfIAN9fFNrycv5YoLKO7sh0IcfzNEXFgzK84HTBcGuqhN8NV98Z6N9EryUrgJYsJeVoPYm0MzkDe4NyWHhnq-9OyNCQzVELH0NhhViQqRyM92OPrJcQlk8s3ZvcgRmkd-rEtRua8SbS3GEvfvgweVy5-qcJCGoziKfx-IteMOm6yKoHvqisKb91N-qw_kSS4YQUx-DZVDo2g24F7VIbcYzJGUOU674HUF1j-wJyXzG3VV8lAXD8hABs5Lh87gr8_hIZD5gbYBJRObJk9XZbfk";
const LEADING_ZERO_SIG: &str = "bg0ohqKwYHAiODeG6qkJ-6IhodN7LGPxAh4hbWeIoBdSXrXMt8Ft8U0BV7vANPvF56h20XB9C0021x2kt7iAbMgPNcZ7LCuXMPPq04DrBpMHafH5BXBwnyDKJKrzDm5sfr6OgEkcxSLHaSJ6gTWQ3waPt6_SeH2-Fi74rg13MHyX-0iqz7bZveoBbGIs5yQCwvXgrDS9zW5LUwUHozHfE6FuSi_Z92ioXeu7FHHDg1KFfg3hs8ZLx4wAX15Vw2GCQOzvyNdbItxXRLnrN1NPqxFquVNo5RGlx6ihR1Jfe7y_n0NSR2q2TuU4cIwR0LRwEaANy5SDqtleQPrTEn8nGQ";
const MESSAGE: &[u8] = b"THIS IS A SIGNATURE TEST";

fn key(json: Value) -> RingJsonWebKey {
    serde_json::from_value(json).expect("a key")
}

fn rsa_key(extra: Value) -> RingJsonWebKey {
    let mut json = serde_json::json!({"kty": "RSA", "e": "AQAB", "n": LEADING_ZERO_N});
    if let (Some(json), Value::Object(extra)) = (json.as_object_mut(), extra) {
        json.extend(extra);
    }
    key(json)
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

#[test]
fn a_modulus_with_a_leading_zero_verifies() {
    let key = rsa_key(serde_json::json!({}));
    let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    assert_eq!(
        key.verify_signature(&alg, MESSAGE, &b64(LEADING_ZERO_SIG)),
        Ok(())
    );
    // The same verdict as openidconnect's own key.
    let core: openidconnect::core::CoreJsonWebKey =
        serde_json::from_value(serde_json::to_value(&key).expect("json")).expect("core key");
    assert_eq!(
        core.verify_signature(&alg, MESSAGE, &b64(LEADING_ZERO_SIG)),
        Ok(())
    );
}

#[test]
fn a_changed_message_or_signature_fails() {
    let key = rsa_key(serde_json::json!({}));
    let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    let mut sig = b64(LEADING_ZERO_SIG);
    assert!(matches!(
        key.verify_signature(&alg, b"THIS IS A SIGNATURE TESt", &sig),
        Err(SignatureVerificationError::CryptoError(_))
    ));
    sig[10] ^= 1;
    assert!(matches!(
        key.verify_signature(&alg, MESSAGE, &sig),
        Err(SignatureVerificationError::CryptoError(_))
    ));
    // A signature of another length than the modulus.
    assert!(
        key.verify_signature(&alg, MESSAGE, &b64(LEADING_ZERO_SIG)[1..])
            .is_err()
    );
    // The right signature under another algorithm of the same key type.
    assert!(
        key.verify_signature(
            &CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            MESSAGE,
            &b64(LEADING_ZERO_SIG)
        )
        .is_err()
    );
}

#[test]
fn use_alg_and_type_of_the_key_are_enforced() {
    let sig = b64(LEADING_ZERO_SIG);
    let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    for (extra, why) in [
        (serde_json::json!({"use": "enc"}), "key usage not permitted"),
        (
            serde_json::json!({"alg": "RS512"}),
            "incompatible key algorithm",
        ),
    ] {
        let key = rsa_key(extra);
        match key.verify_signature(&rs256, MESSAGE, &sig) {
            Err(SignatureVerificationError::InvalidKey(reason)) => {
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("expected {why}, got {other:?}"),
        }
    }
    let key = rsa_key(serde_json::json!({}));
    assert!(matches!(
        key.verify_signature(&CoreJwsSigningAlgorithm::EcdsaP256Sha256, MESSAGE, &sig),
        Err(SignatureVerificationError::InvalidKey(_))
    ));
}

#[test]
fn a_key_on_another_curve_or_without_parts_is_refused_at_verification() {
    // 48 zero bytes per coordinate: the right size, refused for its curve before any
    // signature arithmetic.
    let zeros = "A".repeat(64);
    let p384 = key(serde_json::json!({
        "kty": "EC", "crv": "P-384",
        "x": zeros, "y": zeros
    }));
    assert_eq!(p384.curve(), Some(Curve::P384));
    match p384.verify_signature(&CoreJwsSigningAlgorithm::EcdsaP256Sha256, MESSAGE, &[0; 64]) {
        Err(SignatureVerificationError::InvalidKey(reason)) => {
            assert!(reason.contains("another curve"), "{reason}");
        }
        other => panic!("expected a curve mismatch, got {other:?}"),
    }
    let x25519 = key(serde_json::json!({"kty": "OKP", "crv": "X25519", "x": "AAAA"}));
    assert_eq!(x25519.curve(), None);
    assert!(matches!(
        x25519.verify_signature(&CoreJwsSigningAlgorithm::EdDsa, MESSAGE, &[0; 64]),
        Err(SignatureVerificationError::InvalidKey(_))
    ));
    let no_modulus = key(serde_json::json!({"kty": "RSA", "e": "AQAB"}));
    match no_modulus.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        MESSAGE,
        &[0; 256],
    ) {
        Err(SignatureVerificationError::InvalidKey(reason)) => {
            assert!(reason.contains("`n`"), "{reason}");
        }
        other => panic!("expected a missing modulus, got {other:?}"),
    }
}

#[test]
fn ecdsa_signatures_verify_on_their_curve_only() {
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        KeyPair as _,
    };
    let rng = ring::rand::SystemRandom::new();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    for (crv, signing, alg, size) in [
        (
            "P-256",
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            32,
        ),
        (
            "P-384",
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
            48,
        ),
    ] {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("a key");
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).expect("a pair");
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(size);
        let jwk = key(serde_json::json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)}));
        let mut sig = pair.sign(&rng, MESSAGE).expect("signed").as_ref().to_vec();
        assert_eq!(jwk.verify_signature(&alg, MESSAGE, &sig), Ok(()), "{crv}");
        sig[size / 2] ^= 1;
        assert!(
            matches!(
                jwk.verify_signature(&alg, MESSAGE, &sig),
                Err(SignatureVerificationError::CryptoError(_))
            ),
            "{crv}: a changed signature"
        );
        // The same point with one byte moved from `x` to `y`: still 1 + 2 × size bytes.
        let skewed = key(serde_json::json!({
            "kty": "EC", "crv": crv, "x": b64(&x[1..]), "y": b64(&[&x[..1], y].concat())
        }));
        match skewed.verify_signature(&alg, MESSAGE, &sig) {
            Err(SignatureVerificationError::InvalidKey(reason)) => {
                assert!(reason.contains("coordinates"), "{reason}");
            }
            other => panic!("{crv}: expected a refused key, got {other:?}"),
        }
    }
}

#[test]
fn a_symmetric_key_does_not_debug_print_the_client_secret() {
    let key = RingJsonWebKey::new_symmetric(b"client-secret-0123456789abcdef".to_vec());
    let printed = format!("{key:?}");
    assert!(!printed.contains("client-secret"), "{printed}");
    assert!(
        !printed.contains("Y2xpZW50LXNlY3JldC"),
        "base64 of it: {printed}"
    );
    assert!(printed.contains("kty"), "{printed}");
}

/// RFC 8037 appendix A.4: an Ed25519 JWS, verified through openidconnect's own key.
#[test]
fn ed25519_signatures_verify() {
    let key = key(serde_json::json!({
        "kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    }));
    assert_eq!(key.curve(), Some(Curve::Ed25519));
    let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let mut sig = b64(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
    let eddsa = CoreJwsSigningAlgorithm::EdDsa;
    assert_eq!(key.verify_signature(&eddsa, input, &sig), Ok(()));
    sig[0] ^= 1;
    assert!(matches!(
        key.verify_signature(&eddsa, input, &sig),
        Err(SignatureVerificationError::CryptoError(_))
    ));
}

#[test]
fn hmac_keys_verify_in_constant_time_with_ring() {
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let key = RingJsonWebKey::new_symmetric(secret.clone());
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
        MESSAGE,
    );
    let hs256 = CoreJwsSigningAlgorithm::HmacSha256;
    assert_eq!(key.verify_signature(&hs256, MESSAGE, tag.as_ref()), Ok(()));
    assert!(
        key.verify_signature(&hs256, MESSAGE, &tag.as_ref()[..31])
            .is_err(),
        "a short MAC is an ordinary failure, not a panic"
    );
    assert!(
        key.verify_signature(&CoreJwsSigningAlgorithm::HmacSha384, MESSAGE, tag.as_ref())
            .is_err()
    );
}

#[test]
fn a_key_set_reads_and_writes_like_openidconnects() {
    let json = serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "e": "AQAB", "n": LEADING_ZERO_N},
        {"kty": "EC", "kid": "b", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
    ]});
    let ours: KeySet = serde_json::from_value(json.clone()).expect("our set");
    let theirs: CoreJsonWebKeySet = serde_json::from_value(json).expect("their set");
    assert_eq!(
        serde_json::to_value(&ours).expect("ours"),
        serde_json::to_value(&theirs).expect("theirs")
    );
}

/// The differential test `check_compatible` is kept on: for real keys of every type (RSA 2048,
/// P-256, Ed25519), each with
/// every `use` and `alg` a JWK may carry, and every algorithm, openidconnect's own key and ours
/// give the same verdict (accepted, or refused with the same kind of error) on a valid
/// signature and on a changed one. A copy of openidconnect's rules that drifted from them
/// fails here.
#[test]
fn verdicts_match_openidconnects_own_key() {
    use CoreJwsSigningAlgorithm as A;
    use openidconnect::core::CoreJsonWebKey;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let (x, y) = ec.public_key().as_ref()[1..].split_at(32);
    let ec_sig = ec.sign(&rng, MESSAGE).unwrap().as_ref().to_vec();
    // RFC 8037 appendix A.4.
    let ed_input: &[u8] = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let ed_sig = b64(
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
    // (the key, a message and its valid signature)
    let keys = [
        (
            serde_json::json!({"kty": "RSA", "e": "AQAB", "n": LEADING_ZERO_N}),
            MESSAGE,
            b64(LEADING_ZERO_SIG),
        ),
        (
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": encode(x), "y": encode(y)}),
            MESSAGE,
            ec_sig,
        ),
        (
            serde_json::json!({"kty": "OKP", "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            ed_input,
            ed_sig,
        ),
    ];
    let algs = [
        A::RsaSsaPkcs1V15Sha256,
        A::RsaSsaPkcs1V15Sha384,
        A::RsaSsaPkcs1V15Sha512,
        A::RsaSsaPssSha256,
        A::RsaSsaPssSha384,
        A::RsaSsaPssSha512,
        A::EcdsaP256Sha256,
        A::EcdsaP384Sha384,
        A::EcdsaP521Sha512,
        A::EdDsa,
        A::HmacSha256,
        A::HmacSha384,
        A::HmacSha512,
        A::None,
    ];
    let uses = [None, Some("sig"), Some("enc")];
    // RSA-OAEP: an encryption algorithm, which openidconnect reads as no signing algorithm.
    let key_algs = [
        None,
        Some("RS256"),
        Some("ES256"),
        Some("EdDSA"),
        Some("HS256"),
        Some("RSA-OAEP"),
    ];
    let kind = |r: &Result<(), SignatureVerificationError>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{:?}", std::mem::discriminant(e)),
    };
    let (mut compared, mut unread) = (0, 0);
    for (json, message, signature) in &keys {
        for key_use in uses {
            for key_alg in key_algs {
                let mut json = json.clone();
                if let Some(u) = key_use {
                    json["use"] = u.into();
                }
                if let Some(a) = key_alg {
                    json["alg"] = a.into();
                }
                let ours = serde_json::from_value::<RingJsonWebKey>(json.clone());
                let theirs = serde_json::from_value::<CoreJsonWebKey>(json.clone());
                // A key openidconnect does not read at all (RSA-OAEP) is not read by ours.
                let (Ok(ours), Ok(theirs)) = (&ours, &theirs) else {
                    assert_eq!(ours.is_ok(), theirs.is_ok(), "{json}");
                    unread += 1;
                    continue;
                };
                let mut bent = signature.clone();
                bent[3] ^= 1;
                for alg in &algs {
                    for sig in [signature, &bent] {
                        let (a, b) = (
                            ours.verify_signature(alg, message, sig),
                            theirs.verify_signature(alg, message, sig),
                        );
                        assert_eq!(
                            kind(&a),
                            kind(&b),
                            "{json} {alg:?}: ours {a:?}, theirs {b:?}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!((compared, unread), (3 * 3 * 5 * 14 * 2, 3 * 3));
}
