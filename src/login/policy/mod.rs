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
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn identity(claims: Value) -> Identity {
        Identity::verified("corp", "https://idp.example", "alice")
            .with_email(Some("Alice@Example.COM".into()), true)
            .with_claims(claims.as_object().cloned().unwrap_or_default())
            .with_auth_time(Some(NOW))
    }

    const NOW: i64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW as u64)
    }

    fn rule_of(result: Result<Admission, LoginError>) -> String {
        match result {
            Err(LoginError::AccessDenied { rule, .. }) => rule,
            other => panic!("expected access_denied, got {other:?}"),
        }
    }

    fn required(name: &str, values: Vec<ClaimValue>) -> ProviderPolicy {
        ProviderPolicy {
            required_claims: vec![RequiredClaim::new(name, values)],
            ..ProviderPolicy::default()
        }
    }

    fn text(v: &str) -> ClaimValue {
        ClaimValue::Text(v.into())
    }

    #[test]
    fn without_rules_everything_verified_is_admitted() {
        let admission = ProviderPolicy::default()
            .admit(&identity(json!({})), Flow::Redirect, now())
            .expect("admitted");
        assert_eq!(
            admission.email.as_ref().map(Email::as_str),
            Some("alice@example.com")
        );
        assert_eq!(
            admission.labels, None,
            "no label keys: labels are left alone"
        );
    }

    #[test]
    fn email_domains_match_the_normalised_domain_exactly() {
        let policy = ProviderPolicy {
            email_domains: vec!["example.com".into(), "xn--bcher-kva.example".into()],
            ..ProviderPolicy::default()
        };
        let with_email = |email: &str, verified: bool| {
            Identity::verified("corp", "https://idp", "a").with_email(Some(email.into()), verified)
        };
        for ok in ["a@example.com", "a@EXAMPLE.com", "a@bücher.example"] {
            assert!(
                policy
                    .admit(&with_email(ok, true), Flow::Redirect, now())
                    .is_ok(),
                "{ok}"
            );
        }
        for refused in [
            "a@sub.example.com",
            "a@example.com.evil.test",
            "a@evilexample.com",
            // Cyrillic "е": a look-alike is another domain.
            "a@\u{0435}xample.com",
        ] {
            assert_eq!(
                rule_of(policy.admit(&with_email(refused, true), Flow::Redirect, now())),
                "email_domains",
                "{refused}"
            );
        }
        // An unverified or absent email never matches a non-empty list.
        assert_eq!(
            rule_of(policy.admit(&with_email("a@example.com", false), Flow::Redirect, now())),
            "email_domains"
        );
        let no_email = Identity::verified("corp", "https://idp", "a");
        assert_eq!(
            rule_of(policy.admit(&no_email, Flow::Redirect, now())),
            "email_domains"
        );
    }

    #[test]
    fn require_email_verified_refuses_unverified_and_missing_emails() {
        let policy = ProviderPolicy {
            require_email_verified: true,
            ..ProviderPolicy::default()
        };
        let unverified = Identity::verified("corp", "https://idp", "a")
            .with_email(Some("a@example.com".into()), false);
        assert_eq!(
            rule_of(policy.admit(&unverified, Flow::Redirect, now())),
            "require_email_verified"
        );
        let none = Identity::verified("corp", "https://idp", "a");
        assert_eq!(
            rule_of(policy.admit(&none, Flow::Redirect, now())),
            "require_email_verified"
        );
        assert!(
            policy
                .admit(&identity(json!({})), Flow::Redirect, now())
                .is_ok()
        );
    }

    #[test]
    fn a_string_claim_must_equal_a_listed_value() {
        let policy = required("department", vec![text("eng"), text("ops")]);
        assert!(
            policy
                .admit(
                    &identity(json!({"department": "ops"})),
                    Flow::Redirect,
                    now()
                )
                .is_ok()
        );
        for claims in [
            json!({"department": "sales"}),
            json!({"department": "Eng"}),
            json!({"department": "eng "}),
            json!({"department": null}),
            json!({}),
            json!({"department": {"name": "eng"}}),
            json!({"department": 1}),
            json!({"Department": "eng"}),
        ] {
            assert_eq!(
                rule_of(policy.admit(&identity(claims.clone()), Flow::Redirect, now())),
                "required_claims.\"department\"",
                "{claims}"
            );
        }
    }

    #[test]
    fn an_array_claim_must_contain_a_listed_value() {
        let policy = required("groups", vec![text("admins"), text("staff")]);
        assert!(
            policy
                .admit(
                    &identity(json!({"groups": ["users", "staff"]})),
                    Flow::Redirect,
                    now()
                )
                .is_ok()
        );
        for claims in [
            json!({"groups": []}),
            json!({"groups": ["users"]}),
            json!({"groups": [["staff"]]}),
            json!({"groups": "users"}),
        ] {
            assert_eq!(
                rule_of(policy.admit(&identity(claims.clone()), Flow::Redirect, now())),
                "required_claims.\"groups\"",
                "{claims}"
            );
        }
        // A string claim equal to a listed value matches too.
        assert!(
            policy
                .admit(
                    &identity(json!({"groups": "admins"})),
                    Flow::Redirect,
                    now()
                )
                .is_ok()
        );
    }

    #[test]
    fn booleans_match_booleans_only() {
        let policy = required("mfa", vec![ClaimValue::Bool(true)]);
        assert!(
            policy
                .admit(&identity(json!({"mfa": true})), Flow::Redirect, now())
                .is_ok()
        );
        assert!(
            policy
                .admit(
                    &identity(json!({"mfa": [false, true]})),
                    Flow::Redirect,
                    now()
                )
                .is_ok()
        );
        for claims in [
            json!({"mfa": false}),
            json!({"mfa": "true"}),
            json!({"mfa": 1}),
            json!({"mfa": ["true"]}),
        ] {
            assert!(
                policy
                    .admit(&identity(claims.clone()), Flow::Redirect, now())
                    .is_err(),
                "{claims}"
            );
        }
        // And a listed string never matches a boolean claim.
        let policy = required("mfa", vec![text("true")]);
        assert!(
            policy
                .admit(&identity(json!({"mfa": true})), Flow::Redirect, now())
                .is_err()
        );
    }

    #[test]
    fn namespaced_claim_names_are_plain_keys() {
        let name = "https://example.com/roles";
        let policy = required(name, vec![text("admin")]);
        assert!(
            policy
                .admit(&identity(json!({name: ["admin"]})), Flow::Redirect, now())
                .is_ok()
        );
        // Not a path: nested objects do not match.
        assert_eq!(
            rule_of(policy.admit(
                &identity(json!({"https://example": {"com/roles": ["admin"]}})),
                Flow::Redirect,
                now()
            )),
            "required_claims.\"https://example.com/roles\""
        );
    }

    #[test]
    fn standard_fields_can_be_required_when_the_claims_lack_them() {
        let policy = required("email_verified", vec![ClaimValue::Bool(true)]);
        assert!(
            policy
                .admit(&identity(json!({})), Flow::Redirect, now())
                .is_ok()
        );
        let policy = required("sub", vec![text("alice")]);
        assert!(
            policy
                .admit(&identity(json!({})), Flow::Redirect, now())
                .is_ok()
        );
        let policy = required("sub", vec![text("bob")]);
        assert!(
            policy
                .admit(&identity(json!({})), Flow::Redirect, now())
                .is_err()
        );
    }

    #[test]
    fn every_required_claim_must_hold() {
        let policy = ProviderPolicy {
            required_claims: vec![
                RequiredClaim::new("groups", vec![text("staff")]),
                RequiredClaim::new("tenant", vec![text("t1")]),
            ],
            ..ProviderPolicy::default()
        };
        assert!(
            policy
                .admit(
                    &identity(json!({"groups": ["staff"], "tenant": "t1"})),
                    Flow::Redirect,
                    now()
                )
                .is_ok()
        );
        assert_eq!(
            rule_of(policy.admit(
                &identity(json!({"groups": ["staff"]})),
                Flow::Redirect,
                now()
            )),
            "required_claims.\"tenant\""
        );
    }

    #[test]
    fn max_age_applies_to_redirects_when_set_and_to_assertions_by_default() {
        let aged = |age: i64| identity(json!({})).with_auth_time(Some(NOW - age));
        let none = ProviderPolicy::default();
        assert_eq!(none.max_age(Flow::Redirect), None);
        assert_eq!(
            none.max_age(Flow::Assertion),
            Some(ASSERTION_MAX_AGE_DEFAULT)
        );
        assert!(none.admit(&aged(86_400), Flow::Redirect, now()).is_ok());
        assert!(none.admit(&aged(300), Flow::Assertion, now()).is_ok());
        assert_eq!(
            rule_of(none.admit(&aged(300 + 61), Flow::Assertion, now())),
            "max_age_seconds"
        );
        let set = ProviderPolicy {
            max_age_seconds: Some(600),
            ..ProviderPolicy::default()
        };
        assert!(set.admit(&aged(600 + 60), Flow::Redirect, now()).is_ok());
        assert!(set.admit(&aged(600), Flow::Assertion, now()).is_ok());
        assert_eq!(
            rule_of(set.admit(&aged(600 + 61), Flow::Redirect, now())),
            "max_age_seconds"
        );
        assert_eq!(
            rule_of(set.admit(&aged(-61), Flow::Redirect, now())),
            "max_age_seconds",
            "an authentication in the future"
        );
        let unknown = identity(json!({})).with_auth_time(None);
        assert_eq!(
            rule_of(set.admit(&unknown, Flow::Redirect, now())),
            "max_age_seconds"
        );
        assert_eq!(
            rule_of(none.admit(&unknown, Flow::Assertion, now())),
            "max_age_seconds"
        );
        assert!(none.admit(&unknown, Flow::Redirect, now()).is_ok());
    }

    #[test]
    fn refusals_never_carry_the_claim_value() {
        let policy = required("groups", vec![text("admins")]);
        let error = policy
            .admit(
                &identity(json!({"groups": ["secret-team-name"]})),
                Flow::Redirect,
                now(),
            )
            .expect_err("refused");
        let public = error.public();
        assert_eq!((public.kind.as_str(), public.code), ("access_denied", 403));
        assert!(
            public.message.contains("required_claims.\"groups\""),
            "{public:?}"
        );
        for text in [public.to_json(), error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("secret-team-name"), "{text}");
            assert!(!text.contains("admins"), "{text}");
        }
    }

    #[test]
    fn labels_are_owned_only_with_label_keys() {
        let policy = ProviderPolicy {
            labels: vec!["staff".into()],
            label_claims: vec!["roles".into()],
            ..ProviderPolicy::default()
        };
        let admission = policy
            .admit(
                &identity(json!({"roles": ["admin", "admin", "read-only", "staff"]})),
                Flow::Redirect,
                now(),
            )
            .expect("admitted");
        assert_eq!(
            admission.labels,
            Some(vec!["staff".to_string(), "admin".to_string()]),
            "static first, then valid claim values, each once"
        );
        let only_claims = ProviderPolicy {
            label_claims: vec!["roles".into()],
            ..ProviderPolicy::default()
        };
        assert_eq!(
            only_claims
                .admit(&identity(json!({})), Flow::Redirect, now())
                .expect("admitted")
                .labels,
            Some(vec![]),
            "owning labels with no value left means: only the gateway's own"
        );
    }
}
