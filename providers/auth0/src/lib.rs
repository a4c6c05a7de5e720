//! The `auth0` provider type of idp-bridge: the OIDC provider (code flow, PKCE, nonce,
//! discovery, JWKS cache, every ID-token check) with Auth0's rules on top, through the OIDC
//! crate's [`Extension`]:
//! - the issuer is `https://{domain}/`, trailing slash included, compared exactly; each of
//!   `custom_domains` adds `https://{custom}/` as an accepted `iss`. A tenant's custom domains
//!   share its signing keys, so discovery and the JWKS always come from `domain`;
//! - `organization` is sent to `/authorize`, and the token's `org_id` must equal it;
//! - `allowed_organizations`: `org_id` must be one of them (a token without `org_id` is
//!   refused when either organization key is set);
//! - `allowed_connections`: the `sub` prefix before `|` (`auth0`, `google-oauth2`, `samlp`...)
//!   must be one of them;
//! - `require_mfa`: `amr` must contain `mfa`.
//!
//! Every other key is the `oidc` type's (`client_id`, `client_secret`, `allowed_algs`...),
//! except `issuer`, which `domain` replaces. `token_endpoint_auth_method` defaults to
//! `client_secret_post`, Auth0's default for regular web applications. HS256 works only as in
//! `oidc`: listed in `allowed_algs` and keyed with a `client_secret` of at least 32 bytes.
//! Namespaced claims (`https://example.com/roles`) stay in `Identity::claims()` for the policy.
//!
//! For a local test tenant, `allow_insecure_http = true` makes the issuer `http://{domain}/`,
//! and only for a loopback `domain` (`127.0.0.1:PORT`, `localhost:PORT`).

use std::sync::Arc;

use idp_provider_api::url_rule::is_loopback;
use idp_provider_api::{
    ConfigProblem, OpenContext, OpenError, Provider, ProviderError, ProviderInfo,
};
use idp_provider_oidc::table::{Table, rename_key};
use idp_provider_oidc::verify::Claims;
use idp_provider_oidc::{ClaimsHook, Extension, Issuers, OidcProvider, open_extended};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// The provider `type` this crate registers.
pub const KIND: &str = "auth0";

/// Longest organization id or name accepted in the configuration.
const MAX_ORGANIZATION: usize = 128;

/// The keys of the `auth0` type besides the `oidc` ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth0Keys {
    /// The tenant's domain: `tenant.eu.auth0.com`, or the custom domain logins go through.
    domain: String,
    /// Further domains whose `https://{domain}/` may appear as `iss`.
    #[serde(default)]
    custom_domains: Vec<String>,
    /// Sent as `organization` to `/authorize`; `org_id` must equal it.
    organization: Option<String>,
    /// `org_id` must be one of these.
    #[serde(default)]
    allowed_organizations: Vec<String>,
    /// The `sub` prefix before `|` must be one of these.
    #[serde(default)]
    allowed_connections: Vec<String>,
    /// `amr` must contain `mfa`.
    #[serde(default)]
    require_mfa: bool,
}

/// The keys of an `auth0` table, for check-config's key lists: its own, then the `oidc` keys
/// (`issuer` excepted: it follows from `domain`).
pub fn keys() -> Vec<&'static str> {
    idp_provider_oidc::table::keys_with::<Auth0Keys>(&["issuer"])
}

/// Auth0's checks of a verified token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth0Rules {
    /// `org_id` must equal it.
    pub organization: Option<String>,
    /// `org_id` must be one of them (when not empty).
    pub allowed_organizations: Vec<String>,
    /// The `sub` prefix must be one of them (when not empty).
    pub allowed_connections: Vec<String>,
    /// `amr` must contain `mfa`.
    pub require_mfa: bool,
    /// The tenant's issuer (`https://{domain}/`): users are keyed on it whatever domain a
    /// token came through, so a custom domain never splits one person into two users.
    pub canonical_issuer: String,
}

