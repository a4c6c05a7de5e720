//! The key of a token without `kid`: exactly one key of the token's key
//! type. openidconnect compares only `kty`, so a P-384 key would compete with the P-256 key for
//! an ES256 token, and an X25519 key with the Ed25519 key for EdDSA; this module also compares
//! the curve, `use` and `alg`.

use openidconnect::JsonWebKey;
use openidconnect::core::CoreJwsSigningAlgorithm;

use crate::jwk::{Curve, KeySet, RingJsonWebKey};

/// The keys that may have signed a token without `kid` whose header names `alg`: of the algorithm's key type (RSA for RS*/PS*; EC on P-256 for ES256, on P-384
/// for ES384; OKP on Ed25519 for EdDSA), for signatures (`use` = `sig` or absent), and with
/// `alg` equal to the token's when the key names one. `None` for algorithms that take no key
/// from the JWKS (HS*, `none`, unknown ones): openidconnect decides about those.
pub fn candidates<'k>(keys: &'k KeySet, alg: &str) -> Option<Vec<&'k RingJsonWebKey>> {
    use openidconnect::core::{CoreJsonWebKeyType as Kty, CoreJsonWebKeyUse as Use};
    let (kty, curve) = match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => (Kty::RSA, None),
        "ES256" => (Kty::EllipticCurve, Some(Curve::P256)),
        "ES384" => (Kty::EllipticCurve, Some(Curve::P384)),
        "EdDSA" => (Kty::OctetKeyPair, Some(Curve::Ed25519)),
        _ => return None,
    };
    let fits = |key: &&RingJsonWebKey| {
        *key.key_type() == kty
            && key.key_use().is_none_or(|u| matches!(u, Use::Signature))
            && match key.signing_alg() {
                openidconnect::JsonWebKeyAlgorithm::Unspecified => true,
                openidconnect::JsonWebKeyAlgorithm::Algorithm(key_alg) => {
                    alg_name(key_alg).as_deref() == Some(alg)
                }
                _ => false,
            }
            && curve.is_none_or(|c| key.curve() == Some(c))
    };
    Some(keys.keys().iter().filter(fits).collect())
}

/// The JOSE name of a signing algorithm (`"RS256"`), as openidconnect serializes it.
fn alg_name(alg: &CoreJwsSigningAlgorithm) -> Option<String> {
    serde_json::to_value(alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_set(keys: serde_json::Value) -> KeySet {
        serde_json::from_value(serde_json::json!({ "keys": keys })).expect("key set")
    }

    /// Which keys (by their position in the set) may have signed a kid-less `alg` token.
    fn picked(set: &KeySet, alg: &str) -> Option<Vec<usize>> {
        candidates(set, alg).map(|keys| {
            keys.iter()
                .map(|k| {
                    set.keys()
                        .iter()
                        .position(|x| std::ptr::eq(x, *k))
                        .expect("from the set")
                })
                .collect()
        })
    }

    #[test]
    fn kidless_candidates_match_key_type_curve_use_and_alg() {
        let rsa = serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        // Coordinates of the curve's size (base64url of 32, 48 or 66 zero bytes).
        let ec = |crv: &str| {
            let zeros = "A".repeat(match crv {
                "P-256" => 43,
                "P-384" => 64,
                _ => 88,
            });
            serde_json::json!({"kty": "EC", "crv": crv, "x": zeros, "y": zeros})
        };
        // An OKP key of 32 zero bytes (an Ed25519 key is exactly that long).
        let okp = |crv: &str| serde_json::json!({"kty": "OKP", "crv": crv, "x": "A".repeat(43)});
        let set = key_set(serde_json::json!([
            rsa,
            ec("P-256"),
            ec("P-384"),
            ec("P-521"),
            okp("Ed25519"),
            okp("X25519"),
        ]));
        for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
            assert_eq!(picked(&set, alg), Some(vec![0]), "{alg}");
        }
        assert_eq!(picked(&set, "ES256"), Some(vec![1]));
        assert_eq!(picked(&set, "ES384"), Some(vec![2]));
        assert_eq!(picked(&set, "EdDSA"), Some(vec![4]));
        for alg in ["HS256", "none", "ES512", "XYZ"] {
            assert_eq!(picked(&set, alg), None, "{alg} takes no key from the JWKS");
        }

        let mut enc = rsa.clone();
        enc["use"] = "enc".into();
        let mut sig = rsa.clone();
        sig["use"] = "sig".into();
        let mut rs512 = rsa.clone();
        rs512["alg"] = "RS512".into();
        let set = key_set(serde_json::json!([enc, sig, rs512]));
        assert_eq!(
            picked(&set, "RS256"),
            Some(vec![1]),
            "enc keys and other algs are out"
        );
        assert_eq!(picked(&set, "RS512"), Some(vec![1, 2]));
        assert_eq!(picked(&set, "ES256"), Some(vec![]));
    }
}
