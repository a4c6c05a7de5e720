//! Scriptable misbehaviour ([`Behavior`]) and the JSON patch rule it uses.
//!
//! A [`Behavior`] stays in force until the next [`crate::MockOp::set_behavior`]
//! call; `Behavior::default()` is a well-behaved OP. Each knob maps to rows of
//! the RP conformance catalogue (`docs/rp-conformance.md` §2 and §4):
//!
//! | Knob | Rows it plays |
//! |---|---|
//! | `claims_patch` | invalid/missing `iss`, `sub`, `aud`, `iat`, `nonce`, `exp`, `nbf`, bad `at_hash`, `azp`, `events`, odd `email`/`email_verified` (§2.1, §4 #8-#20, #25) |
//! | `header_patch` | `kid` injection, `typ: at+jwt`, `crit`, `jku`/`x5u`/`jwk`/`x5c`, `cty`/`zip`, a lying `alg` (§4 #3-#7, #14, #15, #21) |
//! | `alg` | RS256/PS256/ES256/EdDSA/HS256 acceptance, `none` (§2.2, §4 #1) |
//! | `hmac_key` | HS256 keyed with the RSA public key PEM: algorithm confusion (§4 #2) |
//! | `corrupt_signature`, `signature_override` | bad signatures, ECDSA "psychic signature" (§2.2, §4 #23) |
//! | `omit_kid`, `jwks_omit_kid`, `jwks_extra_keys`, `jwks_override` | kid-absent single/multiple JWKS, weak keys (§2.2, §4 #24) |
//! | `weak_rsa_key` | a 1024-bit RSA key in the JWKS that signs RS256/PS256 tokens (§4 #24) |
//! | `discovery_issuer`, `discovery_patch`, `discovery_error` | issuer mismatch, random `jwks_uri` suffix (§2.4), a provider that is down |
//! | `id_token_override` | malformed or oversized compact tokens (§4 #21, #22) |
//! | `token_error`, `token_response_patch`, `token_delay` | token endpoint failures, missing `id_token`, timeouts |
//! | `userinfo_sub`, `userinfo_patch`, `userinfo_error` | userinfo `sub` mismatch and failures (§2.3) |
//! | `authorize_iss`, `omit_authorize_iss` | RFC 9207 mix-up (§4 #16) |
//!
//! Key rotation (§2.2) is [`crate::MockOp::rotate_keys`], not a knob. Tokens whose exact bytes
//! matter (non-canonical base64url, duplicate JSON keys, §4 #21-#22) are signed with
//! [`crate::MockOp::sign_raw`] and served through `id_token_override`.

use std::time::Duration;

use serde_json::{Map, Value};

/// The signature algorithm the OP uses for ID tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default).
    #[default]
    RS256,
    /// RSASSA-PSS with SHA-256, same RSA key as RS256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
    /// HMAC-SHA-256 keyed with the client secret (or [`Behavior::hmac_key`]).
    HS256,
    /// `alg: "none"` with an empty signature segment.
    None,
}

impl SigningAlg {
    /// The JOSE `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::None => "none",
        }
    }
}

/// How the OP misbehaves for the next logins (until changed).
///
/// Construct with struct-update syntax so new knobs don't break callers:
/// `Behavior { alg: Some(SigningAlg::ES256), ..Default::default() }`.
#[derive(Debug, Default, Clone)]
pub struct Behavior {
    /// Merged into the ID token claims; a JSON `null` removes the claim.
    pub claims_patch: Map<String, Value>,
    /// Merged into the JOSE header (`kid`, `typ`, `crit`, `jku`, even `alg`);
    /// a JSON `null` removes the member. Applied after `alg`/`omit_kid`.
    pub header_patch: Map<String, Value>,
    /// Signing algorithm; `None` means RS256.
    pub alg: Option<SigningAlg>,
    /// XOR every signature byte with 0x5A (conformance suite's bad signature).
    pub corrupt_signature: bool,
    /// Issuer published in discovery instead of the real one.
    pub discovery_issuer: Option<String>,
    /// Token endpoint answers this status with `{"error": <string>}`.
    pub token_error: Option<(u16, String)>,
    /// `sub` returned by userinfo instead of the user's.
    pub userinfo_sub: Option<String>,
    /// Leave `kid` out of the JOSE header.
    pub omit_kid: bool,

    // ---- knobs for later negative tests (all off by default) ----
    /// HS256 key instead of the client secret (e.g. the RSA public key PEM
    /// from [`crate::MockOp::rsa_public_key_pem`] for algorithm confusion).
    pub hmac_key: Option<Vec<u8>>,
    /// Raw base64url signature segment replacing the computed one (applied
    /// before `corrupt_signature`), e.g. 64 zero bytes for ES256 `r = s = 0`.
    pub signature_override: Option<String>,
    /// The token endpoint returns this string verbatim as `id_token`.
    pub id_token_override: Option<String>,
    /// Merged into the token endpoint's JSON response; `null` removes.
    pub token_response_patch: Map<String, Value>,
    /// Delay before the token endpoint answers.
    pub token_delay: Option<Duration>,
    /// Merged into the userinfo JSON response; `null` removes.
    pub userinfo_patch: Map<String, Value>,
    /// Userinfo answers this status with `{"error": <string>}`.
    pub userinfo_error: Option<(u16, String)>,
    /// Merged into the discovery document (after `discovery_issuer`); `null` removes.
    pub discovery_patch: Map<String, Value>,
    /// The discovery endpoint answers this HTTP status with an empty JSON object instead of
    /// the document (a provider that is down).
    pub discovery_error: Option<u16>,
    /// Publish the JWKS without `kid` members.
    pub jwks_omit_kid: bool,
    /// Extra JWKs appended to the JWKS.
    pub jwks_extra_keys: Vec<Value>,
    /// Serve this document at the JWKS endpoint instead of the real one.
    pub jwks_override: Option<Value>,
    /// `iss` sent in the authorization response instead of the real issuer.
    pub authorize_iss: Option<String>,
    /// Send no `iss` in the authorization response.
    pub omit_authorize_iss: bool,
    /// Sign RS256/PS256 tokens with a fixed, deliberately weak 1024-bit RSA
    /// key (kid `weak-rsa-<generation>`) and publish its public JWK in the
    /// JWKS beside the normal keys.
    pub weak_rsa_key: bool,
}

/// Merges `patch` into `target`: JSON `null` removes the key, anything else
/// replaces it (shallow, RFC 7396 style at the top level).
pub(crate) fn apply_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_replaces_adds_and_removes() {
        let mut target = json!({"a": 1, "b": 2}).as_object().cloned().unwrap();
        let patch = json!({"a": null, "b": 3, "c": 4})
            .as_object()
            .cloned()
            .unwrap();
        apply_patch(&mut target, &patch);
        assert_eq!(Value::Object(target), json!({"b": 3, "c": 4}));
    }
}
