//! jsonwebtoken's crypto backend on ring.
//!
//! jsonwebtoken parses and validates tokens but leaves every signature to a
//! [`CryptoProvider`]; it ships two, RustCrypto and aws-lc-rs, and neither is ring, the crypto
//! family rustls already brings. So this one is written by hand: a thin map from jsonwebtoken's
//! algorithms and key formats to ring's verifiers and signers, nothing more. [`install`] makes
//! it the process's provider; every entry point of this crate calls it first, since jsonwebtoken
//! built without a backend feature panics on its first signature otherwise.
//!
//! Key formats, as jsonwebtoken stores them: RSA keys from PEM as a PKCS#1 `RSAPublicKey` /
//! `RSAPrivateKey` (ring's own formats), RSA keys from a JWK as the modulus and exponent, EC
//! public keys as an uncompressed SEC1 point and private ones as PKCS#8, Ed25519 public keys as
//! the 32 raw bytes and private ones as PKCS#8.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair as _};

/// The ring provider; see the module documentation.
pub static RING: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_of_private_key,
        rsa_pub_components_from_public_key: rsa_components_of_public_key,
        ec_pub_components_from_private_key: ec_components_of_private_key,
        ed_pub_components_from_private_key: ed_component_of_private_key,
        compute_digest: digest,
    },
};

/// Makes [`RING`] jsonwebtoken's provider for this process; whether it is. Idempotent and
/// cheap. `false` when something reached jsonwebtoken first (its stand-in provider, which
/// panics, or one a program embedding the gateway installed): the callers then refuse to
/// decode rather than panic or verify with another backend. Nothing in this workspace does
/// (clippy's `disallowed-methods` keeps jsonwebtoken's calls behind this crate).
pub fn install() -> bool {
    match RING.install_default() {
        Ok(()) => true,
        Err(installed) => std::ptr::eq(installed, &RING),
    }
}

/// The error of a call made when [`install`] failed.
pub(crate) fn not_installed() -> Error {
    ErrorKind::Provider(
        "another jsonwebtoken crypto provider was installed before idp-jose's ring provider".into(),
    )
    .into()
}

/// ring's verification algorithm for a public-key `alg`, `None` for HMAC.
fn public_key_algorithm(alg: Algorithm) -> Option<&'static dyn sig::VerificationAlgorithm> {
    if let Some(rsa) = rsa_components_algorithm(alg) {
        return Some(rsa);
    }
    match alg {
        Algorithm::ES256 => Some(&sig::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Some(&sig::ECDSA_P384_SHA384_FIXED),
        Algorithm::EdDSA => Some(&sig::ED25519),
        // HMAC, and any algorithm a later jsonwebtoken adds.
        _ => None,
    }
}

fn hmac_algorithm(alg: Algorithm) -> Option<ring::hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(ring::hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(ring::hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(ring::hmac::HMAC_SHA512),
        _ => None,
    }
}

