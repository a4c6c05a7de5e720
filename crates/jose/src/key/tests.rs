//! Key reading and the ring backend, end to end through jsonwebtoken: what one signer signs,
//! the verifier accepts, and a changed byte, another key or another algorithm is refused.

use super::*;
use crate::{EncodingKey, Header, Validation};
use serde_json::json;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

static RSA: std::sync::LazyLock<(EncodingKey, Value)> = std::sync::LazyLock::new(|| {
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    use rsa::traits::PublicKeyParts as _;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let public = private.to_public_key();
    let jwk = json!({
        "kty": "RSA",
        "n": b64(&public.n().to_bytes_be()),
        "e": b64(&public.e().to_bytes_be()),
    });
    (EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(), jwk)
});

/// (private key for signing, the public key as a JWK) for `alg`.
fn keypair(alg: Algorithm) -> (EncodingKey, Value) {
    let which = match alg {
        Algorithm::ES256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        Algorithm::ES384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        Algorithm::EdDSA => &rcgen::PKCS_ED25519,
        _ => return (RSA.0.clone(), RSA.1.clone()),
    };
    let pair = rcgen::KeyPair::generate_for(which).unwrap();
    let private = pair.serialize_pem();
    // rcgen's public key: 32 bytes for Ed25519, an uncompressed point (04 || x || y) for EC.
    let public = pair.public_key_raw();
    let (encoding, jwk) = match alg {
        Algorithm::EdDSA => (
            EncodingKey::from_ed_pem(private.as_bytes()),
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(public)}),
        ),
        _ => {
            let (x, y) = public[1..].split_at((public.len() - 1) / 2);
            let crv = if alg == Algorithm::ES256 {
                "P-256"
            } else {
                "P-384"
            };
            (
                EncodingKey::from_ec_pem(private.as_bytes()),
                json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)}),
            )
        }
    };
    (encoding.unwrap(), jwk)
}

const ALL: [Algorithm; 12] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
];

fn pair_for(alg: Algorithm) -> (EncodingKey, PublicKey) {
    if alg.family() == AlgorithmFamily::Hmac {
        let secret = b"a shared secret of thirty-two by";
        return (
            EncodingKey::from_secret(secret),
            PublicKey::from_secret(secret),
        );
    }
    let (encoding, jwk) = keypair(alg);
    (encoding, PublicKey::from_jwk(&jwk).unwrap())
}

#[test]
fn every_algorithm_signs_and_verifies_and_a_changed_byte_fails() {
    for alg in ALL {
        let (encoding, public) = pair_for(alg);
        let message = b"header.payload";
        let signature = URL_SAFE_NO_PAD
            .decode(crate::sign(message, &encoding, alg).unwrap())
            .unwrap();
        assert_eq!(public.verify(alg, message, &signature), Ok(()), "{alg:?}");
        assert_eq!(
            public.verify(alg, b"header.payloaD", &signature),
            Err(SignatureError::Invalid),
            "{alg:?}: another message"
        );
        let mut bent = signature.clone();
        bent[0] ^= 1;
        assert_eq!(
            public.verify(alg, message, &bent),
            Err(SignatureError::Invalid),
            "{alg:?}: a changed signature"
        );
    }
}

#[test]
fn a_key_checks_only_the_algorithms_of_its_kind() {
    for alg in ALL {
        let (_, public) = pair_for(alg);
        for other in ALL {
            let expected = match public.kind() {
                KeyKind::Rsa { .. } => other.family() == AlgorithmFamily::Rsa,
                KeyKind::Secret => other.family() == AlgorithmFamily::Hmac,
                _ => other == alg,
            };
            assert_eq!(
                public.kind().fits(other),
                expected,
                "{alg:?} key, {other:?}"
            );
            if !expected {
                assert!(
                    matches!(
                        public.verify(other, b"m", b"s"),
                        Err(SignatureError::KeyDoesNotFit { .. })
                    ),
                    "{alg:?} key, {other:?}: refused before any check"
                );
            }
        }
    }
}