impl Auth0Rules {
    /// Checks the claims a verified token carries: its `org_id`, `sub` and `amr`.
    ///
    /// # Errors
    /// `access_denied` naming the rule that refused.
    pub fn check_values(
        &self,
        org_id: Option<&Value>,
        sub: &str,
        amr: Option<&[String]>,
    ) -> Result<(), ProviderError> {
        let org_id = org_id.and_then(Value::as_str);
        if let Some(organization) = &self.organization {
            match org_id {
                Some(org) if org == organization => {}
                Some(_) => {
                    return Err(ProviderError::access_denied(
                        "organization",
                        "the token's org_id is not the configured organization",
                    ));
                }
                None => {
                    return Err(ProviderError::access_denied(
                        "organization",
                        "the token has no org_id (a string)",
                    ));
                }
            }
        }
        if !self.allowed_organizations.is_empty() {
            match org_id {
                Some(org) if self.allowed_organizations.iter().any(|a| a == org) => {}
                Some(_) => {
                    return Err(ProviderError::access_denied(
                        "allowed_organizations",
                        "the token's org_id is not in allowed_organizations",
                    ));
                }
                None => {
                    return Err(ProviderError::access_denied(
                        "allowed_organizations",
                        "the token has no org_id (a string)",
                    ));
                }
            }
        }
        if !self.allowed_connections.is_empty() {
            let Some((connection, _)) = sub.split_once('|') else {
                return Err(ProviderError::access_denied(
                    "allowed_connections",
                    "the token's sub has no `connection|` prefix",
                ));
            };
            if !self.allowed_connections.iter().any(|c| c == connection) {
                return Err(ProviderError::access_denied(
                    "allowed_connections",
                    format!("the connection {connection:?} is not in allowed_connections"),
                ));
            }
        }
        if self.require_mfa && !amr.is_some_and(|amr| amr.iter().any(|m| m == "mfa")) {
            return Err(ProviderError::access_denied(
                "require_mfa",
                "the token's amr does not contain \"mfa\"",
            ));
        }
        Ok(())
    }
}

impl ClaimsHook for Auth0Rules {
    fn check(&self, claims: &Claims) -> Result<(), ProviderError> {
        let amr: Option<Vec<String>> = claims
            .auth_method_refs()
            .map(|amr| amr.iter().map(|m| m.as_str().to_string()).collect());
        self.check_values(
            claims.additional_claims().0.get("org_id"),
            claims.subject().as_str(),
            amr.as_deref(),
        )
    }

    fn identity_key(&self, claims: &Claims) -> Result<(String, String), ProviderError> {
        Ok((
            self.canonical_issuer.clone(),
            claims.subject().as_str().to_string(),
        ))
    }

    /// A logout token's identity is keyed like a login's: on the tenant's issuer, whichever
    /// accepted domain the token names.
    fn logout_issuer(&self, _iss: &str) -> Result<String, ProviderError> {
        Ok(self.canonical_issuer.clone())
    }
}

/// Opens an `auth0` provider: checks the table offline, like the `oidc` type.
///
/// # Errors
/// Every configuration problem, each naming its `providers.<id>.<key>`.
pub fn open(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    Ok(open_auth0(info, config, context)?)
}

