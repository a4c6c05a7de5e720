//! openidconnect's JSON Web Key, with its signatures checked by idp-jose.
//!
//! [`RingJsonWebKey`] is openidconnect's own `CoreJsonWebKey` for everything openidconnect
//! decides (`kid`, `kty`, `use`, `alg`, the choice of the key, `at_hash`), with one difference:
//! its signature check is [`idp_jose::PublicKey::verify`], the one path every token of the
//! gateway goes through (ring; see idp-jose). Both views are read from the same JSON object
//! when the JWKS is loaded, once.
//!
//! Why not openidconnect's own check: its RSA path (RustCrypto's `rsa`) rebuilds the key with
//! `num-bigint-dig` arithmetic for every token and costs several times ring's, and a second
//! verification path is a second place for a JOSE bug. `cargo bench -p idp-provider-oidc
//! --bench id_token` measures the whole `verify_id_token`.
//!
//! `check_compatible` copies a crate-private openidconnect function; `jwk/tests.rs` holds it to
//! openidconnect's own key type, key by key and algorithm by algorithm (a differential test).
//!
//! Owns: the openidconnect key type over idp-jose's key. Must not: choose a key, or accept an
//! algorithm the key's type, curve, `use` or `alg` does not allow; those checks are
//! openidconnect's (`check_key_compatibility`), repeated here for every call as openidconnect's
//! own key does.

use std::sync::Arc;

use idp_jose::{Algorithm, KeyKind, PublicKey, SignatureError};
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeySet, JsonWebKeyUse,
    JwsSigningAlgorithm, SignatureVerificationError,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The key set the provider verifies with: openidconnect's set of [`RingJsonWebKey`]s.
pub type KeySet = JsonWebKeySet<RingJsonWebKey>;

/// A curve of an EC or OKP key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (ES256).
    P256,
    /// NIST P-384 (ES384).
    P384,
    /// Ed25519 (EdDSA).
    Ed25519,
}

struct Inner {
    jwk: CoreJsonWebKey,
    /// The key to verify with, or why the JWK's material could not be read (every
    /// verification then fails with that reason, as openidconnect's key fails at verification
    /// time).
    key: Result<PublicKey, String>,
}

/// openidconnect's `CoreJsonWebKey`, verified by idp-jose; see the module documentation. Cheap
/// to clone (shared), since openidconnect's verifier takes the whole key set by value.
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
    /// The curve of an EC or OKP key that idp-jose verifies with.
    pub fn curve(&self) -> Option<Curve> {
        match self.0.key.as_ref().map(PublicKey::kind) {
            Ok(KeyKind::P256) => Some(Curve::P256),
            Ok(KeyKind::P384) => Some(Curve::P384),
            Ok(KeyKind::Ed25519) => Some(Curve::Ed25519),
            _ => None,
        }
    }

    /// Whether this key can verify `alg` at all: its use, type, `alg` and curve allow it and its
    /// material was readable (check-config's "keys usable"; verifying a signature needs more).
    pub fn can_verify(&self, alg: &CoreJwsSigningAlgorithm) -> bool {
        check_compatible(self, alg).is_ok()
            && match (&self.0.key, jose_algorithm(alg)) {
                (Ok(key), Some(alg)) => key.kind().fits(alg),
                _ => false,
            }
    }

    fn from_json(json: &Value) -> Result<Self, serde_json::Error> {
        // A key idp-jose cannot read (a symmetric one, another type or curve) stays in the set
        // with the reason, reported at verification time as openidconnect's own key does.
        Ok(Self(Arc::new(Inner {
            jwk: CoreJsonWebKey::deserialize(json)?,
            key: PublicKey::from_jwk(json),
        })))
    }
}

/// idp-jose's name of an openidconnect algorithm; `None` for those it does not verify (ES512,
/// `none`).
fn jose_algorithm(alg: &CoreJwsSigningAlgorithm) -> Option<Algorithm> {
    use CoreJwsSigningAlgorithm as A;
    Some(match alg {
        A::RsaSsaPkcs1V15Sha256 => Algorithm::RS256,
        A::RsaSsaPkcs1V15Sha384 => Algorithm::RS384,
        A::RsaSsaPkcs1V15Sha512 => Algorithm::RS512,
        A::RsaSsaPssSha256 => Algorithm::PS256,
        A::RsaSsaPssSha384 => Algorithm::PS384,
        A::RsaSsaPssSha512 => Algorithm::PS512,
        A::EcdsaP256Sha256 => Algorithm::ES256,
        A::EcdsaP384Sha384 => Algorithm::ES384,
        A::EdDsa => Algorithm::EdDSA,
        A::HmacSha256 => Algorithm::HS256,
        A::HmacSha384 => Algorithm::HS384,
        A::HmacSha512 => Algorithm::HS512,
        _ => return None,
    })
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
            key: Ok(PublicKey::from_secret(&key)),
            jwk: CoreJsonWebKey::new_symmetric(key),
        }))
    }

    fn verify_signature(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        check_compatible(self, alg)?;
        let Some(jose_alg) = jose_algorithm(alg) else {
            return Err(unsupported(alg));
        };
        let key = self
            .0
            .key
            .as_ref()
            .map_err(|why| SignatureVerificationError::InvalidKey(why.clone()))?;
        key.verify(jose_alg, message, sig).map_err(|e| match e {
            SignatureError::KeyDoesNotFit { .. } => {
                SignatureVerificationError::InvalidKey(format!(
                    "{e}: another curve, or an RSA key under {} bits",
                    idp_jose::MIN_RSA_BITS
                ))
            }
            SignatureError::Invalid => {
                SignatureVerificationError::CryptoError("bad signature".to_string())
            }
        })
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
        let json = Value::deserialize(deserializer)?;
        Self::from_json(&json).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
