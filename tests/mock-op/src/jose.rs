//! Compact JWS construction, done by hand so any header, any claims and any
//! forged signature (alg `none`, corrupted bytes, raw overrides) can be made.
//! The actual signing primitive is `idp_jose::sign` (jsonwebtoken on idp-jose's ring backend).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_jose::{Algorithm, EncodingKey};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256, Sha512};

use crate::behavior::{Behavior, SigningAlg, apply_patch};
use crate::keys::KeyRing;

/// Signs `claims` (after `behavior.claims_patch`) with the key of `ring`
/// selected by `behavior.alg`, applying every header/signature tweak.
///
/// `client_secret` keys HS256 unless `behavior.hmac_key` is set.
pub(crate) fn sign(
    claims: &Value,
    behavior: &Behavior,
    ring: &KeyRing,
    client_secret: &str,
) -> String {
    let alg = behavior.alg.unwrap_or_default();

    let mut claims = claims.clone();
    if let Value::Object(map) = &mut claims {
        apply_patch(map, &behavior.claims_patch);
    }

    let mut header = Map::new();
    header.insert("alg".into(), alg.as_str().into());
    header.insert("typ".into(), "JWT".into());
    let kid = match alg {
        SigningAlg::RS256 | SigningAlg::PS256 if behavior.weak_rsa_key => Some(ring.weak_rsa_kid()),
        SigningAlg::RS256 => Some(ring.rsa_kid()),
        SigningAlg::PS256 => Some(ring.ps_kid()),
        SigningAlg::ES256 => Some(ring.ec_kid()),
        SigningAlg::EdDSA => Some(ring.ed_kid()),
        SigningAlg::HS256 | SigningAlg::None => None,
    };
    if let (Some(kid), false) = (kid, behavior.omit_kid) {
        header.insert("kid".into(), kid.into());
    }
    apply_patch(&mut header, &behavior.header_patch);

    let signing_input = format!("{}.{}", b64_json(&Value::Object(header)), b64_json(&claims));
    sign_raw(&signing_input, behavior, ring, client_secret)
}

/// Signs `signing_input` (`header.payload`, taken verbatim: any bytes, any
/// encoding) with the key `behavior.alg` selects, applying
/// `signature_override` and `corrupt_signature`; returns the compact token.
pub(crate) fn sign_raw(
    signing_input: &str,
    behavior: &Behavior,
    ring: &KeyRing,
    client_secret: &str,
) -> String {
    let alg = behavior.alg.unwrap_or_default();
    let mut signature = match &behavior.signature_override {
        Some(raw) => raw.clone(),
        None => compute_signature(signing_input.as_bytes(), alg, ring, behavior, client_secret),
    };
    if behavior.corrupt_signature {
        signature = corrupt(&signature);
    }
    format!("{signing_input}.{signature}")
}

fn b64_json(value: &Value) -> String {
    // Serialising a serde_json::Value to a Vec cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn compute_signature(
    input: &[u8],
    alg: SigningAlg,
    ring: &KeyRing,
    behavior: &Behavior,
    client_secret: &str,
) -> String {
    let keys = &*crate::keys::KEYS;
    let hmac;
    let (key, algorithm): (&EncodingKey, Algorithm) = match alg {
        SigningAlg::None => return String::new(),
        SigningAlg::RS256 | SigningAlg::PS256 if behavior.weak_rsa_key => {
            return weak_rsa_signature(input, alg, &keys.weak_rsa.private);
        }
        SigningAlg::RS256 => (&ring.rsa().encoding, Algorithm::RS256),
        SigningAlg::PS256 => (&ring.rsa().encoding, Algorithm::PS256),
        SigningAlg::ES256 => (&keys.ec, Algorithm::ES256),
        SigningAlg::EdDSA => (&keys.ed, Algorithm::EdDSA),
        SigningAlg::HS256 => {
            let secret = behavior
                .hmac_key
                .as_deref()
                .unwrap_or(client_secret.as_bytes());
            hmac = EncodingKey::from_secret(secret);
            (&hmac, Algorithm::HS256)
        }
    };
    idp_jose::sign(input, key, algorithm)
        .expect("signing with the embedded fixed test keys cannot fail")
}

/// An RS256 or PS256 signature by the 1024-bit key, with RustCrypto's `rsa`: ring refuses to
/// sign with a key that small, and the point of the key is that the gateway refuses it.
fn weak_rsa_signature(input: &[u8], alg: SigningAlg, key: &rsa::RsaPrivateKey) -> String {
    let hashed = Sha256::digest(input);
    let signed = match alg {
        SigningAlg::PS256 => {
            key.sign_with_rng(&mut rand::thread_rng(), rsa::Pss::new::<Sha256>(), &hashed)
        }
        _ => key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &hashed),
    };
    URL_SAFE_NO_PAD.encode(signed.expect("signing with the embedded weak test key cannot fail"))
}

/// XORs every signature byte with 0x5A, as the OpenID conformance suite does.
/// A segment that is not valid base64url is returned reversed instead.
fn corrupt(signature: &str) -> String {
    match URL_SAFE_NO_PAD.decode(signature) {
        Ok(bytes) => URL_SAFE_NO_PAD.encode(bytes.iter().map(|b| b ^ 0x5A).collect::<Vec<u8>>()),
        Err(_) => signature.chars().rev().collect(),
    }
}

/// `at_hash` / `c_hash`: base64url of the left half of the hash of the ASCII
/// token, the hash being the one of the signing alg (SHA-512 for EdDSA with
/// Ed25519, SHA-256 for every other alg offered here, including `none`).
pub(crate) fn token_hash(token: &str, alg: SigningAlg) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::EdDSA => Sha512::digest(token.as_bytes()).to_vec(),
        _ => Sha256::digest(token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub(crate) fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}
