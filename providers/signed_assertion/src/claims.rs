//! What both formats assert once their signature holds: subject, `jti`, issue time, email,
//! name and any other claims; and the freshness window every assertion must fall in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use idp_provider_api::ProviderError;
use serde_json::{Map, Value};

use crate::reject;

/// Longest `sub` and `jti` accepted.
const MAX_ID_LEN: usize = 255;
/// Longest `email` (RFC 5321 path limit) and `name` accepted.
const MAX_EMAIL_LEN: usize = 320;
const MAX_NAME_LEN: usize = 256;

/// Claims read here or by the verifier; the rest is handed on for policy.
const REGISTERED: [&str; 11] = [
    "iss",
    "aud",
    "sub",
    "iat",
    "exp",
    "nbf",
    "jti",
    "email",
    "email_verified",
    "name",
    "t",
];

/// A verified assertion's content.
#[derive(Debug)]
pub(crate) struct Assertion {
    pub subject: String,
    pub jti: String,
    /// When the signer made it (`iat`, or the signature's `t`), unix seconds.
    pub issued_at: i64,
    /// The `exp` of a JWT.
    pub expires: Option<i64>,
    pub email: Option<String>,
    /// Only the JSON boolean `true` counts.
    pub email_verified: bool,
    pub name: Option<String>,
    pub other: Map<String, Value>,
}

impl Assertion {
    /// Reads the claims of a verified assertion. `issued_at` is the signature header's `t` for
    /// the `hmac` format; a JWT carries `iat` itself.
    ///
    /// # Errors
    /// `assertion_claim_missing` / `assertion_claim_invalid` naming the claim.
    pub(crate) fn read(
        mut claims: Map<String, Value>,
        issued_at: Option<i64>,
    ) -> Result<Self, ProviderError> {
        let issued_at = match issued_at {
            Some(t) => t,
            None => numeric_date(&claims, "iat")?
                .ok_or_else(|| missing("iat", "the signer's clock time, to bound the age"))?,
        };
        let expires = numeric_date(&claims, "exp")?;
        let subject = identifier(&claims, "sub")?
            .ok_or_else(|| missing("sub", "the user's stable id at the signer"))?;
        let jti = identifier(&claims, "jti")?
            .ok_or_else(|| missing("jti", "a unique id: each assertion is accepted once"))?;
        let email = text(&claims, "email", MAX_EMAIL_LEN)?;
        let name = text(&claims, "name", MAX_NAME_LEN)?;
        let email_verified = claims.get("email_verified") == Some(&Value::Bool(true));
        claims.retain(|name, _| !REGISTERED.contains(&name.as_str()));
        Ok(Self {
            subject,
            jti,
            issued_at,
            expires,
            email,
            email_verified,
            name,
            other: claims,
        })
    }
}

fn missing(claim: &str, what: &str) -> ProviderError {
    reject(
        "assertion_claim_missing",
        format!("the {claim} claim is required: {what}"),
    )
}

fn invalid(claim: &str, why: &str) -> ProviderError {
    reject(
        "assertion_claim_invalid",
        format!("the {claim} claim {why}"),
    )
}

/// A NumericDate (RFC 7519: seconds, maybe with a fraction), as whole seconds.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ProviderError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|s| s.is_finite() && s.abs() < 1e12)
            .map(|s| Some(s.floor() as i64))
            .ok_or_else(|| invalid(name, "must be a number of seconds since 1970")),
    }
}

/// `sub` or `jti`: a non-empty string of at most 255 bytes without control characters.
fn identifier(claims: &Map<String, Value>, name: &str) -> Result<Option<String>, ProviderError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= MAX_ID_LEN && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(invalid(
            name,
            "must be a string of 1..=255 bytes without control characters",
        )),
    }
}

/// An optional string claim of bounded length.
fn text(
    claims: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<String>, ProviderError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.clone())),
        Some(_) => Err(invalid(
            name,
            &format!("must be a string of at most {max} bytes"),
        )),
    }
}

/// How old an assertion may be, and the clock skew tolerated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub max_age: Duration,
    pub leeway: Duration,
}

