//! ID-token validation (every check of docs/security/model.md), on top of openidconnect's verifier.
//!
//! openidconnect checks the JOSE header (`typ`, `cty`, `crit`), the algorithm allow-list, the
//! key choice by `kid` and type, the signature (computed by ring through
//! [`RingJsonWebKey`](crate::jwk::RingJsonWebKey)), `iss`, `aud`, `exp` and the nonce. It leaves
//! `iat`, `nbf`, `azp`, `at_hash` and the shape of `sub` to us; those checks are below. For a
//! token without `kid` we choose the key ourselves ([`kidless::candidates`](crate::kidless)): openidconnect
//! compares only `kty`, so a P-384 key competes with the P-256 key for an ES256 token, and an
//! X25519 key with the Ed25519 key for EdDSA.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use idp_provider_api::{ProviderError, Secret};
use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, ClaimsVerificationError, ClientId,
    ClientSecret, IdToken, IdTokenClaims, IdTokenVerifier, IssuerUrl, JsonWebKey, Nonce,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::extension::Issuers;
use crate::jwk::{KeySet, RingJsonWebKey};
use crate::shared_checks::{self, Token};

/// Tokens larger than this are refused before any parsing (JWT attack list, case 22).
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// Longest `sub` accepted (OIDC Core: at most 255 ASCII characters).
const MAX_SUBJECT_LEN: usize = 255;

/// Every claim that is not a standard one, kept for policy and `Identity::claims`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OtherClaims(pub Map<String, Value>);
impl AdditionalClaims for OtherClaims {}

/// The verified claims of an ID token.
pub type Claims = IdTokenClaims<OtherClaims, CoreGenderClaim>;

type ParsedIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What an ID token is checked against; built once per provider.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// The configured issuer, compared exactly.
    pub issuer: IssuerUrl,
    /// Our client id: must be in `aud`.
    pub client_id: ClientId,
    /// Keys HS* tokens; HS* only if listed in `allowed_algs`.
    pub client_secret: Secret<String>,
    /// The algorithm allow-list.
    pub allowed_algs: Vec<CoreJwsSigningAlgorithm>,
    /// Other audiences that may appear beside `client_id`.
    pub trusted_audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `iat` and `nbf`.
    pub leeway: Duration,
    /// Oldest `iat` accepted.
    pub max_age: Duration,
    /// When set, `iss` is checked against these instead of `issuer` alone (an extension's
    /// issuer set or tenant template, [`crate::extension`]).
    pub accepted_issuers: Option<Issuers>,
}

/// Why a token failed. `UnknownKey` and `KidlessKeyFailed` are separate because a JWKS refetch
/// may cure them.
#[derive(Debug)]
pub enum VerifyError {
    /// No key in the set matches the token's `kid` and algorithm.
    UnknownKey,
    /// The token has no `kid`, and the one key of its type in the set does not verify its
    /// signature: the provider may have rotated that key. The rejection stands if no newer
    /// keys can be had.
    KidlessKeyFailed(ProviderError),
    /// Any other failed check.
    Rejected(ProviderError),
}

fn reject(reason: &'static str, detail: impl Into<String>) -> VerifyError {
    VerifyError::Rejected(ProviderError::rejected(reason, detail))
}

