//! What the gateway requires of, and believes from, each provider, beyond the provider's own
//! checks (docs/security/access-policy.md).
//!
//! Owns the per-provider keys the gateway reads from `[providers.<id>]` (the rest belongs to the
//! provider crate): `trusted_for_email`, `link_by_email`, `on_email_conflict`, the access rules
//! `require_email_verified`, `email_domains`, `required_claims`, `max_age_seconds`, and the
//! labels `labels` and `label_claims`. [`ProviderPolicy::admit`] runs after the provider verified
//! the assertion and before any Appwrite call.
//! Must not: call Appwrite, or put a claim value of the user into an error or a log line (a
//! refusal names its rule; the log says why in general terms).

mod claims;
mod config;
mod labels;

use std::sync::Arc;
use std::time::SystemTime;

use idp_provider_api::{Identity, Provider};

pub use claims::{ClaimValue, RequiredClaim};

use crate::login::email::Email;
use crate::login::error::LoginError;

/// How old an assertion's authentication may be when `max_age_seconds` is not set (assertion
/// flows only; redirect flows have no default).
pub const ASSERTION_MAX_AGE_DEFAULT: u64 = 300;

/// The clock difference between the provider and the gateway that the `max_age_seconds` check
/// tolerates, both ways.
pub const CLOCK_SKEW_SECONDS: u64 = 60;

/// A provider with the gateway's policy for it.
#[derive(Clone)]
pub struct ConfiguredProvider {
    /// The provider plugin.
    pub provider: Arc<dyn Provider>,
    /// What the gateway requires of it and trusts it for.
    pub policy: ProviderPolicy,
}

/// Which flow produced an identity; the policy's `max_age_seconds` default depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `start` + `callback`: the provider was asked for `max_age` and reports `auth_time`.
    Redirect,
    /// `POST /v1/auth/{id}/exchange`: the provider reports the assertion's `iat` as its
    /// authentication time.
    Assertion,
}

/// What to do when a first login's verified email already belongs to another Appwrite user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnEmailConflict {
    /// Refuse with `user_email_conflict` (the default).
    #[default]
    Fail,
    /// Create the identity's user without an email, and never link it to the holder.
    CreateWithoutEmail,
}

/// Per-provider requirements and trust. Built by [`ProviderPolicy::take_from`], which checks
/// every value; the fields hold normalised values (IDNA domains, valid labels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderPolicy {
    /// The provider's `email_verified: true` is believed: its verified emails are written on the
    /// Appwrite users it creates and marked verified (never the reverse), and may be used for
    /// linking. Without it, its users get no email in Appwrite.
    pub trusted_for_email: bool,
    /// A first login may attach to an existing Appwrite user with the same verified email,
    /// instead of creating a new user. Requires `trusted_for_email`.
    pub link_by_email: bool,
    /// What a first login does when its verified email belongs to another Appwrite user.
    pub on_email_conflict: OnEmailConflict,
    /// Refuse identities whose email the provider did not verify (or that have none).
    pub require_email_verified: bool,
    /// When not empty, the verified email's domain (IDNA ASCII, lowercase) must be one of these
    /// exactly; subdomains do not match.
    pub email_domains: Vec<String>,
    /// Claims that must hold one of their listed values.
    pub required_claims: Vec<RequiredClaim>,
    /// How old the authentication may be, in seconds (see [`ProviderPolicy::max_age`]).
    pub max_age_seconds: Option<u64>,
    /// Static Appwrite labels for every user of this provider.
    pub labels: Vec<String>,
    /// Claims whose values become Appwrite labels.
    pub label_claims: Vec<String>,
}

/// What policy admitted of an identity, for the user mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The identity's email, if the provider verified it, strictly parsed and normalised.
    pub email: Option<Email>,
    /// The labels the user must carry besides the gateway's own, when the policy owns the
    /// user's labels (`labels` or `label_claims` configured); `None` leaves labels alone.
    pub labels: Option<Vec<String>>,
}