#[test]
fn a_token_signed_by_jsonwebtoken_decodes_with_the_jwk() {
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::PS384,
    ] {
        let (encoding, public) = pair_for(alg);
        let claims = json!({"sub": "u", "exp": 4_000_000_000_u64});
        let token = crate::encode(&Header::new(alg), &claims, &encoding).unwrap();
        let mut validation = Validation::new(alg);
        validation.validate_aud = false;
        let data = crate::decode::<Value>(&token, &public, &validation).unwrap();
        assert_eq!(data.claims["sub"], "u");
        let (_, other) = pair_for(alg);
        if alg != Algorithm::RS256 && alg != Algorithm::PS384 {
            assert!(
                crate::decode::<Value>(&token, &other, &validation).is_err(),
                "{alg:?}: another key"
            );
        }
    }
}

#[test]
fn jwk_members_are_checked() {
    let ec =
        |crv: &str, x: &[u8], y: &[u8]| json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)});
    assert_eq!(
        PublicKey::from_jwk(&ec("P-256", &[1; 31], &[1; 33])).unwrap_err(),
        "EC coordinates must be 32 bytes each"
    );
    assert_eq!(
        PublicKey::from_jwk(&ec("P-521", &[1; 66], &[1; 66])).unwrap_err(),
        "unsupported EC curve Some(\"P-521\")"
    );
    assert_eq!(
        PublicKey::from_jwk(&json!({"kty": "RSA", "e": "AQAB"})).unwrap_err(),
        "`n` is missing"
    );
    assert_eq!(
        PublicKey::from_jwk(&json!({"kty": "oct", "k": "c2VjcmV0"})).unwrap_err(),
        "symmetric keys are never taken from a JWKS"
    );
    let short = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[1; 31])});
    assert_eq!(
        PublicKey::from_jwk(&short).unwrap_err(),
        "an Ed25519 `x` is 32 bytes"
    );
}

#[test]
fn pem_keys_are_read_with_their_kind_and_size() {
    use rsa::pkcs8::EncodePublicKey as _;
    for bits in [2048, 1024] {
        let rsa = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits).unwrap();
        let pem = rsa
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        assert_eq!(
            PublicKey::from_pem(pem.as_bytes()).unwrap().kind(),
            KeyKind::Rsa { bits }
        );
    }
    for (alg, kind) in [
        (&rcgen::PKCS_ECDSA_P256_SHA256, KeyKind::P256),
        (&rcgen::PKCS_ECDSA_P384_SHA384, KeyKind::P384),
        (&rcgen::PKCS_ED25519, KeyKind::Ed25519),
    ] {
        let pair = rcgen::KeyPair::generate_for(alg).unwrap();
        let pem = pair.public_key_pem();
        assert_eq!(PublicKey::from_pem(pem.as_bytes()).unwrap().kind(), kind);
    }
    let junk = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    assert!(PublicKey::from_pem(junk).is_err());
}

/// A public key on secp256k1 has a point as long as P-256's: the curve it names decides
/// (`openssl ecparam -name secp256k1 -genkey | openssl ec -pubout`).
const SECP256K1_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEo8CXL51cX1uYPddsqDrndIOT8EGb1eHx
zPuCMm5iBWHNfhxbtmLTn42csW++rcjEjzYoFCsjgTlRp5SqFxFy5A==
-----END PUBLIC KEY-----
";

#[test]
fn pem_keys_of_another_curve_or_not_public_are_refused() {
    assert_eq!(
        PublicKey::from_pem(SECP256K1_PEM.as_bytes()).unwrap_err(),
        "is an EC key on a curve other than P-256 or P-384"
    );
    let private = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    assert_eq!(
        PublicKey::from_pem(private.serialize_pem().as_bytes()).unwrap_err(),
        "is a \"PRIVATE KEY\" block, not a public key"
    );
    let certificate = SECP256K1_PEM.replace("PUBLIC KEY", "CERTIFICATE");
    assert!(
        PublicKey::from_pem(certificate.as_bytes())
            .unwrap_err()
            .contains("not a public key")
    );
}

