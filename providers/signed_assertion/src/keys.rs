//! The keys a `jwt` assertion is verified with: PEM public keys from the configuration, or the
//! keys of a JWKS (fetched and cached by the oidc crate's `JwksCache`).
//!
//! Each key verifies exactly one algorithm, fixed by its type: RSA → RS256, EC P-256 → ES256,
//! Ed25519 → EdDSA. A key never becomes an HMAC secret, and a token's `jku`, `x5u`, `jwk` or
//! `x5c` header is never read.

use base64::Engine as _;
use idp_provider_oidc::jwk::KeySet;
use idp_provider_oidc::jwks::MIN_RSA_BITS;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::config::MAX_KEYS;

/// One verification key.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    /// The JWKS `kid`; PEM keys have none.
    pub kid: Option<String>,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The keys of `public_keys`, checked at configuration time.
#[derive(Debug, Clone)]
pub struct PemKeys(pub(crate) Vec<VerifyKey>);

impl PemKeys {
    /// Reads every PEM block of every entry. Only public keys of a supported type whose
    /// algorithm is in `algs` are accepted; anything else is a reason naming the key by its
    /// position (never its content).
    pub(crate) fn parse(texts: &[String], algs: &[Algorithm]) -> Result<Self, Vec<String>> {
        let mut keys = Vec::new();
        let mut reasons = Vec::new();
        let mut index = 0;
        for (entry, text) in texts.iter().enumerate() {
            let blocks = match pem::parse_many(text) {
                Ok(blocks) if !blocks.is_empty() => blocks,
                Ok(_) => {
                    reasons.push(format!(
                        "entry #{} holds no PEM block (-----BEGIN PUBLIC KEY-----)",
                        entry + 1
                    ));
                    continue;
                }
                Err(e) => {
                    reasons.push(format!("entry #{} is not valid PEM: {e}", entry + 1));
                    continue;
                }
            };
            for block in blocks {
                index += 1;
                match public_key(&block) {
                    Ok(key) if algs.contains(&key.alg) => keys.push(key),
                    Ok(key) => reasons.push(format!(
                        "key #{index} is a {:?} key, but {:?} is not in allowed_algs",
                        key.alg, key.alg
                    )),
                    Err(why) => reasons.push(format!("key #{index} {why}")),
                }
            }
        }
        if keys.len() > MAX_KEYS {
            reasons.push(format!("lists {} keys, at most {MAX_KEYS}", keys.len()));
        }
        if texts.is_empty() {
            reasons.push("must list at least one PEM public key".into());
        }
        if reasons.is_empty() {
            Ok(Self(keys))
        } else {
            Err(reasons)
        }
    }
}

/// A PEM block as a verification key.
fn public_key(block: &pem::Pem) -> Result<VerifyKey, String> {
    match block.tag() {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        tag if tag.contains("PRIVATE") => {
            return Err(format!(
                "is a private key ({tag}): give the public key; the private key stays with \
                 the signer"
            ));
        }
        tag => return Err(format!("is a {tag:?} block, not a public key")),
    }
    let text = pem::encode(block);
    let bytes = text.as_bytes();
    let (alg, key) = if let Ok(key) = DecodingKey::from_ec_pem(bytes) {
        match Jwk::from_decoding_key(&key, None).map(|jwk| jwk.algorithm) {
            Ok(AlgorithmParameters::EllipticCurve(ec)) if ec.curve == EllipticCurve::P256 => {
                (Algorithm::ES256, key)
            }
            _ => return Err("is an EC key on a curve other than P-256 (ES256)".into()),
        }
    } else if let Ok(key) = DecodingKey::from_ed_pem(bytes) {
        (Algorithm::EdDSA, key)
    } else if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
        let bits = match Jwk::from_decoding_key(&key, None).map(|jwk| jwk.algorithm) {
            Ok(AlgorithmParameters::RSA(rsa)) => modulus_bits(&rsa.n),
            _ => 0,
        };
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "is an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
            ));
        }
        (Algorithm::RS256, key)
    } else {
        return Err("is not an RSA, EC P-256 or Ed25519 public key".into());
    };
    Ok(VerifyKey {
        kid: None,
        alg,
        key,
    })
}

/// Bits of a base64url big-endian modulus, without leading zero bytes.
fn modulus_bits(n: &str) -> usize {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(n)
        .map(|bytes| bytes.iter().skip_while(|b| **b == 0).count() * 8)
        .unwrap_or(0)
}

/// The usable keys of a JWKS the cache holds (it already dropped symmetric and weak RSA keys).
/// A key whose `use` is not `sig`, whose `alg` disagrees with its type, or whose type is none
/// of RSA, EC P-256 and Ed25519 is skipped.
pub(crate) fn from_jwks(set: &KeySet, algs: &[Algorithm]) -> Vec<VerifyKey> {
    set.keys()
        .iter()
        .filter_map(|key| serde_json::to_value(key).ok())
        .filter_map(|json| jwk_key(&json))
        .filter(|key| algs.contains(&key.alg))
        .take(MAX_JWKS_KEYS)
        .collect()
}

/// At most this many keys of one JWKS are considered.
const MAX_JWKS_KEYS: usize = 32;

/// Longest `kid` accepted (attack list: a `kid` is only an opaque, bounded lookup key).
pub(crate) const MAX_KID_LEN: usize = 256;

fn jwk_key(json: &Value) -> Option<VerifyKey> {
    let text = |name: &str| json.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (alg, key) = match (text("kty")?, text("crv")) {
        ("RSA", _) => (
            Algorithm::RS256,
            DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
        ),
        ("EC", Some("P-256")) => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
        ),
        ("OKP", Some("Ed25519")) => (
            Algorithm::EdDSA,
            DecodingKey::from_ed_components(text("x")?).ok()?,
        ),
        _ => return None,
    };
    let named = match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "RS256",
    };
    if text("alg").is_some_and(|a| a != named) {
        return None;
    }
    Some(VerifyKey {
        kid: text("kid")
            .filter(|kid| kid.len() <= MAX_KID_LEN)
            .map(str::to_string),
        alg,
        key,
    })
}