impl Window {
    /// Checks that an assertion made at `issued_at` (and valid until `expires`, if it says) is
    /// acceptable at `now`, and returns until when its `jti` must be remembered: the moment it
    /// could no longer be accepted anyway.
    ///
    /// # Errors
    /// `assertion_issued_in_future` beyond the leeway; `assertion_expired` when older than
    /// `max_age_seconds` (plus leeway) or past its `exp`.
    pub(crate) fn check(
        &self,
        issued_at: i64,
        expires: Option<i64>,
        now: i64,
    ) -> Result<SystemTime, ProviderError> {
        let leeway = secs(self.leeway);
        let max_age = secs(self.max_age);
        if issued_at > now.saturating_add(leeway) {
            return Err(reject(
                "assertion_issued_in_future",
                format!(
                    "issued {}s in the future, more than the {leeway}s leeway",
                    issued_at - now
                ),
            ));
        }
        let last = issued_at.saturating_add(max_age);
        if now > last.saturating_add(leeway) {
            return Err(reject(
                "assertion_expired",
                format!(
                    "issued {}s ago; max_age_seconds is {max_age}",
                    now.saturating_sub(issued_at)
                ),
            ));
        }
        let last = expires.map_or(last, |exp| exp.min(last));
        if now > last.saturating_add(leeway) {
            return Err(reject("assertion_expired", "exp has passed"));
        }
        let until = u64::try_from(last.saturating_add(leeway).saturating_add(1)).unwrap_or(0);
        Ok(UNIX_EPOCH + Duration::from_secs(until))
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The current time in unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(e: ProviderError) -> &'static str {
        match e {
            ProviderError::Rejected(r) => r.reason,
            other => panic!("not a rejection: {other:?}"),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn jti_sub_and_iat_are_required() {
        let full = json!({"sub": "u1", "jti": "j1", "iat": 100});
        assert!(Assertion::read(claims(full.clone()), None).is_ok());
        for gone in ["sub", "jti", "iat"] {
            let mut c = claims(full.clone());
            c.remove(gone);
            let e = Assertion::read(c, None).expect_err(gone);
            assert_eq!(reason(e), "assertion_claim_missing", "{gone}");
        }
    }

    #[test]
    fn only_the_boolean_true_verifies_an_email() {
        for (value, verified) in [
            (json!(true), true),
            (json!("true"), false),
            (json!(1), false),
            (json!(false), false),
        ] {
            let c = claims(
                json!({"sub": "u", "jti": "j", "iat": 1, "email": "a@b.example",
                "email_verified": value}),
            );
            assert_eq!(
                Assertion::read(c, None).expect("ok").email_verified,
                verified
            );
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        for bad in [
            json!({"sub": "", "jti": "j", "iat": 1}),
            json!({"sub": 7, "jti": "j", "iat": 1}),
            json!({"sub": "u", "jti": "j\n", "iat": 1}),
            json!({"sub": "u", "jti": "j", "iat": "1"}),
            json!({"sub": "u", "jti": "j", "iat": 1, "email": ["x"]}),
        ] {
            let e = Assertion::read(claims(bad.clone()), None).expect_err("refused");
            assert_eq!(reason(e), "assertion_claim_invalid", "{bad}");
        }
    }

    #[test]
    fn other_claims_are_kept_for_policy_and_registered_ones_are_not() {
        let c = claims(json!({"sub": "u", "jti": "j", "iat": 1, "groups": ["a"], "iss": "x"}));
        let a = Assertion::read(c, None).expect("ok");
        assert_eq!(a.other.keys().collect::<Vec<_>>(), vec!["groups"]);
    }

    #[test]
    fn the_window() {
        let w = Window {
            max_age: Duration::from_secs(300),
            leeway: Duration::from_secs(30),
        };
        let now = 10_000;
        assert!(w.check(now, None, now).is_ok());
        assert!(w.check(now + 30, None, now).is_ok(), "within the leeway");
        assert_eq!(
            reason(w.check(now + 31, None, now).expect_err("future")),
            "assertion_issued_in_future"
        );
        assert!(w.check(now - 330, None, now).is_ok());
        assert_eq!(
            reason(w.check(now - 331, None, now).expect_err("stale")),
            "assertion_expired"
        );
        assert_eq!(
            reason(w.check(now - 10, Some(now - 31), now).expect_err("exp")),
            "assertion_expired"
        );
        // Remembered until it could no longer be accepted: the earlier of exp and the age
        // limit, plus the leeway.
        let until = |iat, exp| {
            w.check(iat, exp, now)
                .expect("ok")
                .duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
        };
        assert_eq!(until(now, None), 10_000 + 300 + 30 + 1);
        assert_eq!(until(now, Some(now + 60)), 10_000 + 60 + 30 + 1);
        assert_eq!(until(now, Some(now + 9999)), 10_000 + 300 + 30 + 1);
    }
}
