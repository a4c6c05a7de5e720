//! The `entra` provider type of idp-bridge (Microsoft Entra ID, v2.0 endpoints): the OIDC
//! provider (code flow, PKCE, nonce, JWKS cache, every ID-token check) with Entra's quirks,
//! through the OIDC crate's [`Extension`]:
//! - `tenant = "<tenant id>"`: the issuer is `{authority}/{tenant}/v2.0`, compared exactly;
//! - `tenant = "organizations" | "common"`: discovery is read from
//!   `{authority}/{tenant}/v2.0/.well-known/openid-configuration`, whose `issuer` is the literal
//!   template `{authority}/{tenantid}/v2.0`; a token's `iss` must equal that template with
//!   `{tenantid}` replaced by the token's own `tid`, and `tid` must be in `allowed_tenants`
//!   (required: `["*"]` admits every tenant, on purpose only);
//! - `tenant = "consumers"`: personal Microsoft accounts, whose tenant is
//!   [`CONSUMER_TENANT`];
//! - users are keyed on the tenant and the object id, never on `sub` (pairwise per application)
//!   or `email` (mutable, unverified): the identity's issuer is the tenant's issuer and its
//!   subject the `oid` claim. A token without `tid` or `oid` is refused;
//! - the email is verified only when the token's `xms_edov` is the JSON boolean `true` (the
//!   user's tenant owns the address's domain); `email_verified` is ignored. Even then the address
//!   is only what an administrator of that tenant set, so `trusted_for_email` and
//!   `link_by_email` cannot be true on this type (check-config says why).
//!
//! Every other key is the `oidc` type's, except `issuer`, which `tenant` replaces, and
//! `backchannel_logout`, which is refused: Entra sends no back-channel logout tokens. `authority`
//! (default `https://login.microsoftonline.com`) names a national cloud, or a local test
//! provider (http only on loopback hosts).

use std::sync::Arc;

use idp_provider_api::url_rule::secure_url;
use idp_provider_api::{
    ConfigProblem, OpenContext, OpenError, Provider, ProviderError, ProviderInfo,
};
use idp_provider_oidc::discovery::discovery_url;
use idp_provider_oidc::extension::{TENANT_PLACEHOLDER, is_tenant_id, tenant_id};
use idp_provider_oidc::table::{Table, rename_key};
use idp_provider_oidc::verify::Claims;
use idp_provider_oidc::{
    ClaimsHook, DiscoveryTarget, Extension, Issuers, OidcProvider, open_extended,
};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// The provider `type` this crate registers.
pub const KIND: &str = "entra";

/// The tenant of personal Microsoft accounts.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Microsoft's global authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Longest `oid` accepted (a GUID is 36 characters).
const MAX_OID: usize = 64;

/// The keys of the `entra` type besides the `oidc` ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntraKeys {
    /// `organizations`, `common`, `consumers` or a tenant id (a GUID).
    tenant: String,
    /// Tenant ids whose users may log in (multi-tenant only); `["*"]`: any.
    #[serde(default)]
    allowed_tenants: Vec<String>,
    /// The cloud's login host.
    #[serde(default = "default_authority")]
    authority: String,
    /// Policy keys this type refuses to set to `true` ([`EMAIL_TRUST_REFUSED`]); the gateway's
    /// policy reads them too.
    #[serde(default)]
    trusted_for_email: Value,
    /// As `trusted_for_email`.
    #[serde(default)]
    link_by_email: Value,
}

/// Why `trusted_for_email` and `link_by_email` cannot be true on an `entra` provider.
pub const EMAIL_TRUST_REFUSED: &str = "cannot be true on an entra provider: Microsoft does not \
     verify the email claim, which is whatever an administrator of the user's tenant set \
     (xms_edov only says that the tenant owns the address's domain), so it may neither mark an \
     Appwrite email verified nor attach a login to an existing Appwrite account; Entra users \
     are keyed on tid and oid instead";

fn default_authority() -> String {
    DEFAULT_AUTHORITY.into()
}

/// Which tenants' users may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    /// Any tenant (`allowed_tenants = ["*"]`).
    Any,
    /// Only these tenant ids (lowercase).
    Only(Vec<String>),
}

/// Entra's checks of a verified token and its identity key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraRules {
    /// The tenants admitted.
    pub tenants: Tenants,
    /// The template of the tenants' issuers (`{authority}/{tenantid}/v2.0`).
    pub template: String,
}

