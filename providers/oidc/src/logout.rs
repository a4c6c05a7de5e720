//! OpenID Connect Back-Channel Logout 1.0 (`backchannel_logout = true`): the provider posts a
//! logout token to `POST /v1/auth/{id}/backchannel-logout` when a user's session at it ends,
//! and the gateway ends the user's Appwrite sessions.
//!
//! A logout token is checked as the spec's "Logout Token Validation" says, with the keys, the
//! algorithm allow-list and the refetch rule of ID tokens ([`OidcProvider::with_keys`]):
//! - the compact JWS: at most [`MAX_ID_TOKEN_BYTES`], three strict base64url segments, a JSON
//!   object header without `crit`, `cty` or `zip`, `typ` absent, `JWT` or `logout+jwt`; `alg`
//!   in `allowed_algs` (never `none`); the key chosen by `kid` (or, without one, the one key of
//!   the algorithm's type and curve, as for ID tokens) and its signature checked by ring;
//! - `iss` exactly the provider's (or one of an extension's issuers), `aud` holding the client
//!   id (other audiences only from `trusted_audiences`, and then `azp` the client id, as for
//!   ID tokens), `iat` present, not in the future and
//!   at most `max_token_age_seconds` old, `exp` (if present) not past, `nbf` (if present) not
//!   in the future, each with `leeway_seconds`;
//! - `events` an object with the member `http://schemas.openid.net/event/backchannel-logout`
//!   (itself an object), no `nonce`, `sub` and/or `sid`, and a `jti` (the gateway remembers it:
//!   a token is used once).
//!
//! Why not openidconnect's ID-token verifier, as ID tokens use: its claims type requires `sub`
//! and `exp` (a logout token may name only a session, and `exp` is optional in the spec), and
//! its generic claims verifier is private to the crate. So the JWS is read here, by hand, with
//! the same keys ([`RingJsonWebKey`]: openidconnect's key choice, ring's signatures), not with
//! a second JOSE library.
//!
//! At login the provider reports the ID token's `sid` ([`BackchannelLogout::session_id`]); the
//! gateway remembers it for `backchannel_logout_sid_seconds`, for tokens that carry only `sid`.

mod token;

use std::ops::RangeInclusive;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use idp_provider_api::{
    BackchannelLogout, ConfigProblem, Identity, ProviderError, Secret, VerifiedLogout,
};
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{JsonWebKey, JwsSigningAlgorithm};
use serde_json::Value;

use self::token::{Audiences, Header, Payload, logout_typ, object, segment};
use crate::OidcProvider;
use crate::config::Config;
use crate::jwk::{KeySet, RingJsonWebKey};
use crate::shared_checks::{self, Token};
use crate::verify::{Expectations, MAX_ID_TOKEN_BYTES, VerifyError};

/// The member of `events` that makes a token a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Longest `sub`, `sid` and `jti` accepted (as for `sub` in ID tokens: OIDC Core's 255).
const MAX_CLAIM_LEN: usize = 255;

/// The default of `backchannel_logout_sid_seconds`: a week, as long as the common providers'
/// default longest session (Auth0's tenants: 7 days; Keycloak's "SSO Session Max": 10 hours).
pub(crate) fn default_sid_seconds() -> u64 {
    604_800
}

/// The bounds of `backchannel_logout_sid_seconds`: five minutes to a year (Auth0's longest
/// session on enterprise plans).
const SID_SECONDS_RANGE: RangeInclusive<u64> = 300..=31_536_000;

/// The longest the gateway's replay cache keeps an entry (a day): a logout token's `jti` is
/// kept until the token could no longer be accepted, at most `max_token_age_seconds` plus the
/// leeway on both sides of its `iat`.
const MAX_REPLAY_SECONDS: u64 = 86_400;

