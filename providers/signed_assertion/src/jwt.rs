//! The `jwt` format: a compact JWS verified with jsonwebtoken, through idp-jose (the gateway's
//! one verification path: jsonwebtoken on a ring backend, the shared JWKS cache).
//!
//! jsonwebtoken checks the signature, `exp`, `nbf`, `aud` and the presence of `iss`, `aud`,
//! `sub` and `exp`. It reads neither `crit` nor `zip`, and it accepts an `iss` array; those
//! checks, and the choice of key, are here. `iat`, `jti` and the other claims are read in
//! [`crate::claims`].

use std::time::Duration;

use base64::Engine as _;
use idp_jose::errors::ErrorKind;
use idp_jose::{Algorithm, JwksCache, KeySet, Validation};
use idp_provider_api::{CheckResult, ProviderError};
use serde_json::{Map, Value};
use url::Url;

use crate::keys::{MAX_KID_LEN, PemKeys, VerifyKey, from_jwks};
use crate::reject;

/// Assertions larger than this are refused before any parsing (JWT attack list, case 22).
pub const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// Where the keys come from at run time.
pub(crate) enum Keys {
    Pem(PemKeys),
    Jwks {
        url: Url,
        cache: Box<JwksCache<KeySet>>,
    },
}

/// Verifies `jwt` assertions of one provider.
pub(crate) struct JwtVerifier {
    pub issuer: String,
    pub algs: Vec<Algorithm>,
    pub audiences: Vec<String>,
    pub leeway: Duration,
    pub keys: Keys,
}

/// The JOSE header fields that matter here.
struct Header {
    alg: Algorithm,
    kid: Option<String>,
}

impl JwtVerifier {
    /// Loads the JWKS, when the keys come from one.
    ///
    /// # Errors
    /// `Upstream` when the keys cannot be fetched.
    pub(crate) async fn ready(&self) -> Result<(), ProviderError> {
        if let Keys::Jwks { url, cache } = &self.keys {
            cache.current(url).await?;
        }
        Ok(())
    }

    /// check-config's check of `jwks_url`: it loads, and holds a key for `allowed_algs`.
    /// `None` when the keys are in the configuration (nothing to fetch).
    pub(crate) async fn check_jwks(&self) -> Option<CheckResult> {
        const NAME: &str = "signing keys";
        let Keys::Jwks { url, cache } = &self.keys else {
            return None;
        };
        Some(match cache.current(url).await {
            Err(error) => CheckResult::failed(
                NAME,
                format!("{error}; check jwks_url and that it is reachable from here"),
            ),
            Ok(set) => match from_jwks(&set, &self.algs).len() {
                0 => CheckResult::failed(
                    NAME,
                    format!(
                        "the JWKS at {url} holds no key for allowed_algs {:?}; publish one there or change allowed_algs",
                        self.algs
                    ),
                ),
                usable => CheckResult::passed(
                    NAME,
                    format!("the JWKS at {url} has {usable} key(s) for allowed_algs"),
                ),
            },
        })
    }

    /// Verifies the signature and the standard claims, and returns every claim.
    ///
    /// # Errors
    /// `Rejected` naming the failed check; `Upstream` when a JWKS is needed and unreachable.
    pub(crate) async fn verify(&self, raw: &str) -> Result<Map<String, Value>, ProviderError> {
        if raw.len() > MAX_ASSERTION_BYTES {
            return Err(reject(
                "assertion_malformed",
                format!("{} bytes, limit {MAX_ASSERTION_BYTES}", raw.len()),
            ));
        }
        let header = self.header(raw)?;
        let candidates = self.candidates(&header).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        for candidate in &candidates {
            match idp_jose::decode::<Map<String, Value>>(raw, &candidate.key, &validation) {
                Ok(data) => {
                    // jsonwebtoken accepts an `iss` array that contains the issuer.
                    if data.claims.get("iss").and_then(Value::as_str) != Some(&self.issuer) {
                        return Err(reject(
                            "assertion_issuer_mismatch",
                            "iss must be one string equal to the configured issuer",
                        ));
                    }
                    return Ok(data.claims);
                }
                Err(e) if is_signature_failure(e.kind()) => {}
                Err(e) => return Err(classify(e.kind())),
            }
        }
        Err(reject(
            "assertion_signature_invalid",
            format!(
                "the signature verifies with none of the {} configured {:?} keys",
                candidates.len(),
                header.alg
            ),
        ))
    }