/// The RSA parameters for RS*/PS* (2048 to 8192 bits), for an encoded key or a modulus and
/// exponent (`RsaPublicKeyComponents`).
fn rsa_components_algorithm(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
    use Algorithm as A;
    Some(match alg {
        A::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        A::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        A::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        A::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        A::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        A::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// The key material one verification needs, owned (jsonwebtoken's verifiers are `'static`).
enum VerifyKey {
    Hmac(ring::hmac::Key),
    /// Modulus and exponent, big-endian without leading zeros (ring refuses them).
    RsaComponents(&'static sig::RsaParameters, Vec<u8>, Vec<u8>),
    /// ring's encoding of the public key for `alg`.
    Encoded(&'static dyn sig::VerificationAlgorithm, Vec<u8>),
}

struct RingVerifier {
    alg: Algorithm,
    key: VerifyKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> signature::Result<()> {
        let checked = match &self.key {
            // Constant-time comparison (ring).
            VerifyKey::Hmac(key) => ring::hmac::verify(key, message, signature),
            VerifyKey::RsaComponents(parameters, n, e) => {
                sig::RsaPublicKeyComponents { n, e }.verify(parameters, message, signature)
            }
            VerifyKey::Encoded(algorithm, key) => {
                sig::UnparsedPublicKey::new(*algorithm, key).verify(message, signature)
            }
        };
        checked.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

/// The key must be of `alg`'s family: an RSA key never checks an HMAC, nor the reverse.
fn same_family(alg: Algorithm, family: AlgorithmFamily) -> Result<()> {
    if alg.family() == family {
        Ok(())
    } else {
        Err(ErrorKind::InvalidAlgorithm.into())
    }
}

fn without_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes[zeros..].to_vec()
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let alg = *alg;
    same_family(alg, key.family())?;
    let key = match (key.kind(), hmac_algorithm(alg), public_key_algorithm(alg)) {
        (DecodingKeyKind::SecretOrDer(secret), Some(hmac), _) => {
            VerifyKey::Hmac(ring::hmac::Key::new(hmac, secret))
        }
        (DecodingKeyKind::SecretOrDer(encoded), None, Some(algorithm)) => {
            VerifyKey::Encoded(algorithm, encoded.clone())
        }
        (DecodingKeyKind::RsaModulusExponent { n, e }, None, _) => {
            let parameters = rsa_components_algorithm(alg).ok_or(ErrorKind::InvalidAlgorithm)?;
            VerifyKey::RsaComponents(
                parameters,
                without_leading_zeros(n),
                without_leading_zeros(e),
            )
        }
        _ => return Err(ErrorKind::InvalidKeyFormat.into()),
    };
    Ok(Box::new(RingVerifier { alg, key }))
}

/// A signing key: only tests and the demo's provider sign.
enum SignKey {
    Hmac(ring::hmac::Key),
    Rsa(&'static dyn sig::RsaEncoding, sig::RsaKeyPair),
    Ecdsa(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
}

struct RingSigner {
    alg: Algorithm,
    key: SignKey,
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> signature::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.key {
            SignKey::Hmac(key) => Ok(ring::hmac::sign(key, message).as_ref().to_vec()),
            SignKey::Rsa(padding, pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(*padding, &rng, message, &mut out)
                    .map_err(|_| signature::Error::new())?;
                Ok(out)
            }
            SignKey::Ecdsa(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SignKey::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    use Algorithm as A;
    let alg = *alg;
    same_family(alg, key.family())?;
    let der = key.as_bytes();
    let rng = SystemRandom::new();
    let rsa = |padding: &'static dyn sig::RsaEncoding| {
        sig::RsaKeyPair::from_der(der)
            .map(|pair| SignKey::Rsa(padding, pair))
            .map_err(|e| Error::from(ErrorKind::InvalidRsaKey(e.to_string())))
    };
    let ecdsa = |algorithm| {
        sig::EcdsaKeyPair::from_pkcs8(algorithm, der, &rng)
            .map(SignKey::Ecdsa)
            .map_err(|_| Error::from(ErrorKind::InvalidEcdsaKey))
    };
    let key = match alg {
        A::HS256 | A::HS384 | A::HS512 => {
            let hmac = hmac_algorithm(alg).ok_or(ErrorKind::InvalidAlgorithm)?;
            SignKey::Hmac(ring::hmac::Key::new(hmac, der))
        }
        A::RS256 => rsa(&sig::RSA_PKCS1_SHA256)?,
        A::RS384 => rsa(&sig::RSA_PKCS1_SHA384)?,
        A::RS512 => rsa(&sig::RSA_PKCS1_SHA512)?,
        A::PS256 => rsa(&sig::RSA_PSS_SHA256)?,
        A::PS384 => rsa(&sig::RSA_PSS_SHA384)?,
        A::PS512 => rsa(&sig::RSA_PSS_SHA512)?,
        A::ES256 => ecdsa(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)?,
        A::ES384 => ecdsa(&sig::ECDSA_P384_SHA384_FIXED_SIGNING)?,
        A::EdDSA => sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(SignKey::Ed25519)
            .map_err(|_| ErrorKind::InvalidEddsaKey)?,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(Box::new(RingSigner { alg, key }))
}

fn rsa_components_of_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let pair =
        sig::RsaKeyPair::from_der(der).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    let public: sig::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    Ok((public.n, public.e))
}

fn rsa_components_of_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    crate::key::rsa_public_components(der)
        .ok_or_else(|| ErrorKind::InvalidRsaKey("not a PKCS#1 RSAPublicKey".into()).into())
}

fn ec_components_of_private_key(
    der: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
    let (curve, algorithm, size): (_, &'static sig::EcdsaSigningAlgorithm, _) = match alg {
        Algorithm::ES256 => (
            EllipticCurve::P256,
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            32,
        ),
        Algorithm::ES384 => (
            EllipticCurve::P384,
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            48,
        ),
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let pair = sig::EcdsaKeyPair::from_pkcs8(algorithm, der, &SystemRandom::new())
        .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
    // An uncompressed SEC1 point: 04 || x || y.
    match pair.public_key().as_ref() {
        [0x04, xy @ ..] if xy.len() == 2 * size => {
            let (x, y) = xy.split_at(size);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn ed_component_of_private_key(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    ed25519_public_key(der)
}

/// The 32-byte public key of a PKCS#8 (v1 or v2) Ed25519 private key.
pub(crate) fn ed25519_public_key(der: &[u8]) -> Result<Vec<u8>> {
    sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
        .map(|pair| pair.public_key().as_ref().to_vec())
        .map_err(|_| ErrorKind::InvalidEddsaKey.into())
}

fn digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}
