//! Native-app ID-token exchange (`allow_id_token_exchange = true`): a native app logs the user
//! in at the provider itself (AppAuth, a platform SDK) and hands the gateway the ID token,
//! `POST /v1/auth/{id}/exchange` with `{"id_token": "...", "nonce": "..."}`.
//!
//! The token goes through the same verification as in the redirect flow
//! ([`OidcProvider::verify`]: discovery keys, `allowed_algs`, `iss`, `aud`/`azp`, `exp`, `iat`,
//! `nbf`, `sub`, the nonce), and then:
//! - the nonce is required on both sides: the body's `nonce` must be exactly the token's
//!   `nonce` claim, and a token without one is refused (`id_token_nonce_mismatch`): without it
//!   nothing ties the token to a login the app started;
//! - it must be fresh: `iat` at most `id_token_max_age_seconds` (default 300) ago;
//! - it is accepted once, at whichever provider it is presented (two providers may share an
//!   issuer and client id): the gateway's replay cache keeps a hash of its signed
//!   `header.payload` (never of the whole text, whose signature has several spellings that
//!   verify) until its `exp` (plus the leeway), after which the token is refused as expired
//!   anyway.
//!
//! Without the opt-in the provider has no assertion flow, and the gateway refuses the route.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use idp_provider_api::{
    AssertionFlow, AssertionInput, ConfigProblem, Identity, ProviderError, ReplayKey, Secret,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::{OidcProvider, verify};

/// The default of `id_token_max_age_seconds`.
pub(crate) fn default_max_age() -> u64 {
    300
}

/// The bounds of `id_token_max_age_seconds`.
const MAX_AGE_RANGE: std::ops::RangeInclusive<u64> = 10..=3600;

/// Problems with the exchange keys of `[providers.<id>]`.
pub(crate) fn config_problems(config: &Config, id: &str) -> Vec<ConfigProblem> {
    let value = config.id_token_max_age_seconds;
    if MAX_AGE_RANGE.contains(&value) {
        return vec![];
    }
    vec![ConfigProblem::new(
        format!("providers.{id}.id_token_max_age_seconds"),
        format!(
            "{value} is outside {}..={}",
            MAX_AGE_RANGE.start(),
            MAX_AGE_RANGE.end()
        ),
    )]
}

/// The exchange body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    id_token: Option<Secret<String>>,
    #[serde(default)]
    nonce: Option<Secret<String>>,
}

/// A body with both fields present and not empty.
struct Checked {
    id_token: Secret<String>,
    nonce: Secret<String>,
}

fn invalid(param: &'static str, reason: impl Into<String>) -> ProviderError {
    ProviderError::InvalidRequest {
        param,
        reason: reason.into(),
    }
}

/// Longest unknown field name quoted in a refusal (a longer one is cut, marked `…`).
const MAX_FIELD_NAME_SHOWN: usize = 32;

impl Body {
    fn parse(raw: &[u8]) -> Result<Checked, ProviderError> {
        let body: Self = serde_json::from_slice(raw).map_err(|e| refusal(raw, &e))?;
        let id_token = body
            .id_token
            .filter(|t| !t.expose().is_empty())
            .ok_or_else(|| invalid("id_token", "is required and must not be empty"))?;
        let nonce = body.nonce.filter(|n| !n.expose().is_empty()).ok_or_else(|| {
            invalid(
                "nonce",
                "is required and must not be empty: send the nonce the app passed to the provider",
            )
        })?;
        Ok(Checked { id_token, nonce })
    }
}

