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
//!   subject the `oid` claim. A token without `tid` or `oid` is refused.
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
}

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
mod tests {
    use super::*;
    use serde_json::json;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn open_table(table: Value) -> Vec<String> {
        let tls = idp_provider_api::OutboundTls::new(None).expect("tls");
        match open_entra(
            ProviderInfo {
                id: "ms".into(),
                kind: KIND,
                display_name: "Entra".into(),
            },
            table,
            &OpenContext::new(tls),
        ) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn tenants_and_their_allow_lists_are_checked() {
        let base = |tenant: &str, allowed: Value| json!({"tenant": tenant, "allowed_tenants": allowed, "client_id": "c", "client_secret": "s"});
        assert!(open_table(base("organizations", json!([TID]))).is_empty());
        assert!(open_table(base("common", json!(["*"]))).is_empty());
        assert!(open_table(base(TID, json!([]))).is_empty());
        assert!(open_table(base("consumers", json!([]))).is_empty());
        let refused = [
            (base("organizations", json!([])), "allowed_tenants"),
            (
                base("organizations", json!(["acme.onmicrosoft.com"])),
                "allowed_tenants",
            ),
            (base(TID, json!([TID])), "allowed_tenants"),
            (base("contoso", json!([])), "tenant"),
        ];
        for (table, key) in refused {
            let p = open_table(table.clone());
            assert!(
                p.iter()
                    .any(|m| m.starts_with(&format!("providers.ms.{key}: "))),
                "{table}: {p:?}"
            );
        }
        let mut t = base(TID, json!([]));
        t["issuer"] = "https://login.microsoftonline.com/x/v2.0".into();
        assert!(open_table(t)[0].starts_with("providers.ms.issuer: "));
        let mut t = base(TID, json!([]));
        t["authority"] = "http://login.example.com".into();
        assert!(open_table(t)[0].starts_with("providers.ms.authority: "));
    }

    #[test]
    fn back_channel_logout_is_refused_since_entra_sends_none() {
        let table = |on: bool| json!({"tenant": TID, "client_id": "c", "client_secret": "s", "backchannel_logout": on});
        assert!(open_table(table(false)).is_empty());
        let problems = open_table(table(true));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("providers.ms.backchannel_logout: ")
                && problems[0].contains("front-channel logout only"),
            "{problems:?}"
        );
    }

    #[test]
    fn users_are_keyed_on_the_tenant_issuer_and_oid() {
        let rules = EntraRules {
            tenants: Tenants::Only(vec![TID.into()]),
            template: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
        };
        let (issuer, subject) = rules
            .key(
                Some(&json!(TID)),
                Some(&json!("00000000-0000-0000-0000-00000000000a")),
            )
            .expect("key");
        assert_eq!(
            issuer,
            format!("https://login.microsoftonline.com/{TID}/v2.0")
        );
        assert_eq!(subject, "00000000-0000-0000-0000-00000000000a");
        assert!(rules.key(Some(&json!(TID)), None).is_err());
        assert!(rules.key(None, Some(&json!("x"))).is_err());
        assert!(rules.check_tid(Some(&json!(TID))).is_ok());
        match rules.check_tid(Some(&json!(CONSUMER_TENANT))) {
            Err(ProviderError::Rejected(r)) => assert_eq!(r.rule, Some("allowed_tenants")),
            other => panic!("{other:?}"),
        }
        assert!(
            is_guid(TID)
                && !is_guid("organizations")
                && !is_guid("72f988bf86f141af91ab2d7cd011db47")
        );
    }
}