#[test]
fn leading_zero_bytes_of_a_jwk_modulus_are_ignored() {
    let (encoding, jwk) = keypair(Algorithm::RS256);
    // jsonwebtoken's own JWK of the private key (through the backend's key utilities) is the
    // test's.
    let derived = serde_json::to_value(crate::public_jwk(&encoding, Algorithm::RS256).unwrap());
    assert_eq!(derived.unwrap()["n"], jwk["n"]);
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let padded = json!({"kty": "RSA", "n": b64(&[&[0, 0][..], &n].concat()), "e": jwk["e"]});
    let public = PublicKey::from_jwk(&padded).unwrap();
    assert_eq!(public.kind(), KeyKind::Rsa { bits: 2048 });
    let signature = URL_SAFE_NO_PAD
        .decode(crate::sign(b"m", &encoding, Algorithm::RS256).unwrap())
        .unwrap();
    assert_eq!(public.verify(Algorithm::RS256, b"m", &signature), Ok(()));
}

/// ring's RSA minimum rounds up to whole bytes, so a 2041-bit key (256 bytes) would pass it;
/// the gateway's rule counts bits, in `fits`, `verify` and `decode` alike.
#[test]
fn an_rsa_key_under_2048_bits_checks_nothing_even_when_ring_would() {
    use rsa::traits::PublicKeyParts as _;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2041).unwrap();
    let public = private.to_public_key();
    assert_eq!(
        public.n().to_bytes_be().len(),
        256,
        "as long as a 2048-bit modulus"
    );
    let jwk = json!({
        "kty": "RSA",
        "n": b64(&public.n().to_bytes_be()),
        "e": b64(&public.e().to_bytes_be()),
    });
    let weak = PublicKey::from_jwk(&jwk).unwrap();
    assert_eq!(weak.kind(), KeyKind::Rsa { bits: 2041 });
    assert!(!weak.kind().fits(Algorithm::RS256));
    // ring refuses to sign with a key this small, so RustCrypto's rsa signs: RS256 is
    // PKCS#1 v1.5 over SHA-256's DigestInfo (RFC 8017 section 9.2, note 1).
    const SHA256_DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let sign = |message: &[u8]| {
        let digest = ring::digest::digest(&ring::digest::SHA256, message);
        let info = [&SHA256_DIGEST_INFO[..], digest.as_ref()].concat();
        private
            .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &info)
            .unwrap()
    };
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = b64(br#"{"sub":"u","exp":4000000000}"#);
    let input = format!("{header}.{payload}");
    let message = input.as_bytes();
    let signature = sign(message);
    // What ring alone would accept:
    let parts = ring::signature::RsaPublicKeyComponents {
        n: public.n().to_bytes_be(),
        e: public.e().to_bytes_be(),
    };
    assert!(
        parts
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                message,
                &signature
            )
            .is_ok()
    );
    assert!(matches!(
        weak.verify(Algorithm::RS256, message, &signature),
        Err(SignatureError::KeyDoesNotFit { .. })
    ));
    let token = format!("{input}.{}", b64(&signature));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    let refused = crate::decode::<Value>(&token, &weak, &validation).unwrap_err();
    assert!(refused.to_string().contains("2041 bits"), "{refused}");
}

#[test]
fn a_kid_use_or_alg_that_is_not_a_string_makes_the_key_unusable() {
    let (_, jwk) = keypair(Algorithm::ES256);
    for name in ["kid", "use", "alg"] {
        let mut odd = jwk.clone();
        odd[name] = json!(["a"]);
        let read = crate::Jwk::from_json(&odd);
        assert_eq!(
            read.key().unwrap_err(),
            format!("`{name}` is not a string"),
            "{name}"
        );
    }
    assert!(crate::Jwk::from_json(&jwk).key().is_ok());
}