/// Verifies `raw` against `keys` and `expected`, at time `now`.
///
/// `access_token` is the one from the same token response; when the ID token has `at_hash`, it
/// must match it.
///
/// # Errors
/// `UnknownKey` when no key matches, `KidlessKeyFailed` when a token without `kid` fails with
/// the one key it could have, `Rejected` with a reason naming the failed check otherwise.
pub fn verify_id_token(
    raw: &str,
    keys: &KeySet,
    expected: &Expectations,
    nonce: &Secret<String>,
    access_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Claims, VerifyError> {
    if raw.len() > MAX_ID_TOKEN_BYTES {
        return Err(reject(
            "id_token_too_large",
            format!("{} bytes, limit {MAX_ID_TOKEN_BYTES}", raw.len()),
        ));
    }
    let header = check_header(raw)?;
    let chosen;
    // Whether the key was chosen for a token without `kid` (its only candidate).
    let mut kidless_key = false;
    // `"kid": null` is no kid (openidconnect reads it so too).
    let kid = header.get("kid").filter(|kid| !kid.is_null());
    let keys = match (kid, header.get("alg").and_then(Value::as_str)) {
        (None, Some(alg)) => match crate::kidless::candidates(keys, alg) {
            None => keys,
            Some(candidates) => match candidates.as_slice() {
                [] => return Err(VerifyError::UnknownKey),
                [one] => {
                    kidless_key = true;
                    chosen = KeySet::new(vec![(*one).clone()]);
                    &chosen
                }
                several => {
                    return Err(reject(
                        "id_token_key_ambiguous",
                        format!(
                            "the token has no kid and the JWKS holds {} keys usable for {alg}; \
                             a kid is needed to choose one",
                            several.len()
                        ),
                    ));
                }
            },
        },
        _ => keys,
    };
    let token = ParsedIdToken::from_str(raw).map_err(|e| {
        reject(
            "id_token_malformed",
            format!("cannot parse the ID token: {e}"),
        )
    })?;
    let leeway = shared_checks::leeway(expected.leeway);
    let trusted = expected.trusted_audiences.clone();
    let verifier = IdTokenVerifier::new_confidential_client(
        expected.client_id.clone(),
        ClientSecret::new(expected.client_secret.expose().clone()),
        expected.issuer.clone(),
        keys.clone(),
    )
    .set_allowed_algs(expected.allowed_algs.iter().cloned())
    .set_other_audience_verifier_fn(move |aud| trusted.iter().any(|t| t.as_str() == aud.as_str()))
    // `exp` gets the leeway by checking against a clock moved back by it.
    .set_time_fn(move || now - leeway)
    // With an extension's issuers, `iss` is checked below, exactly, against them instead.
    .require_issuer_match(expected.accepted_issuers.is_none());
    let nonce = Nonce::new(nonce.expose().clone());
    let claims = token
        .claims(&verifier, &nonce)
        .map_err(|e| {
            let bad_signature = matches!(
                e,
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::CryptoError(_)
                )
            );
            match classify(e) {
                VerifyError::Rejected(e) if kidless_key && bad_signature => {
                    VerifyError::KidlessKeyFailed(e)
                }
                other => other,
            }
        })?
        .clone();
    if let Some(issuers) = &expected.accepted_issuers {
        issuers
            .accept(
                claims.issuer().as_str(),
                claims.additional_claims().0.get("tid"),
            )
            .map_err(VerifyError::Rejected)?;
    }

    check_times(&claims, now, leeway, expected.max_age)?;
    shared_checks::check_azp(
        Token::Id,
        claims.authorized_party().map(|azp| azp.as_str()),
        claims.audiences().len(),
        expected.client_id.as_str(),
    )?;
    check_subject(&claims)?;
    check_token_type(&claims)?;
    if let (Some(expected_hash), Some(access_token)) = (claims.access_token_hash(), access_token) {
        check_at_hash(&token, &verifier, expected, expected_hash, access_token)?;
    }
    Ok(claims)
}

/// Maps openidconnect's verdict to our reasons.
fn classify(error: ClaimsVerificationError) -> VerifyError {
    use ClaimsVerificationError as C;
    use SignatureVerificationError as S;
    let detail = error.to_string();
    match error {
        C::SignatureVerification(S::NoMatchingKey) => VerifyError::UnknownKey,
        C::SignatureVerification(S::AmbiguousKeyId(d)) => reject("id_token_key_ambiguous", d),
        C::SignatureVerification(S::DisallowedAlg(d) | S::UnsupportedAlg(d)) => {
            reject("id_token_alg_not_allowed", d)
        }
        C::SignatureVerification(S::NoSignature) => {
            reject("id_token_alg_not_allowed", "unsigned token (alg none)")
        }
        C::SignatureVerification(e) => reject("id_token_signature_invalid", e.to_string()),
        C::InvalidIssuer(d) => reject("id_token_issuer_mismatch", d),
        C::InvalidAudience(d) => reject("id_token_audience_mismatch", d),
        C::Expired(d) => reject("id_token_expired", d),
        C::InvalidNonce(d) => reject("id_token_nonce_mismatch", d),
        C::InvalidSubject(d) => reject("id_token_subject_invalid", d),
        C::Unsupported(d) => reject("id_token_header_unsupported", d),
        _ => reject("id_token_invalid", detail),
    }
}

/// `iat` and `nbf` (when present), which openidconnect leaves out (it checks `exp`).
fn check_times(
    claims: &Claims,
    now: DateTime<Utc>,
    leeway: TimeDelta,
    max_age: Duration,
) -> Result<(), VerifyError> {
    shared_checks::check_iat(Token::Id, claims.issue_time(), now, leeway, max_age)?;
    let nbf = claims
        .additional_claims()
        .0
        .get("nbf")
        .map(|nbf| shared_checks::numeric_date(Token::Id, "nbf", nbf.as_f64()))
        .transpose()?;
    shared_checks::check_nbf(Token::Id, nbf, now, leeway)
}