impl EntraRules {
    /// Checks `tid` against the admitted tenants.
    ///
    /// # Errors
    /// `id_token_tenant_invalid` for a missing or malformed `tid`; `access_denied` naming
    /// `allowed_tenants` for a tenant not admitted.
    pub fn check_tid(&self, tid: Option<&Value>) -> Result<(), ProviderError> {
        let tid = tenant_id(tid)?;
        match &self.tenants {
            Tenants::Any => Ok(()),
            Tenants::Only(list) if list.iter().any(|t| t == tid) => Ok(()),
            Tenants::Only(_) => Err(ProviderError::access_denied(
                "allowed_tenants",
                "the token's tenant (tid) is not in allowed_tenants",
            )),
        }
    }

    /// The identity key: the tenant's issuer and the `oid` claim.
    ///
    /// # Errors
    /// `id_token_tenant_invalid` or `id_token_oid_missing` when `tid` or `oid` is missing or
    /// malformed.
    pub fn key(
        &self,
        tid: Option<&Value>,
        oid: Option<&Value>,
    ) -> Result<(String, String), ProviderError> {
        let tid = tenant_id(tid)?;
        let oid = oid
            .and_then(Value::as_str)
            .filter(|o| {
                !o.is_empty()
                    && o.len() <= MAX_OID
                    && o.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            .ok_or_else(|| {
                ProviderError::rejected(
                    "id_token_oid_missing",
                    "the token has no well-formed oid claim: Entra users are keyed on tid + oid",
                )
            })?;
        Ok((
            self.template.replace(TENANT_PLACEHOLDER, tid),
            oid.to_string(),
        ))
    }
}

impl ClaimsHook for EntraRules {
    fn check(&self, claims: &Claims) -> Result<(), ProviderError> {
        self.check_tid(claims.additional_claims().0.get("tid"))
    }

    fn identity_key(&self, claims: &Claims) -> Result<(String, String), ProviderError> {
        let other = &claims.additional_claims().0;
        self.key(other.get("tid"), other.get("oid"))
    }

    /// The admitted tenants' issuers; the template itself when every tenant is admitted.
    fn identity_issuers(&self, _configured: &str) -> Vec<String> {
        match &self.tenants {
            Tenants::Any => vec![self.template.clone()],
            Tenants::Only(list) => list
                .iter()
                .map(|tid| self.template.replace(TENANT_PLACEHOLDER, tid))
                .collect(),
        }
    }

    /// Only `xms_edov: true`: the user's tenant owns the email's domain. Entra sends no
    /// `email_verified` of its own, so one in the token proves nothing.
    fn email_verified(&self, claims: &Claims, _asserted: bool) -> bool {
        edov_is_true(claims.additional_claims().0.get("xms_edov"))
    }

    /// Refused: identities are keyed on `tid` + `oid`, which a logout token does not carry
    /// (its `sub` is not the key). The table check refuses `backchannel_logout` already; this
    /// keeps a logout token from ever naming an Entra identity should that check be bypassed.
    fn logout_issuer(&self, _iss: &str) -> Result<String, ProviderError> {
        Err(ProviderError::Misconfigured(
            "Entra ID identities are keyed on tid + oid, which a logout token does not carry"
                .into(),
        ))
    }
}

/// Whether the `xms_edov` claim is the JSON boolean `true` (a string or a number is not).
fn edov_is_true(claim: Option<&Value>) -> bool {
    claim == Some(&Value::Bool(true))
}

/// Opens an `entra` provider: checks the table offline, like the `oidc` type.
///
/// # Errors
/// Every configuration problem, each naming its `providers.<id>.<key>`.
pub fn open(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    Ok(open_entra(info, config, context)?)
}

/// The keys of an `entra` table that hold secrets (the `oidc` ones), and so may be given as
/// `<key>_file`.
pub const SECRET_KEYS: &[&str] = idp_provider_oidc::SECRET_KEYS;

/// The keys of an `entra` table, for check-config's key lists: its own, then the `oidc` keys
/// (`issuer` excepted: it follows from `tenant` and `authority`).
pub fn keys() -> Vec<&'static str> {
    idp_provider_oidc::table::keys_with::<EntraKeys>(&["issuer"])
}

/// As [`open`], returning the concrete type.
///
/// # Errors
/// As [`open`].
pub fn open_entra(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<OidcProvider>, OpenError> {
    let id = info.id.clone();
    let mut table = Table::new(&id, config)?;
    let keys: EntraKeys = table.take()?;
    let mut problems: Vec<ConfigProblem> = table
        .derived("issuer", "the issuer follows from tenant (and authority)")
        .into_iter()
        .collect();
    for (key, value) in [
        ("trusted_for_email", &keys.trusted_for_email),
        ("link_by_email", &keys.link_by_email),
    ] {
        if *value == Value::Bool(true) {
            problems.push(ConfigProblem::new(table.key(key), EMAIL_TRUST_REFUSED));
        }
    }
    if table.flag("backchannel_logout") {
        problems.push(ConfigProblem::new(
            table.key("backchannel_logout"),
            "Microsoft Entra ID sends no OpenID Connect back-channel logout tokens (it offers \
             front-channel logout only), and its users are keyed on tid + oid, which a logout \
             token would not carry; leave it off",
        ));
    }
    let authority = match secure_url(&keys.authority, table.flag("allow_insecure_http")) {
        Ok(url) if url.path() == "/" => Some(keys.authority.trim_end_matches('/').to_string()),
        Ok(_) => {
            problems.push(ConfigProblem::new(
                table.key("authority"),
                "must be an origin without path, such as https://login.microsoftonline.com",
            ));
            None
        }
        Err(e) => {
            problems.push(ConfigProblem::new(
                table.key("authority"),
                format!("{:?} {e}", keys.authority),
            ));
            None
        }
    };
    let tenant = keys.tenant.to_ascii_lowercase();
    let multi = matches!(tenant.as_str(), "organizations" | "common");
    if !multi && tenant != "consumers" && !is_guid(&tenant) {
        problems.push(ConfigProblem::new(
            table.key("tenant"),
            "must be \"organizations\", \"common\", \"consumers\" or a tenant id (a GUID)",
        ));
    }
    let any = keys.allowed_tenants == ["*"];
    let listed: Vec<String> = keys
        .allowed_tenants
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if !any && !listed.iter().all(|t| is_guid(t)) {
        problems.push(ConfigProblem::new(
            table.key("allowed_tenants"),
            "entries must be tenant ids (GUIDs), or the single entry \"*\" for any tenant",
        ));
    }
    if multi && listed.is_empty() {
        problems.push(ConfigProblem::new(
            table.key("allowed_tenants"),
            format!("is required with tenant = {tenant:?}: list the tenant ids to admit, or [\"*\"] to admit every Entra tenant"),
        ));
    }
    if !multi && !listed.is_empty() {
        problems.push(ConfigProblem::new(
            table.key("allowed_tenants"),
            "applies only to tenant = \"organizations\" or \"common\"",
        ));
    }
    let (Some(authority), true) = (authority, problems.is_empty()) else {
        return Err(OpenError { problems });
    };
    let template = format!("{authority}/{TENANT_PLACEHOLDER}/v2.0");
    // Discovery lives under the configured tenant segment (`organizations`, a GUID...).
    let url = Url::parse(&format!("{authority}/{tenant}/v2.0"))
        .map(|u| discovery_url(&u))
        .map_err(|e| OpenError {
            problems: vec![ConfigProblem::new(table.key("tenant"), e.to_string())],
        })?;
    let (issuer, issuers, discovery, tenants) = if multi {
        let target = DiscoveryTarget {
            url,
            issuers: vec![template.clone()],
        };
        let tenants = if any {
            Tenants::Any
        } else {
            Tenants::Only(listed)
        };
        (
            template.clone(),
            Issuers::TenantTemplate(template.clone()),
            Some(target),
            tenants,
        )
    } else {
        let tid = if tenant == "consumers" {
            CONSUMER_TENANT
        } else {
            tenant.as_str()
        };
        let issuer = template.replace(TENANT_PLACEHOLDER, tid);
        let target = DiscoveryTarget {
            url,
            issuers: vec![issuer.clone()],
        };
        (
            issuer.clone(),
            Issuers::Exact(vec![issuer]),
            Some(target),
            Tenants::Only(vec![tid.to_string()]),
        )
    };
    table.set("issuer", Value::String(issuer));
    let extension = Extension {
        issuers: Some(issuers),
        discovery,
        authorization_params: Vec::new(),
        claims: Some(Arc::new(EntraRules { tenants, template })),
    };
    open_extended(info, table.into_value(), context, extension)
        .map_err(|e| rename_key(e, &id, "issuer", "authority"))
}

/// A GUID: 8-4-4-4-12 hexadecimal digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    is_tenant_id(s)
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
