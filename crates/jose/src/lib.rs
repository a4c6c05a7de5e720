//! The one JOSE verification path of idp-bridge.
//!
//! Every signature the gateway checks (ID tokens, back-channel logout tokens, signed
//! assertions) is checked by [`PublicKey::verify`] or by jsonwebtoken's [`decode`] over the same
//! ring backend ([`backend`]), with keys read once by [`PublicKey`] and, for a JWKS, fetched
//! and cached by [`JwksCache`] under the same rules for every provider (weak RSA and symmetric
//! keys refused, single-flight loads, a rate-limited refetch on an unknown `kid`, stale keys
//! within a bound during an outage).
//!
//! Which library does what: openidconnect runs the OpenID Connect flow and decides which key
//! and algorithm an ID token may use; jsonwebtoken parses and validates signed assertions;
//! ring, through this crate, checks every signature. openidconnect's own RustCrypto
//! dependencies are compiled with it but never verify a signature here.

pub mod backend;
pub mod fetch;
pub mod jwks;
pub mod key;
pub mod set;

pub use jsonwebtoken::{
    Algorithm, EncodingKey, Header, TokenData, Validation, decode_header, errors,
};
pub use jwks::{DEFAULT_MAX_STALE, JwksCache};
pub use key::{KeyKind, MIN_RSA_BITS, PublicKey, SignatureError};
pub use set::{Jwk, KeySet};

/// jsonwebtoken's `decode` with `key`, on the ring backend.
///
/// # Errors
/// jsonwebtoken's verdict: the signature, the header or a claim check failed.
#[allow(clippy::disallowed_methods)] // the one place it is called; see `backend::install`
pub fn decode<T: serde::de::DeserializeOwned>(
    token: &str,
    key: &PublicKey,
    validation: &Validation,
) -> errors::Result<TokenData<T>> {
    if !backend::install() {
        return Err(backend::not_installed());
    }
    // Refused before jsonwebtoken, whose backend sees only the key's bytes.
    if let KeyKind::Rsa { bits } = key.kind()
        && bits < MIN_RSA_BITS
    {
        let why = format!("an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required");
        return Err(errors::ErrorKind::InvalidRsaKey(why).into());
    }
    jsonwebtoken::decode(token, key.decoding_key(), validation)
}

/// jsonwebtoken's `encode`, on the ring backend (test providers and tools sign; the gateway
/// never does).
///
/// # Errors
/// When the key does not fit the header's algorithm.
#[allow(clippy::disallowed_methods)] // the one place it is called; see `backend::install`
pub fn encode<T: serde::Serialize>(
    header: &Header,
    claims: &T,
    key: &EncodingKey,
) -> errors::Result<String> {
    if !backend::install() {
        return Err(backend::not_installed());
    }
    jsonwebtoken::encode(header, claims, key)
}

/// The base64url signature of `message` with `key` and `alg`, on the ring backend (for test
/// providers that build tokens byte by byte).
///
/// # Errors
/// When the key does not fit `alg`.
#[allow(clippy::disallowed_methods)] // the one place it is called; see `backend::install`
pub fn sign(message: &[u8], key: &EncodingKey, alg: Algorithm) -> errors::Result<String> {
    if !backend::install() {
        return Err(backend::not_installed());
    }
    jsonwebtoken::crypto::sign(message, key, alg)
}

/// The public JWK of a private `key` (test providers publish their keys with it).
///
/// # Errors
/// When the key does not fit `alg`.
#[allow(clippy::disallowed_methods)] // the one place it is called; see `backend::install`
pub fn public_jwk(key: &EncodingKey, alg: Algorithm) -> errors::Result<jsonwebtoken::jwk::Jwk> {
    if !backend::install() {
        return Err(backend::not_installed());
    }
    if alg != Algorithm::EdDSA {
        return jsonwebtoken::jwk::Jwk::from_encoding_key(key, alg);
    }
    // jsonwebtoken reads only the 48-byte PKCS#8 v1 form of an Ed25519 key; ring reads v2
    // (with the public key, as rcgen and OpenSSL 3 write it) too.
    use base64::Engine as _;
    let x = backend::ed25519_public_key(key.as_bytes())?;
    let jwk = serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x),
    });
    serde_json::from_value(jwk).map_err(|e| errors::ErrorKind::Json(e.into()).into())
}