/// Checks of the compact JWS that openidconnect does not make (hand-written: they concern the
/// raw segments, below what the library exposes):
/// - `zip` in the header (compressed payloads, RFC 7516) is refused; `crit`, `typ` and `cty`
///   are checked by openidconnect itself;
/// - the signature segment is strict base64url: openidconnect decodes it ignoring the spare low
///   bits of its last character, so one signature would have 4 or 16 spellings that all verify;
///   only the canonical one (spare bits zero, as every signer writes it) is accepted. (The
///   header and payload need no such check: the signature covers their text as sent.)
/// - an HMAC signature must have its hash's exact length. openidconnect 4.1 hands the signature
///   to `Mac::verify` as a fixed-size array and *panics* on any other length (found by the
///   `id_token` fuzz target), so the length is checked first.
fn check_header(raw: &str) -> Result<Map<String, Value>, VerifyError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut segments = raw.split('.');
    let header = segments
        .next()
        .and_then(|h| b64.decode(h).ok())
        .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok())
        .ok_or_else(|| {
            reject(
                "id_token_malformed",
                "the JOSE header is not base64url JSON",
            )
        })?;
    if header.contains_key("zip") {
        return Err(reject(
            "id_token_header_unsupported",
            "compressed (zip) tokens are not accepted",
        ));
    }
    // `b64` refuses non-zero spare bits (base64's default); openidconnect's decoder does not.
    let signature = match segments.nth(1) {
        Some(segment) => b64.decode(segment).map_err(|e| {
            reject(
                "id_token_malformed",
                format!(
                    "the signature is not canonical base64url: {}",
                    base64_fault(&e)
                ),
            )
        })?,
        None => Vec::new(),
    };
    let mac_len = match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => Some(32),
        Some("HS384") => Some(48),
        Some("HS512") => Some(64),
        _ => None,
    };
    if let Some(expected) = mac_len
        && signature.len() != expected
    {
        return Err(reject(
            "id_token_signature_invalid",
            format!(
                "an HMAC signature of {} bytes where {expected} are required",
                signature.len()
            ),
        ));
    }
    Ok(header)
}

/// Which rule of canonical unpadded base64url a segment breaks, and where (characters from 1),
/// never which character it is.
fn base64_fault(error: &base64::DecodeError) -> String {
    use base64::DecodeError as E;
    let (what, at) = match *error {
        E::InvalidPadding => return "padding (`=`), which a JWS never has".into(),
        E::InvalidLength(n) => return format!("{n} characters, a length no base64url text has"),
        E::InvalidByte(at, b'=') => ("padding (`=`)", at),
        E::InvalidByte(at, _) => ("a character outside the base64url alphabet", at),
        E::InvalidLastSymbol(at, _) => ("non-zero spare bits in the last character", at),
    };
    format!("{what} at position {}", at + 1)
}

/// A logout token (`events`) is not an ID token, whatever else it carries (attack list, case 15).
fn check_token_type(claims: &Claims) -> Result<(), VerifyError> {
    if claims.additional_claims().0.contains_key("events") {
        return Err(reject(
            "id_token_type_invalid",
            "the token has an `events` claim: it is a logout token",
        ));
    }
    Ok(())
}

fn check_subject(claims: &Claims) -> Result<(), VerifyError> {
    let sub = claims.subject().as_str();
    if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN || sub.chars().any(char::is_control) {
        return Err(reject(
            "id_token_subject_invalid",
            format!("sub must be 1..={MAX_SUBJECT_LEN} characters without controls"),
        ));
    }
    Ok(())
}

fn check_at_hash(
    token: &ParsedIdToken,
    verifier: &IdTokenVerifier<'_, RingJsonWebKey>,
    expected: &Expectations,
    expected_hash: &AccessTokenHash,
    access_token: &str,
) -> Result<(), VerifyError> {
    let bad = |d: String| reject("id_token_at_hash_mismatch", d);
    let alg = token.signing_alg().map_err(|e| bad(e.to_string()))?;
    let access_token = AccessToken::new(access_token.to_string());
    let actual = if alg.uses_shared_secret() {
        let key =
            RingJsonWebKey::new_symmetric(expected.client_secret.expose().clone().into_bytes());
        AccessTokenHash::from_token(&access_token, alg, &key)
    } else {
        let key = token
            .signing_key(verifier)
            .map_err(|e| bad(e.to_string()))?;
        AccessTokenHash::from_token(&access_token, alg, key)
    }
    .map_err(|e| bad(e.to_string()))?;
    if actual != *expected_hash {
        return Err(bad("at_hash does not match the access token".into()));
    }
    Ok(())
}

/// Whether the payload of an already verified token has `email_verified` as the JSON boolean
/// `true`. openidconnect is built with `accept-string-booleans` so that Apple- or Cognito-style
/// `"true"` strings do not fail the whole login; such a string is still not an assertion we
/// accept (rp-conformance.md section 4, case 20), so the claim is read here from the raw JSON.
pub fn email_verified_is_true(raw: &str) -> bool {
    use base64::Engine as _;
    raw.split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        // A derived struct also reads a JSON array (`[true]`); claims are an object.
        .filter(|json| json.trim_ascii_start().first() == Some(&b'{'))
        .and_then(|json| serde_json::from_slice::<EmailVerified>(&json).ok())
        .is_some_and(|claims| claims.email_verified == Some(Value::Bool(true)))
}

/// The one claim [`email_verified_is_true`] reads: the others are skipped, not collected into a
/// map (a login's ID token is parsed once for this). A duplicated `email_verified` fails the
/// parse, which reads as not verified.
#[derive(Deserialize)]
struct EmailVerified {
    email_verified: Option<Value>,
}

use openidconnect::JwsSigningAlgorithm as _;

#[cfg(test)]
mod tests;