/// Problems with the logout keys of `[providers.<id>]`.
pub(crate) fn config_problems(config: &Config, id: &str) -> Vec<ConfigProblem> {
    let key = |k: &str| format!("providers.{id}.{k}");
    let mut problems = Vec::new();
    let sid = config.backchannel_logout_sid_seconds;
    if !SID_SECONDS_RANGE.contains(&sid) {
        problems.push(ConfigProblem::new(
            key("backchannel_logout_sid_seconds"),
            format!(
                "{sid} is outside {}..={}",
                SID_SECONDS_RANGE.start(),
                SID_SECONDS_RANGE.end()
            ),
        ));
    }
    let window = config
        .max_token_age_seconds
        .saturating_add(config.leeway_seconds.saturating_mul(2))
        .saturating_add(1);
    if config.backchannel_logout && window > MAX_REPLAY_SECONDS {
        problems.push(ConfigProblem::new(
            key("max_token_age_seconds"),
            format!(
                "with backchannel_logout, max_token_age_seconds + 2 × leeway_seconds + 1 must \
                 be at most {MAX_REPLAY_SECONDS} (a logout token's jti is remembered that long, \
                 and the replay cache keeps entries at most a day); it is {window}"
            ),
        ));
    }
    problems
}

fn reject(reason: &'static str, detail: impl Into<String>) -> VerifyError {
    VerifyError::Rejected(ProviderError::rejected(reason, detail))
}

/// A verified logout token's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    /// `iss`, checked.
    pub iss: String,
    /// `sub`, when present.
    pub sub: Option<String>,
    /// `sid`, when present.
    pub sid: Option<String>,
    /// `jti`.
    pub jti: String,
    /// `iat`, unix seconds.
    pub iat: i64,
    /// `exp`, unix seconds, when present.
    pub exp: Option<i64>,
}

/// Verifies `raw` as a logout token against `keys` and `expected`, at time `now`.
///
/// # Errors
/// `UnknownKey` when no key matches, `KidlessKeyFailed` when a token without `kid` fails with
/// the one key it could have, `Rejected` with a `logout_token_*` reason otherwise.
pub fn verify_logout_token(
    raw: &str,
    keys: &KeySet,
    expected: &Expectations,
    now: DateTime<Utc>,
) -> Result<LogoutClaims, VerifyError> {
    if raw.len() > MAX_ID_TOKEN_BYTES {
        return Err(reject(
            "logout_token_too_large",
            format!("{} bytes, limit {MAX_ID_TOKEN_BYTES}", raw.len()),
        ));
    }
    let malformed = |why: &str| reject("logout_token_malformed", why.to_string());
    let parts: Vec<&str> = raw.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
        return Err(malformed("a logout token is a JWS of three segments"));
    };
    let header: Header = segment(header_b64)
        .and_then(|json| object(&json))
        .ok_or_else(|| malformed("the JOSE header is not base64url JSON of the expected shape"))?;
    if header.crit || header.cty || header.zip {
        return Err(reject(
            "logout_token_header_unsupported",
            "crit, cty and zip headers are not accepted",
        ));
    }
    if let Some(typ) = header.typ.as_deref().filter(|typ| !logout_typ(typ)) {
        return Err(reject(
            "logout_token_header_unsupported",
            format!("typ {typ:?} is neither JWT nor logout+jwt"),
        ));
    }
    let alg = signing_alg(&header.alg, expected)?;
    let symmetric;
    let key = if alg.uses_shared_secret() {
        symmetric =
            RingJsonWebKey::new_symmetric(expected.client_secret.expose().clone().into_bytes());
        &symmetric
    } else {
        signing_key(keys, header.kid.as_deref(), &header.alg, &alg)?
    };
    let signature =
        segment(signature_b64).ok_or_else(|| malformed("the signature is not base64url"))?;
    let signing_input = &raw[..header_b64.len() + 1 + payload_b64.len()];
    key.verify_signature(&alg, signing_input.as_bytes(), &signature)
        .map_err(|e| {
            let refused = ProviderError::rejected("logout_token_signature_invalid", e.to_string());
            // A kid-less token's one candidate key failing may be a rotated kid-less key: the
            // caller refetches once, as for an ID token.
            if header.kid.is_none() && !alg.uses_shared_secret() {
                VerifyError::KidlessKeyFailed(refused)
            } else {
                VerifyError::Rejected(refused)
            }
        })?;

    let payload: Payload = segment(payload_b64)
        .and_then(|json| object(&json))
        .ok_or_else(|| malformed("the claims are not base64url JSON of the expected types"))?;
    let iss = check_issuer(&payload, expected)?;
    check_audience(&payload, expected)?;
    let (iat, exp) = check_times(&payload, expected, now)?;
    check_event(&payload)?;
    if payload.nonce {
        return Err(reject(
            "logout_token_nonce_present",
            "a logout token must not carry a nonce",
        ));
    }
    let shaped = |name: &str, value: &Option<String>| match value {
        Some(v) if v.is_empty() || v.len() > MAX_CLAIM_LEN || v.chars().any(char::is_control) => {
            Err(reject(
                "logout_token_claim_invalid",
                format!("{name} must be 1..={MAX_CLAIM_LEN} characters without controls"),
            ))
        }
        _ => Ok(()),
    };
    shaped("sub", &payload.sub)?;
    shaped("sid", &payload.sid)?;
    shaped("jti", &payload.jti)?;
    if payload.sub.is_none() && payload.sid.is_none() {
        return Err(reject(
            "logout_token_subject_missing",
            "a logout token names a sub, a sid or both",
        ));
    }
    let Some(jti) = payload.jti else {
        return Err(reject(
            "logout_token_jti_missing",
            "a logout token has a jti (it is used once)",
        ));
    };
    Ok(LogoutClaims {
        iss,
        sub: payload.sub,
        sid: payload.sid,
        jti,
        iat,
        exp,
    })
}