impl ProviderPolicy {
    /// How old the authentication may be for `flow`: `max_age_seconds`, or for assertions
    /// [`ASSERTION_MAX_AGE_DEFAULT`] when it is not set. Redirect flows send it to the provider
    /// as `max_age`.
    pub fn max_age(&self, flow: Flow) -> Option<u64> {
        match flow {
            Flow::Redirect => self.max_age_seconds,
            Flow::Assertion => Some(self.max_age_seconds.unwrap_or(ASSERTION_MAX_AGE_DEFAULT)),
        }
    }

    /// Whether the policy decides the user's labels: only with `labels` or `label_claims`.
    pub fn owns_labels(&self) -> bool {
        !self.labels.is_empty() || !self.label_claims.is_empty()
    }

    /// Decides whether a verified identity may log in, and what of it the gateway believes.
    /// Runs after the provider's own checks and before any Appwrite call. `now` is the
    /// gateway's clock, for `max_age_seconds`.
    ///
    /// # Errors
    /// `AccessDenied` naming the first rule that refuses the identity; `EmailInvalid` when the
    /// provider vouches for an address that is not a plain, valid one (several `@`, whitespace,
    /// controls, a bad domain): such an assertion is not believed.
    pub fn admit(
        &self,
        identity: &Identity,
        flow: Flow,
        now: SystemTime,
    ) -> Result<Admission, LoginError> {
        if self.require_email_verified && !identity.email_verified() {
            return Err(denied(
                "require_email_verified",
                "the provider did not assert a verified email",
            ));
        }
        let email = match identity.verified_email() {
            None => None,
            Some(raw) => Some(Email::parse(raw).map_err(LoginError::EmailInvalid)?),
        };
        if !self.email_domains.is_empty() {
            self.check_email_domain(email.as_ref())?;
        }
        for rule in &self.required_claims {
            rule.check(identity)
                .map_err(|why| denied(rule.rule_name(), why))?;
        }
        if let Some(max_age) = self.max_age(flow) {
            check_auth_time(identity.auth_time(), max_age, now)?;
        }
        let labels = self
            .owns_labels()
            .then(|| labels::wanted(&self.labels, &self.label_claims, identity));
        Ok(Admission { email, labels })
    }

    fn check_email_domain(&self, email: Option<&Email>) -> Result<(), LoginError> {
        let Some(email) = email else {
            return Err(denied(
                "email_domains",
                "the identity has no verified email",
            ));
        };
        if self.email_domains.iter().any(|d| d == email.domain()) {
            Ok(())
        } else {
            // The domain stays out of the log too: it is part of the user's address.
            Err(denied(
                "email_domains",
                "the verified email's domain is not listed",
            ))
        }
    }
}

/// `max_age_seconds`: the authentication time must be known, at most `max_age` (plus the clock
/// skew) in the past, and not in the future beyond the skew.
fn check_auth_time(
    auth_time: Option<i64>,
    max_age: u64,
    now: SystemTime,
) -> Result<(), LoginError> {
    const RULE: &str = "max_age_seconds";
    let Some(auth_time) = auth_time else {
        return Err(denied(
            RULE,
            "the provider did not say when the user authenticated (no auth_time or iat)",
        ));
    };
    let now = match now.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let skew = i64::try_from(CLOCK_SKEW_SECONDS).unwrap_or(i64::MAX);
    let age = now.saturating_sub(auth_time);
    if age < -skew {
        return Err(denied(
            RULE,
            format!("the authentication time is {} s in the future", -age),
        ));
    }
    let limit = i64::try_from(max_age)
        .unwrap_or(i64::MAX)
        .saturating_add(skew);
    if age > limit {
        return Err(denied(
            RULE,
            format!("the user authenticated {age} s ago, more than the {max_age} s allowed"),
        ));
    }
    Ok(())
}

fn denied(rule: impl Into<String>, detail: impl Into<String>) -> LoginError {
    LoginError::AccessDenied {
        rule: rule.into(),
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests;
