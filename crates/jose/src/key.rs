//! Verification keys: a JWK, a PEM public key or a shared secret, read once into the form
//! jsonwebtoken and [`crate::backend`] verify with, plus what the key rules need to know (the
//! key's type, curve and RSA size).
//!
//! Owns: reading key material and [`PublicKey::verify`], the one signature check every token
//! type goes through. Must not: choose a key for a token (the callers do, by `kid`, `use` and
//! `alg`), or turn a public key into an HMAC secret.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use serde_json::Value;

use crate::backend;

/// Smallest RSA modulus accepted, in bits (JWT attack list: weak keys).
pub const MIN_RSA_BITS: usize = 2048;

/// What a key is, as far as the choice of an algorithm goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An RSA key (RS*, PS*), with its modulus size to the bit.
    Rsa {
        /// The modulus's size in bits.
        bits: usize,
    },
    /// An EC key on NIST P-256 (ES256).
    P256,
    /// An EC key on NIST P-384 (ES384).
    P384,
    /// An Ed25519 key (EdDSA).
    Ed25519,
    /// A shared secret (HS*): only ever a client secret or a configured one, never a JWKS key.
    Secret,
}

impl KeyKind {
    /// Whether a key of this kind can check `alg` at all: of the algorithm's type and curve,
    /// and an RSA key of at least [`MIN_RSA_BITS`] (counted to the bit: ring's own minimum
    /// rounds up to whole bytes and would take a 2041-bit key).
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm as A;
        match self {
            Self::Rsa { bits } => bits >= MIN_RSA_BITS && alg.family() == AlgorithmFamily::Rsa,
            Self::P256 => alg == A::ES256,
            Self::P384 => alg == A::ES384,
            Self::Ed25519 => alg == A::EdDSA,
            Self::Secret => alg.family() == AlgorithmFamily::Hmac,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key cannot check this algorithm (another type or curve, or an RSA key under
    /// [`MIN_RSA_BITS`]).
    #[error("a {kind:?} key cannot check {alg:?}")]
    KeyDoesNotFit {
        /// The key's kind.
        kind: KeyKind,
        /// The token's algorithm.
        alg: Algorithm,
    },
    /// The signature does not verify with this key.
    #[error("bad signature")]
    Invalid,
}

/// A key to check signatures with; see the module documentation. Cheap to clone for public
/// keys of ordinary size.
#[derive(Clone)]
pub struct PublicKey {
    kind: KeyKind,
    key: DecodingKey,
}

/// The kind only: a secret key's bytes are the client secret.
impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Reads the public key of a JWK (`kty` RSA, EC on P-256 or P-384, OKP on Ed25519). A
    /// symmetric (`oct`) JWK is refused: HMAC keys come only from configuration.
    ///
    /// # Errors
    /// A reason naming the missing or malformed member, or the unsupported type or curve.
    pub fn from_jwk(jwk: &Value) -> Result<Self, String> {
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let bytes = |name: &str| {
            text(name)
                .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
                .ok_or_else(|| format!("`{name}` is missing"))
        };
        match text("kty") {
            Some("RSA") => {
                let (n, e) = (bytes("n")?, bytes("e")?);
                Ok(Self {
                    kind: KeyKind::Rsa {
                        bits: modulus_bits(&n),
                    },
                    key: DecodingKey::from_rsa_raw_components(&n, &e),
                })
            }
            Some("EC") => {
                let (kind, size) = match text("crv") {
                    Some("P-256") => (KeyKind::P256, 32),
                    Some("P-384") => (KeyKind::P384, 48),
                    other => return Err(format!("unsupported EC curve {other:?}")),
                };
                let (x, y) = (bytes("x")?, bytes("y")?);
                // Each coordinate has the curve's size (RFC 7518 section 6.2.1.2): a short `x`
                // and a long `y` would still make a point of the right length.
                if x.len() != size || y.len() != size {
                    return Err(format!("EC coordinates must be {size} bytes each"));
                }
                let point = [&[0x04][..], &x, &y].concat();
                Ok(Self {
                    kind,
                    key: DecodingKey::from_ec_der(&point),
                })
            }
            Some("OKP") => match text("crv") {
                Some("Ed25519") => {
                    let x = bytes("x")?;
                    if x.len() != 32 {
                        return Err("an Ed25519 `x` is 32 bytes".into());
                    }
                    Ok(Self {
                        kind: KeyKind::Ed25519,
                        key: DecodingKey::from_ed_der(&x),
                    })
                }
                other => Err(format!("unsupported OKP curve {other:?}")),
            },
            Some("oct") => Err("symmetric keys are never taken from a JWKS".into()),
            other => Err(format!("unsupported key type {other:?}")),
        }
    }

    /// Reads one PEM public key (SPKI `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`): RSA, EC on
    /// P-256 or P-384 (by the curve the key names), or Ed25519.
    ///
    /// # Errors
    /// When the PEM is no public key, or holds none of these (another curve included).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let block = pem::parse(pem).map_err(|e| format!("is not valid PEM: {e}"))?;
        match block.tag() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
            tag => return Err(format!("is a {tag:?} block, not a public key")),
        }
        if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            let Some(kind) = ec_curve(block.contents()) else {
                return Err("is an EC key on a curve other than P-256 or P-384".into());
            };
            return Ok(Self { kind, key });
        }
        if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            return Ok(Self {
                kind: KeyKind::Ed25519,
                key,
            });
        }
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            let bits = match key.kind() {
                DecodingKeyKind::SecretOrDer(der) => rsa_public_components(der)
                    .map(|(n, _)| modulus_bits(&n))
                    .unwrap_or(0),
                DecodingKeyKind::RsaModulusExponent { n, .. } => modulus_bits(n),
            };
            return Ok(Self {
                kind: KeyKind::Rsa { bits },
                key,
            });
        }
        Err("is not an RSA, EC or Ed25519 public key".into())
    }

    /// A shared secret for HS256, HS384 and HS512.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            kind: KeyKind::Secret,
            key: DecodingKey::from_secret(secret),
        }
    }

    /// What this key is.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The key as jsonwebtoken takes it (for [`crate::decode`]).
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    /// Checks `signature` over `message` with `alg`, through the same ring backend
    /// jsonwebtoken's decoding uses.
    ///
    /// # Errors
    /// When the key cannot check `alg`, or the signature is not valid.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if !self.kind.fits(alg) {
            return Err(SignatureError::KeyDoesNotFit {
                kind: self.kind,
                alg,
            });
        }
        let verifier = (backend::RING.verifier_factory)(&alg, &self.key)
            .map_err(|_| SignatureError::Invalid)?;
        verifier
            .verify(message, &signature.to_vec())
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The bit length of a big-endian modulus: to the bit, not the byte (a 2041-bit modulus fills
/// 256 bytes too).
pub fn modulus_bits(modulus: &[u8]) -> usize {
    let mut significant = modulus.iter().skip_while(|b| **b == 0);
    match significant.next() {
        Some(first) => (significant.count() + 1) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// The namedCurve OIDs of P-256 (prime256v1) and P-384 (secp384r1), RFC 5480 section 2.1.1.1.
const P256: [u64; 7] = [1, 2, 840, 10045, 3, 1, 7];
const P384: [u64; 5] = [1, 3, 132, 0, 34];

/// The curve an EC `SubjectPublicKeyInfo` (DER) names, when it is P-256 or P-384
/// (jsonwebtoken reads only the point, whose length a 256-bit curve such as secp256k1 shares
/// with P-256).
fn ec_curve(spki: &[u8]) -> Option<KeyKind> {
    use simple_asn1::ASN1Block;
    let blocks = simple_asn1::from_der(spki).ok()?;
    let [ASN1Block::Sequence(_, parts)] = blocks.as_slice() else {
        return None;
    };
    let [ASN1Block::Sequence(_, algorithm), ASN1Block::BitString(..)] = parts.as_slice() else {
        return None;
    };
    let [_, ASN1Block::ObjectIdentifier(_, curve)] = algorithm.as_slice() else {
        return None;
    };
    let arcs: Vec<u64> = curve.as_vec().ok()?;
    match arcs.as_slice() {
        named if named == P256 => Some(KeyKind::P256),
        named if named == P384 => Some(KeyKind::P384),
        _ => None,
    }
}

/// The modulus and exponent of a PKCS#1 `RSAPublicKey` (DER), big-endian without sign bytes.
pub(crate) fn rsa_public_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use simple_asn1::ASN1Block;
    let blocks = simple_asn1::from_der(der).ok()?;
    let [ASN1Block::Sequence(_, parts)] = blocks.as_slice() else {
        return None;
    };
    let [ASN1Block::Integer(_, n), ASN1Block::Integer(_, e)] = parts.as_slice() else {
        return None;
    };
    let unsigned = |i: &simple_asn1::BigInt| i.to_biguint().map(|u| u.to_bytes_be());
    Some((unsigned(n)?, unsigned(e)?))
}

#[cfg(test)]
mod tests;
