//! A JSON Web Key whose signatures are checked with ring.
//!
//! openidconnect verifies with RustCrypto (`rsa`, `p256`, `ed25519-dalek`); its RSA check rebuilds
//! the key with `num-bigint-dig` Montgomery arithmetic on every token and costs several times
//! what ring's does. [`RingJsonWebKey`] is openidconnect's own `CoreJsonWebKey` for everything
//! openidconnect decides (`kid`, `kty`, `use`, `alg`, the choice of the key, `at_hash`), with
//! one difference: RS*, PS*, ES256, ES384 and HS* signatures are checked by ring, from key
//! material read once when the JWKS is loaded. ring is already in the tree through rustls, so
//! this adds no crypto family.
//!
//! Measured with `cargo bench -p idp-provider-oidc --bench id_token` (whole `verify_id_token`):
//! RS256 about 7× and ES256 about 4.5× faster than openidconnect's; EdDSA, however, is faster
//! with openidconnect's `ed25519-dalek` (about 45 µs against ring's 65 µs), so Ed25519 keys are
//! verified by openidconnect's own key.
//!
//! Owns: the JWK → ring key material conversion and the per-algorithm verification.
//! Must not: choose a key, or accept an algorithm the key's type, curve, `use` or `alg` does
//! not allow; those checks are openidconnect's (`check_key_compatibility`), repeated here for
//! every call as openidconnect's own key does.

use std::sync::Arc;

use base64::Engine as _;
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeySet, JsonWebKeyUse,
    JwsSigningAlgorithm, SignatureVerificationError,
};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The key set the provider verifies with: openidconnect's set of [`RingJsonWebKey`]s.
pub type KeySet = JsonWebKeySet<RingJsonWebKey>;

/// A curve of an EC or OKP key that ring verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (ES256).
    P256,
    /// NIST P-384 (ES384).
    P384,
    /// Ed25519 (EdDSA).
    Ed25519,
}

/// The public key material, as ring takes it.
enum Material {
    /// Big-endian modulus and exponent without leading zero bytes (ring refuses them; a JWK
    /// may carry them).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed SEC1 point (`04 || x || y`) on `curve` (P-256 or P-384).
    Ec { curve: Curve, point: Vec<u8> },
    /// An Ed25519 key: verified by openidconnect's own key (`ed25519-dalek`), measured faster
    /// than ring's Ed25519.
    Ed25519,
    /// A MAC key: only ever the client secret, through [`JsonWebKey::new_symmetric`].
    Symmetric(Vec<u8>),
    /// A key ring cannot verify with (a missing part, an unknown curve): every verification
    /// fails with this reason, as openidconnect's key fails at verification time.
    Unusable(String),
}

struct Inner {
    jwk: CoreJsonWebKey,
    material: Material,
}

/// openidconnect's `CoreJsonWebKey`, verified with ring; see the module documentation. Cheap to
/// clone (shared), since openidconnect's verifier takes the whole key set by value.
#[derive(Clone)]
pub struct RingJsonWebKey(Arc<Inner>);

/// The key's type, id and algorithm only: a symmetric key is the client secret (its `Debug`,
/// and `CoreJsonWebKey`'s, would print it).
impl std::fmt::Debug for RingJsonWebKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let jwk = &self.0.jwk;
        f.debug_struct("RingJsonWebKey")
            .field("kty", jwk.key_type())
            .field("kid", &jwk.key_id().map(|kid| kid.as_str()))
            .field("alg", &jwk.signing_alg())
            .field("curve", &self.curve())
            .finish_non_exhaustive()
    }
}

impl RingJsonWebKey {
    /// The curve of an EC or OKP key, when it is one ring verifies with.
    pub fn curve(&self) -> Option<Curve> {
        match &self.0.material {
            Material::Ec { curve, .. } => Some(*curve),
            Material::Ed25519 => Some(Curve::Ed25519),
            _ => None,
        }
    }

