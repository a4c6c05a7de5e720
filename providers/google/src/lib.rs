//! The `google` provider type of idp-bridge: the OIDC provider (code flow, PKCE, nonce,
//! discovery, JWKS cache, every ID-token check) with Google's rules, through the OIDC crate's
//! [`Extension`]:
//! - the issuer is `https://accounts.google.com` (the default of `issuer`), compared exactly;
//! - `hosted_domains`: the token's `hd` claim (present only for Google Workspace accounts) must
//!   be one of them. Only the signed token's `hd` counts, never the `hd` request parameter,
//!   which the user can change.
//!
//! Google documents a second, legacy `iss` spelling, `accounts.google.com`, which its code flow
//! does not use. It is refused: the ID-token verifier (openidconnect) reads `iss` as an
//! absolute URL before any check, so accepting the scheme-less form would need a second,
//! hand-written verification path.
//!
//! Every other key is the `oidc` type's (`client_id`, `client_secret`...). `issuer` is there to
//! point the type at a Google-compatible test provider.

use std::sync::Arc;

use idp_provider_api::{
    ConfigProblem, OpenContext, OpenError, Provider, ProviderError, ProviderInfo,
};
use idp_provider_oidc::table::Table;
use idp_provider_oidc::verify::Claims;
use idp_provider_oidc::{ClaimsHook, Extension, OidcProvider, open_extended};
use serde::Deserialize;
use serde_json::Value;

/// The provider `type` this crate registers.
pub const KIND: &str = "google";

/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The keys of the `google` type besides the `oidc` ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoogleKeys {
    /// Workspace domains whose accounts may log in (the token's `hd`); empty: any account.
    #[serde(default)]
    hosted_domains: Vec<String>,
}

/// The hosted-domain rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostedDomains(pub Vec<String>);

impl HostedDomains {
    /// Checks the token's `hd` claim.
    ///
    /// # Errors
    /// `access_denied` naming `hosted_domains` when the list is set and `hd` is absent or not
    /// in it.
    pub fn check_hd(&self, hd: Option<&Value>) -> Result<(), ProviderError> {
        if self.0.is_empty() {
            return Ok(());
        }
        match hd.and_then(Value::as_str) {
            Some(hd) if self.0.iter().any(|d| d.eq_ignore_ascii_case(hd)) => Ok(()),
            Some(_) => Err(ProviderError::access_denied(
                "hosted_domains",
                "the token's hd is not in hosted_domains",
            )),
            None => Err(ProviderError::access_denied(
                "hosted_domains",
                "the token has no hd claim (not a Google Workspace account)",
            )),
        }
    }
}

impl ClaimsHook for HostedDomains {
    fn check(&self, claims: &Claims) -> Result<(), ProviderError> {
        self.check_hd(claims.additional_claims().0.get("hd"))
    }
}

/// Opens a `google` provider: checks the table offline, like the `oidc` type.
///
/// # Errors
/// Every configuration problem, each naming its `providers.<id>.<key>`.
pub fn open(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    Ok(open_google(info, config, context)?)
}

/// The keys of a `google` table that hold secrets (the `oidc` ones), and so may be given as
/// `<key>_file`.
pub const SECRET_KEYS: &[&str] = idp_provider_oidc::SECRET_KEYS;

/// The keys of a `google` table, for check-config's key lists: `hosted_domains`, then the
/// `oidc` keys (`issuer` defaults to Google's and may be overridden, for tests).
pub fn keys() -> Vec<&'static str> {
    idp_provider_oidc::table::keys_with::<GoogleKeys>(&[])
}

/// As [`open`], returning the concrete type.
///
/// # Errors
/// As [`open`].
pub fn open_google(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<OidcProvider>, OpenError> {
    let mut table = Table::new(&info.id, config)?;
    let keys: GoogleKeys = table.take()?;
    if keys
        .hosted_domains
        .iter()
        .any(|d| d.is_empty() || !d.contains('.') || d.contains(['@', '/', ' ']))
    {
        return Err(OpenError {
            problems: vec![ConfigProblem::new(
                table.key("hosted_domains"),
                "entries must be domain names such as example.com",
            )],
        });
    }
    table.set_default("issuer", Value::String(GOOGLE_ISSUER.into()));
    let extension = Extension {
        claims: Some(Arc::new(HostedDomains(keys.hosted_domains))),
        ..Extension::default()
    };
    open_extended(info, table.into_value(), context, extension)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_listed_hosted_domains_pass_when_set() {
        let any = HostedDomains::default();
        assert!(any.check_hd(None).is_ok());
        let only = HostedDomains(vec!["example.com".into()]);
        assert!(only.check_hd(Some(&json!("example.com"))).is_ok());
        assert!(only.check_hd(Some(&json!("Example.COM"))).is_ok());
        for hd in [Some(json!("other.com")), Some(json!(true)), None] {
            match only.check_hd(hd.as_ref()) {
                Err(ProviderError::Rejected(r)) => {
                    assert_eq!(
                        (r.reason, r.rule),
                        ("access_denied", Some("hosted_domains"))
                    );
                }
                other => panic!("{hd:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn hosted_domains_are_checked_in_the_config() {
        let tls = idp_provider_api::OutboundTls::new(None).expect("tls");
        let open = |table: Value| {
            open_google(
                ProviderInfo {
                    id: "g".into(),
                    kind: KIND,
                    display_name: "Google".into(),
                },
                table,
                &OpenContext::new(tls.clone()),
            )
        };
        let base =
            json!({"client_id": "c", "client_secret": "s", "hosted_domains": ["example.com"]});
        assert!(open(base.clone()).is_ok());
        let mut bad = base;
        bad["hosted_domains"] = json!(["@example.com"]);
        let err = open(bad).err().expect("refused");
        assert_eq!(err.problems[0].key, "providers.g.hosted_domains");
    }
}
