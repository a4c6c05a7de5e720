//! The claim checks an ID token and a logout token share, in one place so that their rules
//! (and their leeway) cannot drift apart: `iat` not in the future nor older than
//! `max_token_age_seconds`, `nbf` not in the future, and `azp` (OIDC Core 3.1.3.7 steps 4-5:
//! required with several audiences, and when present the client id). Each refusal is named
//! after the token it is about (`id_token_*` or `logout_token_*`).
//!
//! Must not: check anything else (signatures, issuers, audiences and `exp` stay with each
//! token's verifier).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use idp_provider_api::ProviderError;

use crate::verify::VerifyError;

/// Which token a check is about: its refusals carry that token's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// An ID token (`id_token_*`).
    Id,
    /// A back-channel logout token (`logout_token_*`).
    Logout,
}

/// A shared check that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Malformed,
    IssuedInFuture,
    TooOld,
    NotYetValid,
    AzpMismatch,
}

impl Token {
    /// The error type of `check` failing on this token.
    const fn error_type(self, check: Check) -> &'static str {
        match (self, check) {
            (Self::Id, Check::Malformed) => "id_token_malformed",
            (Self::Id, Check::IssuedInFuture) => "id_token_issued_in_future",
            (Self::Id, Check::TooOld) => "id_token_too_old",
            (Self::Id, Check::NotYetValid) => "id_token_not_yet_valid",
            (Self::Id, Check::AzpMismatch) => "id_token_azp_mismatch",
            (Self::Logout, Check::Malformed) => "logout_token_malformed",
            (Self::Logout, Check::IssuedInFuture) => "logout_token_issued_in_future",
            (Self::Logout, Check::TooOld) => "logout_token_too_old",
            (Self::Logout, Check::NotYetValid) => "logout_token_not_yet_valid",
            (Self::Logout, Check::AzpMismatch) => "logout_token_azp_mismatch",
        }
    }

    fn reject(self, check: Check, detail: String) -> VerifyError {
        VerifyError::Rejected(ProviderError::rejected(self.error_type(check), detail))
    }
}

/// The provider's `leeway_seconds` as a time delta.
pub(crate) fn leeway(leeway: Duration) -> TimeDelta {
    TimeDelta::from_std(leeway).unwrap_or(TimeDelta::zero())
}

/// The claim `name` as a NumericDate: a finite number of seconds since the epoch (a fraction,
/// which RFC 7519 section 2 allows, is dropped: whole seconds are enough here).
pub(crate) fn numeric_date(
    token: Token,
    name: &str,
    seconds: Option<f64>,
) -> Result<DateTime<Utc>, VerifyError> {
    seconds
        .filter(|s| s.is_finite())
        .and_then(|s| DateTime::<Utc>::from_timestamp(s.floor() as i64, 0))
        .ok_or_else(|| token.reject(Check::Malformed, format!("{name} is not a NumericDate")))
}

/// `iat` is not after `now`, nor more than `max_age` before it, each with `leeway`.
pub(crate) fn check_iat(
    token: Token,
    iat: DateTime<Utc>,
    now: DateTime<Utc>,
    leeway: TimeDelta,
    max_age: Duration,
) -> Result<(), VerifyError> {
    if iat > now + leeway {
        return Err(token.reject(Check::IssuedInFuture, format!("iat {iat} is after {now}")));
    }
    let max_age = TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX);
    if now - iat > max_age + leeway {
        return Err(token.reject(
            Check::TooOld,
            format!(
                "iat {iat} is more than max_token_age_seconds ({}) before {now}",
                max_age.num_seconds()
            ),
        ));
    }
    Ok(())
}

/// `nbf`, when present, is not after `now` (with `leeway`).
pub(crate) fn check_nbf(
    token: Token,
    nbf: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    leeway: TimeDelta,
) -> Result<(), VerifyError> {
    match nbf {
        Some(nbf) if nbf > now + leeway => {
            Err(token.reject(Check::NotYetValid, format!("nbf {nbf} is after {now}")))
        }
        _ => Ok(()),
    }
}

/// With several audiences (`audiences` of them) `azp` is required, and when present it must
/// be `client_id`: a token issued to another party of a shared audience is not ours.
pub(crate) fn check_azp(
    token: Token,
    azp: Option<&str>,
    audiences: usize,
    client_id: &str,
) -> Result<(), VerifyError> {
    match azp {
        Some(azp) if azp != client_id => Err(token.reject(
            Check::AzpMismatch,
            format!("azp {azp:?} is not the client id {client_id:?}"),
        )),
        None if audiences > 1 => {
            Err(token.reject(Check::AzpMismatch, "several audiences but no azp".into()))
        }
        _ => Ok(()),
    }
}