/// As [`open`], returning the concrete type.
///
/// # Errors
/// As [`open`].
pub fn open_auth0(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<OidcProvider>, OpenError> {
    let id = info.id.clone();
    let mut table = Table::new(&id, config)?;
    let keys: Auth0Keys = table.take()?;
    let insecure = table.flag("allow_insecure_http");
    let mut problems: Vec<ConfigProblem> = table
        .derived("issuer", "the issuer is https://{domain}/")
        .into_iter()
        .collect();
    let issuer = domain_issuer(&keys.domain, insecure)
        .map_err(|reason| problems.push(ConfigProblem::new(table.key("domain"), reason)))
        .ok();
    let mut issuers: Vec<String> = issuer.iter().map(Url::to_string).collect();
    for custom in &keys.custom_domains {
        match domain_issuer(custom, insecure) {
            Ok(url) if issuers.contains(&url.to_string()) => problems.push(ConfigProblem::new(
                table.key("custom_domains"),
                format!("{custom:?} is listed twice or is the domain itself"),
            )),
            Ok(url) => issuers.push(url.to_string()),
            Err(reason) => problems.push(ConfigProblem::new(table.key("custom_domains"), reason)),
        }
    }
    let named = |s: &String| {
        !s.trim().is_empty() && s.len() <= MAX_ORGANIZATION && !s.chars().any(char::is_control)
    };
    if keys.organization.as_ref().is_some_and(|o| !named(o)) {
        problems.push(ConfigProblem::new(
            table.key("organization"),
            format!("must be 1..={MAX_ORGANIZATION} characters without control characters (an organization id, org_...)"),
        ));
    }
    if !keys.allowed_organizations.iter().all(named) {
        problems.push(ConfigProblem::new(
            table.key("allowed_organizations"),
            "entries must be non-empty organization ids (org_...)",
        ));
    }
    if let Some(organization) = &keys.organization
        && !keys.allowed_organizations.is_empty()
        && !keys.allowed_organizations.contains(organization)
    {
        problems.push(ConfigProblem::new(
            table.key("allowed_organizations"),
            "does not contain `organization`: no login could pass both",
        ));
    }
    if keys
        .allowed_connections
        .iter()
        .any(|c| c.is_empty() || c.contains('|') || c.chars().any(char::is_whitespace))
    {
        problems.push(ConfigProblem::new(
            table.key("allowed_connections"),
            "entries must be the prefix of `sub` before `|` (auth0, google-oauth2, samlp...)",
        ));
    }
    let (Some(issuer), true) = (issuer, problems.is_empty()) else {
        return Err(OpenError { problems });
    };
    table.set("issuer", Value::String(issuer.to_string()));
    table.set_default(
        "token_endpoint_auth_method",
        Value::String("client_secret_post".into()),
    );
    let extension = Extension {
        issuers: Some(Issuers::Exact(issuers)),
        discovery: None,
        authorization_params: keys
            .organization
            .iter()
            .map(|o| ("organization".to_string(), o.clone()))
            .collect(),
        claims: Some(Arc::new(Auth0Rules {
            organization: keys.organization,
            allowed_organizations: keys.allowed_organizations,
            allowed_connections: keys.allowed_connections,
            require_mfa: keys.require_mfa,
            canonical_issuer: issuer.to_string(),
        })),
    };
    open_extended(info, table.into_value(), context, extension)
        .map_err(|e| rename_key(e, &id, "issuer", "domain"))
}

/// `https://{domain}/` for a bare host name (with an optional port); `http://` for a loopback
/// domain when `insecure` (a local test tenant).
fn domain_issuer(domain: &str, insecure: bool) -> Result<Url, String> {
    let shape =
        "must be a host name such as tenant.eu.auth0.com, without scheme, path or trailing slash";
    if domain.is_empty()
        || domain.contains(['/', '?', '#', '@', '\\'])
        || domain.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("{domain:?} {shape}"));
    }
    let scheme = if insecure { "http" } else { "https" };
    let url = Url::parse(&format!("{scheme}://{domain}/"))
        .map_err(|e| format!("{domain:?} {shape} ({e})"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{domain:?} {shape}"));
    }
    if insecure && !is_loopback(&url) {
        return Err(format!(
            "{domain:?} is not a loopback host: allow_insecure_http (an http issuer) is only for a local test tenant"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn open_table(table: Value) -> Result<Arc<OidcProvider>, OpenError> {
        let tls = idp_provider_api::OutboundTls::new(None).expect("tls");
        open_auth0(
            ProviderInfo {
                id: "a0".into(),
                kind: KIND,
                display_name: "Auth0".into(),
            },
            table,
            &OpenContext::new(tls),
        )
    }

    fn base() -> Value {
        json!({"domain": "tenant.eu.auth0.com", "client_id": "c", "client_secret": "s"})
    }

    fn problems(table: Value) -> Vec<String> {
        match open_table(table) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_issuer_is_the_domain_with_a_trailing_slash() {
        assert_eq!(
            domain_issuer("tenant.eu.auth0.com", false)
                .expect("ok")
                .as_str(),
            "https://tenant.eu.auth0.com/"
        );
        assert_eq!(
            domain_issuer("127.0.0.1:9000", true).expect("ok").as_str(),
            "http://127.0.0.1:9000/"
        );
        for bad in [
            "https://t.auth0.com",
            "t.auth0.com/",
            "",
            "t auth0.com",
            "user@t.auth0.com",
        ] {
            assert!(domain_issuer(bad, false).is_err(), "{bad}");
        }
        assert!(
            domain_issuer("tenant.auth0.com", true).is_err(),
            "http only on loopback"
        );
        assert!(problems(base()).is_empty());
    }

    #[test]
    fn config_errors_name_the_auth0_keys() {
        let mut v = base();
        v["domain"] = "https://t.auth0.com/".into();
        v["issuer"] = "https://t.auth0.com/".into();
        v["custom_domains"] = json!(["login.example.com", "bad/path"]);
        v["allowed_connections"] = json!(["auth0|x"]);
        v["organization"] = "org_1".into();
        v["allowed_organizations"] = json!(["org_2"]);
        let p = problems(v);
        for key in [
            "domain",
            "issuer",
            "custom_domains",
            "allowed_connections",
            "allowed_organizations",
        ] {
            assert!(
                p.iter()
                    .any(|m| m.starts_with(&format!("providers.a0.{key}: "))),
                "{key}: {p:?}"
            );
        }
        let mut v = base();
        v["require_mfa"] = "yes".into();
        assert!(problems(v)[0].starts_with("providers.a0.require_mfa: "));
        let mut v = base();
        v["domian"] = "x".into();
        let p = problems(v);
        assert!(p[0].contains("unknown field `domian`"), "{p:?}");
        // HS256 needs a long client secret, as in `oidc`.
        let mut v = base();
        v["allowed_algs"] = json!(["RS256", "HS256"]);
        assert!(problems(v)[0].starts_with("providers.a0.client_secret: "));
    }

    #[test]
    fn users_are_keyed_on_the_tenant_issuer_whatever_domain_the_token_came_through() {
        let claims: Claims = serde_json::from_value(json!({
            "iss": "https://login.acme.com/", "sub": "auth0|42", "aud": "client",
            "exp": 4_000_000_000_u64, "iat": 1_700_000_000_u64,
        }))
        .expect("claims");
        let tenant = Auth0Rules {
            canonical_issuer: "https://acme.eu.auth0.com/".into(),
            ..Auth0Rules::default()
        };
        assert_eq!(
            tenant.identity_key(&claims).expect("key"),
            (
                "https://acme.eu.auth0.com/".to_string(),
                "auth0|42".to_string()
            )
        );
        // A logout token through the custom domain names the same identity.
        assert_eq!(
            tenant
                .logout_issuer("https://login.acme.com/")
                .expect("issuer"),
            "https://acme.eu.auth0.com/"
        );
    }

    fn rules() -> Auth0Rules {
        Auth0Rules {
            organization: Some("org_1".into()),
            allowed_organizations: vec![],
            allowed_connections: vec!["auth0".into(), "google-oauth2".into()],
            require_mfa: true,
            canonical_issuer: "https://t.eu.auth0.com/".into(),
        }
    }

    fn rule_of(result: Result<(), ProviderError>) -> Option<&'static str> {
        match result {
            Ok(()) => None,
            Err(ProviderError::Rejected(r)) => {
                assert_eq!((r.reason, r.status), ("access_denied", 403));
                r.rule
            }
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_rule_refuses_by_its_name() {
        let mfa = ["pwd".to_string(), "mfa".to_string()];
        let org = json!("org_1");
        let r = rules();
        assert_eq!(
            rule_of(r.check_values(Some(&org), "auth0|a", Some(&mfa))),
            None
        );
        assert_eq!(
            rule_of(r.check_values(Some(&org), "google-oauth2|1", Some(&mfa))),
            None
        );
        assert_eq!(
            rule_of(r.check_values(Some(&json!("org_2")), "auth0|a", Some(&mfa))),
            Some("organization")
        );
        assert_eq!(
            rule_of(r.check_values(None, "auth0|a", Some(&mfa))),
            Some("organization")
        );
        assert_eq!(
            rule_of(r.check_values(Some(&json!(1)), "auth0|a", Some(&mfa))),
            Some("organization")
        );
        assert_eq!(
            rule_of(r.check_values(Some(&org), "samlp|corp|a", Some(&mfa))),
            Some("allowed_connections")
        );
        assert_eq!(
            rule_of(r.check_values(Some(&org), "no-prefix", Some(&mfa))),
            Some("allowed_connections")
        );
        assert_eq!(
            rule_of(r.check_values(Some(&org), "auth0|a", Some(&["pwd".to_string()]))),
            Some("require_mfa")
        );
        assert_eq!(
            rule_of(r.check_values(Some(&org), "auth0|a", None)),
            Some("require_mfa")
        );

        let allow = Auth0Rules {
            allowed_organizations: vec!["org_1".into(), "org_3".into()],
            ..Auth0Rules::default()
        };
        assert_eq!(
            rule_of(allow.check_values(Some(&json!("org_3")), "x", None)),
            None
        );
        assert_eq!(
            rule_of(allow.check_values(Some(&json!("org_2")), "x", None)),
            Some("allowed_organizations")
        );
        assert_eq!(
            rule_of(allow.check_values(None, "x", None)),
            Some("allowed_organizations")
        );
        assert_eq!(
            rule_of(Auth0Rules::default().check_values(None, "x", None)),
            None
        );
    }
}