/// Why `raw` is not a [`Body`], naming the field at fault and never its value: serde's own
/// message quotes the value it could not use (part of the token, say), so the body is read
/// again as a plain JSON object to find the field.
fn refusal(raw: &[u8], error: &serde_json::Error) -> ProviderError {
    let shape = "the body must be {\"id_token\": \"...\", \"nonce\": \"...\"}";
    if error.classify() != serde_json::error::Category::Data {
        let (line, column) = (error.line(), error.column());
        return invalid(
            "body",
            format!("{shape}: not JSON (line {line}, column {column})"),
        );
    }
    let Ok(object) = serde_json::from_slice::<Map<String, Value>>(raw) else {
        return invalid("body", format!("{shape}: not a JSON object"));
    };
    for (name, value) in &object {
        let param = match name.as_str() {
            "id_token" => "id_token",
            "nonce" => "nonce",
            _ => return invalid("body", format!("{shape}: unknown field {}", shown(name))),
        };
        let kind = match value {
            Value::String(_) | Value::Null => continue,
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return invalid(param, format!("must be a string, not {kind}"));
    }
    // Every field is known and of its type: one of them appears twice.
    invalid("body", format!("{shape}: a field appears more than once"))
}

/// An unknown field's name as a refusal quotes it: in backquotes, control characters escaped,
/// cut at [`MAX_FIELD_NAME_SHOWN`] characters.
fn shown(name: &str) -> String {
    let mut text: String = name
        .chars()
        .take(MAX_FIELD_NAME_SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if name.chars().count() > MAX_FIELD_NAME_SHOWN {
        text.push('…');
    }
    format!("`{text}`")
}

#[async_trait]
impl AssertionFlow for OidcProvider {
    async fn exchange(&self, input: AssertionInput<'_>) -> Result<Identity, ProviderError> {
        let body = Body::parse(input.body)?;
        let raw = body.id_token.expose();
        let claims = self.verify(raw, &body.nonce, None).await?;

        let now = Utc::now();
        let leeway = TimeDelta::from_std(self.expectations.leeway).unwrap_or(TimeDelta::zero());
        let max_age = TimeDelta::seconds(
            i64::try_from(self.config.id_token_max_age_seconds).unwrap_or(i64::MAX),
        );
        let age = now - claims.issue_time();
        if age > max_age + leeway {
            return Err(ProviderError::rejected(
                "id_token_too_old",
                format!(
                    "issued {}s ago; id_token_max_age_seconds is {}",
                    age.num_seconds(),
                    max_age.num_seconds()
                ),
            ));
        }

        // The provider's own rules (an Auth0 organization, an Entra tenant...) are checks too:
        // they run before the token is spent.
        let email_verified = verify::email_verified_is_true(raw);
        let identity = self.identity(&claims, email_verified)?;

        // After every check: a token that fails one does not use up its single use. Kept until
        // the token could no longer be accepted anyway: its `exp`, or sooner the end of its
        // freshness window.
        let last = claims.expiration().min(claims.issue_time() + max_age);
        let until = (last + leeway).timestamp();
        let until = UNIX_EPOCH + Duration::from_secs(u64::try_from(until).unwrap_or(0) + 1);
        // Keyed on what the signature covers, not on the token's text: a signature has other
        // spellings that verify too (ECDSA's `n - s`), and they are the same token. Not on this
        // provider either: another provider on the same issuer and client id accepts the same
        // token, and must see it used.
        let key = ReplayKey::jws(raw).ok_or_else(|| {
            ProviderError::rejected("id_token_malformed", "not a compact JWS of three segments")
        })?;
        if !input
            .replay
            .first_use(&key, until.max(SystemTime::now()))
            .await?
        {
            return Err(ProviderError::rejected(
                "id_token_replayed",
                format!("ID token {key:?} was already exchanged"),
            ));
        }
        // An assertion is aged by its `iat`, as for every assertion flow; a token that names
        // an older `auth_time` (a refreshed token) is aged by that: the policy's
        // `max_age_seconds` bounds how long ago the user actually authenticated.
        let iat = claims.issue_time().timestamp();
        let authenticated = claims
            .auth_time()
            .map_or(iat, |auth_time| auth_time.timestamp().min(iat));
        Ok(identity.with_auth_time(Some(authenticated)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(result: Result<Checked, ProviderError>) -> &'static str {
        match result {
            Err(ProviderError::InvalidRequest { param, reason }) => {
                assert!(!reason.contains("eyJ"), "{reason}");
                param
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn the_body_needs_both_fields_and_nothing_else() {
        assert!(Body::parse(br#"{"id_token":"eyJ.a.b","nonce":"n-1"}"#).is_ok());
        // Each refusal names the field that is wrong.
        assert_eq!(param(Body::parse(br#"{"id_token":"eyJ.a.b"}"#)), "nonce");
        assert_eq!(param(Body::parse(br#"{"nonce":"n-1"}"#)), "id_token");
        assert_eq!(
            param(Body::parse(br#"{"id_token":"eyJ.a.b","nonce":""}"#)),
            "nonce"
        );
        assert_eq!(
            param(Body::parse(br#"{"id_token":"","nonce":"n"}"#)),
            "id_token"
        );
        assert_eq!(
            param(Body::parse(br#"{"id_token":"eyJ.a.b","nonce":"n","x":1}"#)),
            "body"
        );
        assert_eq!(param(Body::parse(b"eyJ.a.b")), "body");
    }

    /// A refusal names the field that is wrong (unknown, or not a string), never its value.
    #[test]
    fn a_refusal_names_the_field_never_its_value() {
        let refusal = |raw: &[u8]| match Body::parse(raw) {
            Err(ProviderError::InvalidRequest { param, reason }) => (param, reason),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("accepted"),
        };
        let (param, reason) = refusal(br#"{"id_token":"eyJ.a.b","nonce":"n","extra":"v4lue"}"#);
        assert_eq!(param, "body");
        assert!(reason.contains("unknown field `extra`"), "{reason}");
        let (param, reason) = refusal(br#"{"id_token":12345678,"nonce":"n"}"#);
        assert_eq!(param, "id_token", "{reason}");
        assert!(reason.contains("a string, not a number"), "{reason}");
        let (param, reason) = refusal(br#"{"id_token":"eyJ.a.b","nonce":["n0nce"]}"#);
        assert_eq!(param, "nonce", "{reason}");
        assert!(reason.contains("a string, not an array"), "{reason}");
        let (param, reason) = refusal(br#"{"nonce":"n","id_token":"eyJ.a.b","nonce":"n"}"#);
        assert_eq!(param, "body");
        assert!(reason.contains("more than once"), "{reason}");
        for (_, reason) in [
            refusal(br#"{"id_token":12345678,"nonce":"n"}"#),
            refusal(br#"{"id_token":"eyJ.a.b","nonce":["n0nce"]}"#),
            refusal(br#"{"id_token":"eyJ.a.b","nonce":"n","extra":"v4lue"}"#),
        ] {
            for value in ["12345678", "n0nce", "v4lue", "eyJ"] {
                assert!(!reason.contains(value), "{reason}");
            }
        }
    }
}
