//! The extension surface: how a provider crate builds on the OIDC provider without copying it.
//!
//! An [`Extension`] is handed to [`open_extended`](crate::open_extended) with the table. It can
//! change six things and nothing else; the code flow (state, nonce, PKCE S256), discovery's exact
//! issuer check, the JWKS cache and every ID-token check ([`crate::verify`]) stay the
//! OIDC provider's:
//! - [`Issuers`]: which `iss` values are accepted: an exact set (Auth0 custom domains),
//!   or a template with `{tenantid}` filled from the token's `tid` and then
//!   compared exactly (Entra ID's multi-tenant endpoints);
//! - [`DiscoveryTarget`]: a discovery URL other than `{issuer}/.well-known/openid-configuration`
//!   and the exact `issuer` its document must announce (Entra's multi-tenant document announces
//!   the literal template);
//! - extra authorization-request parameters (Auth0's `organization`);
//! - [`ClaimsHook::check`]: a check of the verified claims (organization, connection, tenant, MFA
//!   rules), refusing with `ProviderError::access_denied`;
//! - [`ClaimsHook::identity_key`]: the identity's (issuer, subject), which key the Appwrite user
//!   (and [`ClaimsHook::identity_issuers`], those issuers as the configuration knows them;
//!   [`ClaimsHook::logout_issuer`], the identity's issuer for a logout token);
//! - [`ClaimsHook::email_verified`]: whether the provider vouches for the email (Entra ID does
//!   only through `xms_edov`, whatever `email_verified` says).

use std::sync::Arc;

use idp_provider_api::ProviderError;
use serde_json::Value;
use url::Url;

use crate::verify::Claims;

/// The placeholder of a tenant template.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Longest `tid` substituted into a template.
const MAX_TENANT_ID: usize = 64;

/// The `iss` values an extended provider accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuers {
    /// Exactly one of these strings. The configured issuer is always one of them.
    Exact(Vec<String>),
    /// This template with [`TENANT_PLACEHOLDER`] replaced by the token's `tid` claim (1..=64 of
    /// `[A-Za-z0-9-]`), compared exactly.
    TenantTemplate(String),
}

impl Issuers {
    /// The issuer `iss` is accepted as, given the token's `tid` claim.
    ///
    /// # Errors
    /// `id_token_issuer_mismatch` (or `id_token_tenant_invalid` for a missing or malformed
    /// `tid` under a template).
    pub fn accept(&self, iss: &str, tid: Option<&Value>) -> Result<(), ProviderError> {
        match self {
            Self::Exact(set) if set.iter().any(|i| i == iss) => Ok(()),
            Self::Exact(set) => Err(ProviderError::rejected(
                "id_token_issuer_mismatch",
                format!("iss {iss:?} is none of the accepted issuers {set:?}"),
            )),
            Self::TenantTemplate(template) => {
                let tid = tenant_id(tid)?;
                let expected = template.replace(TENANT_PLACEHOLDER, tid);
                if expected == iss {
                    Ok(())
                } else {
                    Err(ProviderError::rejected(
                        "id_token_issuer_mismatch",
                        format!(
                            "iss {iss:?} is not the template {template:?} with the token's tid ({expected:?})"
                        ),
                    ))
                }
            }
        }
    }

    /// Whether `iss` (an RFC 9207 authorization-response parameter, before any token is seen)
    /// can be one of these issuers: a member of the exact set, or the template with some
    /// well-formed tenant id.
    pub fn may_be(&self, iss: &str) -> bool {
        match self {
            Self::Exact(set) => set.iter().any(|i| i == iss),
            Self::TenantTemplate(template) => template
                .split_once(TENANT_PLACEHOLDER)
                .and_then(|(before, after)| iss.strip_prefix(before)?.strip_suffix(after))
                .is_some_and(is_tenant_id),
        }
    }
}

/// Whether `s` can stand for a tenant id: 1..=64 of `[A-Za-z0-9-]`, so that a substitution
/// never adds a path segment, a query or a scheme.
pub fn is_tenant_id(s: &str) -> bool {
    (1..=MAX_TENANT_ID).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The token's `tid` as a well-formed tenant id.
///
/// # Errors
/// `id_token_tenant_invalid` when it is missing, not a string or malformed.
pub fn tenant_id(tid: Option<&Value>) -> Result<&str, ProviderError> {
    match tid.and_then(Value::as_str) {
        Some(tid) if is_tenant_id(tid) => Ok(tid),
        Some(_) => Err(ProviderError::rejected(
            "id_token_tenant_invalid",
            "the tid claim is not 1..=64 of [A-Za-z0-9-]",
        )),
        None => Err(ProviderError::rejected(
            "id_token_tenant_invalid",
            "the token has no tid claim (a string)",
        )),
    }
}

/// Where discovery is fetched and which `issuer` the document must announce, exactly, when
/// that is not `{issuer}/.well-known/openid-configuration` announcing the configured issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryTarget {
    /// The discovery document's URL (under the same https-or-loopback rule as the issuer).
    pub url: Url,
    /// The `issuer` values the document may announce, each compared exactly.
    pub issuers: Vec<String>,
}