    /// Whether this key can verify `alg` at all: its use, type, `alg` and curve allow it and its
    /// material was readable (check-config's "keys usable"; verifying a signature needs more).
    pub fn can_verify(&self, alg: &CoreJwsSigningAlgorithm) -> bool {
        use CoreJwsSigningAlgorithm as A;
        if check_compatible(self, alg).is_err() {
            return false;
        }
        match (&self.0.material, alg) {
            (Material::Rsa { .. }, _) => rsa_parameters(alg).is_some(),
            (Material::Ec { curve, .. }, A::EcdsaP256Sha256) => *curve == Curve::P256,
            (Material::Ec { curve, .. }, A::EcdsaP384Sha384) => *curve == Curve::P384,
            (Material::Ed25519, A::EdDsa) => true,
            _ => false,
        }
    }

    fn new(jwk: CoreJsonWebKey) -> Self {
        let material = material(&jwk);
        Self(Arc::new(Inner { jwk, material }))
    }
}

/// Reads the key material of `jwk` from its serialized form: openidconnect keeps the fields
/// private, and serializes exactly the parts it understood (a part that did not parse is absent,
/// so it is reported missing here as openidconnect reports it).
fn material(jwk: &CoreJsonWebKey) -> Material {
    let json = match serde_json::to_value(jwk) {
        Ok(json) => json,
        Err(e) => return Material::Unusable(format!("the key does not serialize: {e}")),
    };
    let bytes = |name: &str| {
        json.get(name)
            .and_then(Value::as_str)
            .and_then(|b64| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(b64)
                    .ok()
            })
            .ok_or_else(|| format!("`{name}` is missing"))
    };
    let read = || -> Result<Material, String> {
        match jwk.key_type() {
            CoreJsonWebKeyType::RSA => Ok(Material::Rsa {
                n: without_leading_zeros(bytes("n")?),
                e: without_leading_zeros(bytes("e")?),
            }),
            CoreJsonWebKeyType::EllipticCurve => {
                let curve = match json.get("crv").and_then(Value::as_str) {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    other => return Err(format!("unsupported EC curve {other:?}")),
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                let size = match curve {
                    Curve::P384 => 48,
                    _ => 32,
                };
                // Each coordinate has the curve's size (RFC 7518 section 6.2.1.2): a short `x`
                // and a long `y` would still make a point of the right length.
                if x.len() != size || y.len() != size {
                    return Err(format!("EC coordinates must be {size} bytes each"));
                }
                let mut point = vec![0x04];
                point.extend(x);
                point.extend(y);
                Ok(Material::Ec { curve, point })
            }
            CoreJsonWebKeyType::OctetKeyPair => match json.get("crv").and_then(Value::as_str) {
                Some("Ed25519") => Ok(Material::Ed25519),
                other => Err(format!("unsupported OKP curve {other:?}")),
            },
            CoreJsonWebKeyType::Symmetric => Ok(Material::Symmetric(bytes("k")?)),
            other => Err(format!("unsupported key type {other:?}")),
        }
    };
    read().unwrap_or_else(Material::Unusable)
}

fn without_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// openidconnect's `check_key_compatibility` (crate-private there, so written out here): the
/// key may sign (`use`), has the algorithm's key type, and names this algorithm or none.
pub(crate) fn check_compatible(
    key: &RingJsonWebKey,
    alg: &CoreJwsSigningAlgorithm,
) -> Result<(), SignatureVerificationError> {
    let invalid = |why: &str| Err(SignatureVerificationError::InvalidKey(why.to_string()));
    if key.key_use().is_some_and(|u| !u.allows_signature()) {
        return invalid("key usage not permitted for digital signatures");
    }
    if alg.key_type().as_ref() != Some(key.key_type()) {
        return invalid("key type does not match signature algorithm");
    }
    match key.signing_alg() {
        JsonWebKeyAlgorithm::Unspecified => Ok(()),
        JsonWebKeyAlgorithm::Algorithm(key_alg) if key_alg == alg => Ok(()),
        JsonWebKeyAlgorithm::Algorithm(_) => invalid("incompatible key algorithm"),
        JsonWebKeyAlgorithm::Unsupported => invalid("key algorithm is not a signing algorithm"),
    }
}