/// The header's `alg`, if the allow-list has it (matched case-sensitively: `none`, `None` and
/// unknown names are never in it).
fn signing_alg(
    name: &str,
    expected: &Expectations,
) -> Result<CoreJwsSigningAlgorithm, VerifyError> {
    serde_json::from_value::<CoreJwsSigningAlgorithm>(Value::String(name.to_string()))
        .ok()
        .filter(|alg| expected.allowed_algs.contains(alg))
        .ok_or_else(|| {
            reject(
                "logout_token_alg_not_allowed",
                format!("alg {name:?} is not in allowed_algs"),
            )
        })
}

/// The key of the token: the one with its `kid` that may sign with `alg`, or without a `kid`
/// the one key of the algorithm's type and curve ([`crate::kidless`]), as for ID tokens.
fn signing_key<'k>(
    keys: &'k KeySet,
    kid: Option<&str>,
    alg_name: &str,
    alg: &CoreJwsSigningAlgorithm,
) -> Result<&'k RingJsonWebKey, VerifyError> {
    let candidates: Vec<&RingJsonWebKey> = match kid {
        Some(kid) => keys
            .keys()
            .iter()
            .filter(|key| key.key_id().is_some_and(|id| id.as_str() == kid))
            .filter(|key| crate::jwk::check_compatible(key, alg).is_ok())
            .collect(),
        None => crate::kidless::candidates(keys, alg_name).unwrap_or_default(),
    };
    match candidates.as_slice() {
        [] => Err(VerifyError::UnknownKey),
        [one] => Ok(one),
        several => Err(reject(
            "logout_token_key_ambiguous",
            format!(
                "{} keys in the JWKS fit the token's kid and alg {alg_name}",
                several.len()
            ),
        )),
    }
}

fn check_issuer(payload: &Payload, expected: &Expectations) -> Result<String, VerifyError> {
    let Some(iss) = &payload.iss else {
        return Err(reject(
            "logout_token_issuer_mismatch",
            "the token has no iss",
        ));
    };
    let accepted = match &expected.accepted_issuers {
        Some(issuers) => issuers
            .accept(iss, payload.tid.as_ref())
            .map_err(|e| e.to_string()),
        None if iss == expected.issuer.as_str() => Ok(()),
        None => Err(format!("iss {iss:?} is not {:?}", expected.issuer.as_str())),
    };
    accepted
        .map(|()| iss.clone())
        .map_err(|detail| reject("logout_token_issuer_mismatch", detail))
}

