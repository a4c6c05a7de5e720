//! What the gateway trusts from each provider, beyond the provider's own checks.
//!
//! Owns the per-provider keys the gateway reads from `[providers.<id>]` (the rest belongs to the
//! provider crate): `trusted_for_email` and `link_by_email`.

use std::sync::Arc;

use idp_provider_api::{ConfigProblem, Identity, Provider};
use serde_json::{Map, Value};

use crate::login::email::Email;
use crate::login::error::LoginError;

/// A provider with the gateway's policy for it.
#[derive(Clone)]
pub struct ConfiguredProvider {
    /// The provider plugin.
    pub provider: Arc<dyn Provider>,
    /// What the gateway trusts it for.
    pub policy: ProviderPolicy,
}

/// What policy admitted of an identity, for the user mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The identity's email, if the provider verified it, strictly parsed and normalised.
    pub email: Option<Email>,
}

/// Per-provider trust.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderPolicy {
    /// The provider's `email_verified: true` is believed: its verified emails mark the Appwrite
    /// user's email as verified (never the reverse), and may be used for linking.
    pub trusted_for_email: bool,
    /// A first login may attach to an existing Appwrite user with the same verified email,
    /// instead of creating a new user. Requires `trusted_for_email`.
    pub link_by_email: bool,
}

impl ProviderPolicy {
    /// The keys of a provider table that the policy reads.
    pub const KEYS: &'static [&'static str] = &["trusted_for_email", "link_by_email"];

    /// Takes the policy keys out of a provider table, reporting bad values.
    pub fn take_from(
        id: &str,
        table: &mut Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut flag = |name: &str| match table.remove(name) {
            None => false,
            Some(Value::Bool(value)) => value,
            Some(other) => {
                problems.push(ConfigProblem::new(
                    format!("providers.{id}.{name}"),
                    format!("must be true or false, found {other}"),
                ));
                false
            }
        };
        let policy = Self {
            trusted_for_email: flag("trusted_for_email"),
            link_by_email: flag("link_by_email"),
        };
        if policy.link_by_email && !policy.trusted_for_email {
            problems.push(ConfigProblem::new(
                format!("providers.{id}.link_by_email"),
                "requires trusted_for_email = true: linking by email trusts the provider's email_verified",
            ));
        }
        policy
    }

    /// Decides whether a verified identity may log in, and what of it the gateway believes.
    /// Runs after the provider's own checks and before any Appwrite call.
    ///
    /// # Errors
    /// `EmailInvalid` when the provider vouches for an address that is not a plain, valid one
    /// (several `@`, whitespace, controls, a bad domain): such an assertion is not believed.
    pub fn admit(&self, identity: &Identity) -> Result<Admission, LoginError> {
        let email = match identity.verified_email() {
            None => None,
            Some(raw) => Some(Email::parse(raw).map_err(LoginError::EmailInvalid)?),
        };
        Ok(Admission { email })
    }
}