/// ring's RSA parameters for an RS*/PS* algorithm (moduli of 2048 to 8192 bits; the JWKS cache
/// already refuses shorter ones).
fn rsa_parameters(alg: &CoreJwsSigningAlgorithm) -> Option<&'static signature::RsaParameters> {
    use CoreJwsSigningAlgorithm as A;
    Some(match alg {
        A::RsaSsaPkcs1V15Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        A::RsaSsaPkcs1V15Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        A::RsaSsaPkcs1V15Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        A::RsaSsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        A::RsaSsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        A::RsaSsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn hmac_algorithm(alg: &CoreJwsSigningAlgorithm) -> Option<ring::hmac::Algorithm> {
    use CoreJwsSigningAlgorithm as A;
    match alg {
        A::HmacSha256 => Some(ring::hmac::HMAC_SHA256),
        A::HmacSha384 => Some(ring::hmac::HMAC_SHA384),
        A::HmacSha512 => Some(ring::hmac::HMAC_SHA512),
        _ => None,
    }
}

impl JsonWebKey for RingJsonWebKey {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.0.jwk.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.0.jwk.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.0.jwk.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.0.jwk.signing_alg()
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        Self(Arc::new(Inner {
            jwk: CoreJsonWebKey::new_symmetric(key.clone()),
            material: Material::Symmetric(key),
        }))
    }

    fn verify_signature(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        use CoreJwsSigningAlgorithm as A;
        check_compatible(self, alg)?;
        let supported = rsa_parameters(alg).is_some()
            || hmac_algorithm(alg).is_some()
            || matches!(alg, A::EcdsaP256Sha256 | A::EcdsaP384Sha384 | A::EdDsa);
        if !supported {
            return Err(unsupported(alg));
        }
        let bad = |_| SignatureVerificationError::CryptoError("bad signature".to_string());
        let other_curve = || {
            Err(SignatureVerificationError::InvalidKey(
                "Key uses different CRV than JWT".to_string(),
            ))
        };
        match (&self.0.material, alg) {
            (Material::Unusable(why), _) => {
                Err(SignatureVerificationError::InvalidKey(why.clone()))
            }
            (Material::Rsa { n, e }, alg) => {
                let Some(parameters) = rsa_parameters(alg) else {
                    return Err(unsupported(alg));
                };
                RsaPublicKeyComponents { n, e }
                    .verify(parameters, message, sig)
                    .map_err(bad)
            }
            (Material::Symmetric(key), alg) => {
                let Some(algorithm) = hmac_algorithm(alg) else {
                    return Err(unsupported(alg));
                };
                // Constant-time comparison (ring).
                ring::hmac::verify(&ring::hmac::Key::new(algorithm, key), message, sig).map_err(bad)
            }
            (Material::Ec { curve, point }, A::EcdsaP256Sha256) => match curve {
                Curve::P256 => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .map_err(bad),
                _ => other_curve(),
            },
            (Material::Ec { curve, point }, A::EcdsaP384Sha384) => match curve {
                Curve::P384 => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
                    .map_err(bad),
                _ => other_curve(),
            },
            (Material::Ed25519, A::EdDsa) => self.0.jwk.verify_signature(alg, message, sig),
            (_, alg) => Err(unsupported(alg)),
        }
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.0.jwk.hash_bytes(bytes, alg)
    }
}

fn unsupported(alg: &CoreJwsSigningAlgorithm) -> SignatureVerificationError {
    SignatureVerificationError::UnsupportedAlg(
        serde_json::to_value(alg)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("{alg:?}")),
    )
}

impl Serialize for RingJsonWebKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.jwk.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RingJsonWebKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CoreJsonWebKey::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
                assert!(reason.contains("CRV"), "{reason}");
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
}