fn check_audience(payload: &Payload, expected: &Expectations) -> Result<(), VerifyError> {
    let audiences: &[String] = match &payload.aud {
        Some(Audiences::One(one)) => std::slice::from_ref(one),
        Some(Audiences::Many(many)) => many,
        None => &[],
    };
    let client_id = expected.client_id.as_str();
    if !audiences.iter().any(|a| a == client_id) {
        return Err(reject(
            "logout_token_audience_mismatch",
            format!("aud does not hold the client id {client_id:?}"),
        ));
    }
    if let Some(other) = audiences
        .iter()
        .find(|a| *a != client_id && !expected.trusted_audiences.contains(a))
    {
        return Err(reject(
            "logout_token_audience_mismatch",
            format!("aud holds {other:?}, which is not in trusted_audiences"),
        ));
    }
    // As for an ID token: with a trusted extra audience, the token must be issued to us.
    shared_checks::check_azp(
        Token::Logout,
        payload.azp.as_deref(),
        audiences.len(),
        client_id,
    )
}

/// `iat` (required), `exp` and `nbf` (when present): unix seconds of `iat` and `exp`. `iat` and
/// `nbf` by the rules of ID tokens ([`shared_checks`]).
fn check_times(
    payload: &Payload,
    expected: &Expectations,
    now: DateTime<Utc>,
) -> Result<(i64, Option<i64>), VerifyError> {
    let leeway = shared_checks::leeway(expected.leeway);
    let Some(iat) = payload.iat else {
        return Err(reject("logout_token_malformed", "the token has no iat"));
    };
    let date =
        |name: &str, seconds: f64| shared_checks::numeric_date(Token::Logout, name, Some(seconds));
    let iat = date("iat", iat)?;
    shared_checks::check_iat(Token::Logout, iat, now, leeway, expected.max_age)?;
    let exp = payload.exp.map(|exp| date("exp", exp)).transpose()?;
    if let Some(exp) = exp
        && exp <= now - leeway
    {
        return Err(reject(
            "logout_token_expired",
            format!("exp {exp} is before {now}"),
        ));
    }
    let nbf = payload.nbf.map(|nbf| date("nbf", nbf)).transpose()?;
    shared_checks::check_nbf(Token::Logout, nbf, now, leeway)?;
    Ok((iat.timestamp(), exp.map(|exp| exp.timestamp())))
}

/// `events` is an object whose [`LOGOUT_EVENT`] member is an object.
fn check_event(payload: &Payload) -> Result<(), VerifyError> {
    let event = payload
        .events
        .as_ref()
        .and_then(Value::as_object)
        .and_then(|events| events.get(LOGOUT_EVENT));
    match event {
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(reject(
            "logout_token_events_invalid",
            "the back-channel logout event's value is not a JSON object",
        )),
        None => Err(reject(
            "logout_token_events_invalid",
            format!("the token has no events object holding {LOGOUT_EVENT}"),
        )),
    }
}

#[async_trait]
impl BackchannelLogout for OidcProvider {
    async fn verify_logout(
        &self,
        logout_token: &Secret<String>,
    ) -> Result<VerifiedLogout, ProviderError> {
        let claims = self
            .with_keys("logout_token_unknown_key", |keys| {
                verify_logout_token(logout_token.expose(), keys, &self.expectations, Utc::now())
            })
            .await?;
        let issuer = self.hook.logout_issuer(&claims.iss)?;
        // The jti is kept until the token could no longer be accepted anyway: its `exp`, or
        // sooner the end of its age window, plus the leeway.
        let leeway = i64::try_from(self.config.leeway_seconds).unwrap_or(0);
        let max_age = i64::try_from(self.config.max_token_age_seconds).unwrap_or(i64::MAX);
        let last = claims
            .exp
            .unwrap_or(i64::MAX)
            .min(claims.iat.saturating_add(max_age));
        let until = u64::try_from(last.saturating_add(leeway).saturating_add(1)).unwrap_or(0);
        VerifiedLogout::verified(
            self.info.id.clone(),
            issuer,
            claims.sub,
            claims.sid,
            claims.jti,
            UNIX_EPOCH + Duration::from_secs(until),
        )
        .map_err(|e| ProviderError::rejected("logout_token_subject_missing", e.to_string()))
    }

    fn session_id(&self, identity: &Identity) -> Option<String> {
        identity
            .claims()
            .get("sid")
            .and_then(Value::as_str)
            .filter(|sid| {
                !sid.is_empty() && sid.len() <= MAX_CLAIM_LEN && !sid.chars().any(char::is_control)
            })
            .map(str::to_string)
    }

    fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.config.backchannel_logout_sid_seconds)
    }
}

#[cfg(test)]
mod tests;
