//! The keys a `jwt` assertion is verified with: PEM public keys from the configuration, or the
//! keys of a JWKS (fetched, cached and read once by idp-jose's `JwksCache`).
//!
//! Each key verifies exactly one algorithm, fixed by its type: RSA → RS256, EC P-256 → ES256,
//! Ed25519 → EdDSA. A key never becomes an HMAC secret, and a token's `jku`, `x5u`, `jwk` or
//! `x5c` header is never read.

use idp_jose::{Algorithm, Jwk, KeyKind, KeySet, MIN_RSA_BITS, PublicKey};

use crate::config::MAX_KEYS;

/// One verification key.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    /// The JWKS `kid`; PEM keys have none.
    pub kid: Option<String>,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    pub key: PublicKey,
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
    let key = PublicKey::from_pem(pem::encode(block).as_bytes())?;
    let alg = match key.kind() {
        KeyKind::P256 => Algorithm::ES256,
        KeyKind::Ed25519 => Algorithm::EdDSA,
        KeyKind::Rsa { bits } if bits < MIN_RSA_BITS => {
            return Err(format!(
                "is an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
            ));
        }
        KeyKind::Rsa { .. } => Algorithm::RS256,
        KeyKind::P384 | KeyKind::Secret => {
            return Err("is an EC key on a curve other than P-256 (ES256)".into());
        }
    };
    Ok(VerifyKey {
        kid: None,
        alg,
        key,
    })
}

/// The usable keys of a JWKS the cache holds (it already dropped symmetric and weak RSA keys).
/// A key whose `use` is not `sig`, whose `alg` disagrees with its type, or whose type is none
/// of RSA, EC P-256 and Ed25519 is skipped.
pub(crate) fn from_jwks(set: &KeySet, algs: &[Algorithm]) -> Vec<VerifyKey> {
    set.keys()
        .iter()
        .filter_map(jwk_key)
        .filter(|key| algs.contains(&key.alg))
        .take(MAX_JWKS_KEYS)
        .collect()
}

/// At most this many keys of one JWKS are considered.
const MAX_JWKS_KEYS: usize = 32;

/// Longest `kid` accepted (attack list: a `kid` is only an opaque, bounded lookup key).
pub(crate) const MAX_KID_LEN: usize = 256;

fn jwk_key(jwk: &Jwk) -> Option<VerifyKey> {
    if jwk.key_use().is_some_and(|u| u != "sig") {
        return None;
    }
    let key = jwk.key().ok()?;
    let (alg, named) = match key.kind() {
        KeyKind::Rsa { .. } => (Algorithm::RS256, "RS256"),
        KeyKind::P256 => (Algorithm::ES256, "ES256"),
        KeyKind::Ed25519 => (Algorithm::EdDSA, "EdDSA"),
        KeyKind::P384 | KeyKind::Secret => return None,
    };
    // A key that names another algorithm, is too weak, or whose `kid` could not be compared
    // (over-long, or not a string) is skipped: kept without its `kid`, it would match any.
    if jwk.alg().is_some_and(|a| a != named)
        || !key.kind().fits(alg)
        || jwk.kid().is_some_and(|kid| kid.len() > MAX_KID_LEN)
    {
        return None;
    }
    Some(VerifyKey {
        kid: jwk.kid().map(str::to_string),
        alg,
        key: key.clone(),
    })
}