    /// Parses and checks the JOSE header: the shape of the token, `crit` and `zip` refused,
    /// `alg` in the allow-list (case-sensitively), `kid` a bounded string.
    fn header(&self, raw: &str) -> Result<Header, ProviderError> {
        let malformed = |why: &str| reject("assertion_malformed", why.to_string());
        let segments: Vec<&str> = raw.split('.').collect();
        if segments.len() != 3 {
            return Err(malformed(
                "an assertion is a compact JWS of three segments (header.payload.signature)",
            ));
        }
        let header: Map<String, Value> = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segments[0])
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| malformed("the JOSE header is not base64url JSON"))?;
        for unsupported in ["crit", "zip"] {
            if header.contains_key(unsupported) {
                return Err(reject(
                    "assertion_header_unsupported",
                    format!("the header has `{unsupported}`, which is not supported"),
                ));
            }
        }
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let Some(alg) = crate::config::SUPPORTED_ALGS
            .iter()
            .find(|(name, _)| *name == alg)
            .map(|(_, alg)| *alg)
            .filter(|alg| self.algs.contains(alg))
        else {
            return Err(reject(
                "assertion_alg_not_allowed",
                format!(
                    "alg {:?} is not in allowed_algs",
                    alg.chars().take(16).collect::<String>()
                ),
            ));
        };
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KID_LEN => Some(kid.clone()),
            Some(_) => return Err(malformed("kid must be a string of at most 256 bytes")),
        };
        Ok(Header { alg, kid })
    }

    /// The keys that may have signed a token with this header: keys of its algorithm whose
    /// `kid` equals the token's (PEM keys have no `kid` and are all tried). An unknown `kid`
    /// causes one rate-limited JWKS refetch.
    async fn candidates(&self, header: &Header) -> Result<Vec<VerifyKey>, ProviderError> {
        let (url, cache) = match &self.keys {
            Keys::Pem(keys) => return Ok(matching(&keys.0, header)),
            Keys::Jwks { url, cache } => (url, cache),
        };
        let keys = cache.current(url).await?;
        let found = matching(&from_jwks(&keys, &self.algs), header);
        if !found.is_empty() || header.kid.is_none() {
            return Ok(found);
        }
        let found = cache
            .newer_than(url, &keys)
            .await?
            .map(|keys| matching(&from_jwks(&keys, &self.algs), header))
            .unwrap_or_default();
        if found.is_empty() {
            return Err(reject(
                "assertion_unknown_key",
                "no key of the JWKS matches the assertion's kid and algorithm",
            ));
        }
        Ok(found)
    }
}

fn matching(keys: &[VerifyKey], header: &Header) -> Vec<VerifyKey> {
    keys.iter()
        .filter(|key| key.alg == header.alg)
        .filter(|key| match (&key.kid, &header.kid) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        })
        .cloned()
        .collect()
}

/// Failures that mean "not this key": the next candidate may verify.
fn is_signature_failure(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidSignature
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidRsaKey(_)
    )
}

/// Maps jsonwebtoken's verdict (after the signature verified) to our reasons.
fn classify(kind: &ErrorKind) -> ProviderError {
    match kind {
        ErrorKind::ExpiredSignature => reject("assertion_expired", "exp has passed"),
        ErrorKind::ImmatureSignature => reject("assertion_not_yet_valid", "nbf is in the future"),
        ErrorKind::InvalidIssuer => reject(
            "assertion_issuer_mismatch",
            "iss is not the configured issuer",
        ),
        ErrorKind::InvalidAudience => reject(
            "assertion_audience_mismatch",
            "aud does not name this gateway (the configured audience)",
        ),
        ErrorKind::MissingRequiredClaim(claim) => reject(
            "assertion_claim_missing",
            format!("the {claim} claim is required"),
        ),
        ErrorKind::InvalidClaimFormat(claim) => reject(
            "assertion_claim_invalid",
            format!("the {claim} claim has the wrong type"),
        ),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            reject("assertion_alg_not_allowed", "alg is not allowed")
        }
        other => reject(
            "assertion_malformed",
            format!("cannot read the assertion: {}", kind_name(other)),
        ),
    }
}

/// A short name of a decoding error, without any part of the token.
fn kind_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Base64(_) => "bad base64url",
        ErrorKind::Json(_) => "the payload is not a JSON object",
        ErrorKind::Utf8(_) => "bad UTF-8",
        ErrorKind::InvalidToken => "not a compact JWS",
        _ => "unexpected token shape",
    }
}
