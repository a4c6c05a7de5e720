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

/// The keys of an `auth0` table that hold secrets (the `oidc` ones), and so may be given as
/// `<key>_file`.
pub const SECRET_KEYS: &[&str] = idp_provider_oidc::SECRET_KEYS;

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
mod tests;
