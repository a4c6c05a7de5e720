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
mod tests;
