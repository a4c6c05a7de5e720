//! Online checks: what `idp-bridge check-config --online` asks a provider to verify against its
//! upstream with the configuration as written, before any user tries to log in.
//!
//! A capability like the flows: a provider that can check something returns itself from
//! [`Provider::online`](crate::Provider::online); one that cannot is reported as unchecked.
//! Each check yields one [`CheckResult`]: a name (`discovery`, `client credentials`...) and
//! its [`CheckOutcome`], whose text says what was found or, for a failure, what to fix.
//!
//! Must not: create, change or delete anything upstream (no enrolment, no user, no token), or
//! put a secret in an outcome's text (it is printed).

use async_trait::async_trait;
use url::Url;

/// What the gateway hands a provider's online checks.
#[derive(Debug)]
#[non_exhaustive]
pub struct OnlineContext<'a> {
    /// The redirect URI this provider's logins use (`{public_url}/v1/auth/{id}/callback`),
    /// for a token request that must name it.
    pub redirect_uri: &'a Url,
}

impl<'a> OnlineContext<'a> {
    /// A context for a provider whose logins return to `redirect_uri`.
    pub fn new(redirect_uri: &'a Url) -> Self {
        Self { redirect_uri }
    }
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It holds; the text says what was confirmed.
    Passed(String),
    /// It does not; the text says what is wrong and what to change.
    Failed(String),
    /// The upstream answered in a way the check cannot interpret, or the check could not run:
    /// neither a pass nor a failure. The text says why.
    Unknown(String),
}

/// One named check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// What was checked, short (`discovery`, `signing keys`, `client credentials`).
    pub name: &'static str,
    /// How it came out.
    pub outcome: CheckOutcome,
}

impl CheckResult {
    /// A check that holds.
    pub fn passed(name: &'static str, found: impl Into<String>) -> Self {
        Self {
            name,
            outcome: CheckOutcome::Passed(found.into()),
        }
    }

    /// A check that fails, with what to fix.
    pub fn failed(name: &'static str, fix: impl Into<String>) -> Self {
        Self {
            name,
            outcome: CheckOutcome::Failed(fix.into()),
        }
    }

    /// A check that could not tell.
    pub fn unknown(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            name,
            outcome: CheckOutcome::Unknown(why.into()),
        }
    }

    /// Whether it failed.
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, CheckOutcome::Failed(_))
    }
}

/// A provider's checks against its upstream. Each request has the provider's own timeout;
/// a failed check that later ones depend on (discovery, say) ends the list.
#[async_trait]
pub trait OnlineCheck: Send + Sync {
    /// Runs the checks, in order, and reports each.
    async fn check_online(&self, context: &OnlineContext<'_>) -> Vec<CheckResult>;
}