/// Checks and identity keys of a provider built on the OIDC provider; called after every check
/// of [`crate::verify`] passed.
pub trait ClaimsHook: Send + Sync {
    /// Refuses a verified token that the provider's own rules do not admit. A rule refusal is
    /// `ProviderError::access_denied(rule, detail)`; `detail` never holds other users' values.
    ///
    /// # Errors
    /// The refusal.
    fn check(&self, claims: &Claims) -> Result<(), ProviderError> {
        let _ = claims;
        Ok(())
    }

    /// The identity's (issuer, subject): by default the token's `iss` and `sub`.
    ///
    /// # Errors
    /// When a claim the key needs is missing.
    fn identity_key(&self, claims: &Claims) -> Result<(String, String), ProviderError> {
        Ok((
            claims.issuer().as_str().to_string(),
            claims.subject().as_str().to_string(),
        ))
    }

    /// The issuers [`ClaimsHook::identity_key`] can give, as far as the configuration tells
    /// (`configured`: the provider's `issuer`): by default that one issuer.
    fn identity_issuers(&self, configured: &str) -> Vec<String> {
        vec![configured.to_string()]
    }

    /// Whether the identity's email is verified. `asserted` is the token's `email_verified`
    /// read strictly (only the JSON boolean `true` counts); by default that is the answer.
    fn email_verified(&self, claims: &Claims, asserted: bool) -> bool {
        let _ = claims;
        asserted
    }

    /// The identity's issuer for a verified logout token's `iss`, whose `sub` (when present)
    /// is the identity's subject as it is: by default `iss` itself. A hook that keys
    /// identities on other claims than (`iss`, `sub`) must refuse, since a logout token carries
    /// no others.
    ///
    /// # Errors
    /// When logout tokens cannot name this provider's identities.
    fn logout_issuer(&self, iss: &str) -> Result<String, ProviderError> {
        Ok(iss.to_string())
    }
}

/// The hook of a plain `oidc` provider: no extra check, keyed on (`iss`, `sub`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;
impl ClaimsHook for NoHook {}

/// What a provider crate changes in the OIDC provider. `Extension::default()` is the plain
/// `oidc` type.
#[derive(Clone, Default)]
pub struct Extension {
    /// Accepted `iss` values; `None`: exactly the configured `issuer`.
    pub issuers: Option<Issuers>,
    /// Discovery elsewhere than under the issuer; `None`: under the configured `issuer`.
    pub discovery: Option<DiscoveryTarget>,
    /// Added to every authorization request, after the parameters of the code flow (which
    /// they may not repeat).
    pub authorization_params: Vec<(String, String)>,
    /// Checks and identity keys; `None`: [`NoHook`].
    pub claims: Option<Arc<dyn ClaimsHook>>,
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension")
            .field("issuers", &self.issuers)
            .field("discovery", &self.discovery)
            .field("authorization_params", &self.authorization_params)
            .field("claims", &self.claims.as_ref().map(|_| "hook"))
            .finish()
    }
}

/// The authorization-request parameters the code flow sets itself; an extension may not
/// repeat or replace them.
pub const RESERVED_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
    "max_age",
    "response_mode",
    "request",
    "request_uri",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

    #[test]
    fn an_exact_set_accepts_its_members_only() {
        let set = Issuers::Exact(vec![
            "https://t.auth0.com/".into(),
            "https://login.example.com/".into(),
        ]);
        assert!(set.accept("https://t.auth0.com/", None).is_ok());
        assert!(set.accept("https://login.example.com/", None).is_ok());
        for bad in [
            "https://t.auth0.com",
            "https://T.auth0.com/",
            "https://other.auth0.com/",
        ] {
            assert!(set.accept(bad, None).is_err(), "{bad}");
            assert!(!set.may_be(bad), "{bad}");
        }
    }

    #[test]
    fn a_template_is_filled_from_tid_and_then_compared_exactly() {
        let t = Issuers::TenantTemplate(TEMPLATE.into());
        let tid = "9122040d-6c67-4c5b-b112-36a304b66dad";
        let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert!(t.accept(&iss, Some(&json!(tid))).is_ok());
        // A tid that does not give the token's iss.
        let other = json!("72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert!(t.accept(&iss, Some(&other)).is_err());
        // The literal template is no issuer.
        assert!(t.accept(TEMPLATE, Some(&json!("{tenantid}"))).is_err());
        // A tid that would add a path.
        let sneaky = json!("a/v2.0/../b");
        assert!(
            t.accept(
                "https://login.microsoftonline.com/a/v2.0/../b/v2.0",
                Some(&sneaky)
            )
            .is_err()
        );
        assert!(t.accept(&iss, None).is_err(), "no tid");
        assert!(t.accept(&iss, Some(&json!(7))).is_err(), "tid not a string");
    }

    #[test]
    fn a_response_iss_may_be_a_template_issuer_with_a_well_formed_tenant() {
        let t = Issuers::TenantTemplate(TEMPLATE.into());
        assert!(t.may_be("https://login.microsoftonline.com/abc-123/v2.0"));
        assert!(!t.may_be("https://login.microsoftonline.com//v2.0"));
        assert!(!t.may_be("https://login.microsoftonline.com/a/b/v2.0"));
        assert!(!t.may_be("https://evil.example/abc/v2.0"));
    }
}
