//! The generic OpenID Connect provider of idp-bridge.
//!
//! Authorization code flow with PKCE S256, `state` and `nonce` always; discovery with the exact
//! issuer check; a JWKS cache that follows key rotation; complete ID-token validation
//! ([`verify`]). The provider keeps no per-login state of its own: its nonce and PKCE verifier
//! travel opaque in the gateway's login transaction.
//!
//! Layout:
//! - [`config`]: the `[providers.<id>]` keys and their validation.
//! - [`discovery`]: provider metadata and the issuer check.
//! - [`extension`]: what a provider crate built on this one may change (issuers, discovery,
//!   extra authorization parameters, claim checks, the identity key).
//! - [`jwks`]: the key cache with single-flight, rate-limited refetch.
//! - [`jwk`]: the keys, as openidconnect's, with signatures verified by ring.
//! - [`verify`]: the ID-token checks.
//! - [`kidless`]: the key of a token without `kid`.
//! - [`table`]: splitting a provider table between a crate built on this one and the `oidc` keys.
//! - `redirect_flow`: the authorization code flow: the authorization URL at `start`, the
//!   callback's checks, code exchange and ID-token verification.
//! - `exchange`: the code exchange at the token endpoint.
//! - `id_token_exchange`: native apps' ID tokens at `exchange` (`allow_id_token_exchange`).
//! - `logout`: back-channel logout tokens (`backchannel_logout`).
//! - `login_data`: the nonce and PKCE verifier kept with each login.
//! - `response`: reading the authorization response (`code`, `error`, `iss`).
//! - `http`: the one HTTP client per provider.
//! - `online`: check-config's checks against the provider (discovery, algorithms, keys, client
//!   credentials).

pub mod config;
pub mod discovery;
mod exchange;
pub mod extension;
mod http;
mod id_token_exchange;
pub mod jwk;
/// The JWKS cache, shared with every provider through idp-jose, here reading keys into
/// openidconnect's key set.
pub mod jwks {
    pub use idp_jose::jwks::DEFAULT_MAX_STALE;

    /// The provider's signing-key cache; see [`idp_jose::jwks`].
    pub type JwksCache = idp_jose::JwksCache<crate::jwk::KeySet>;
}
pub mod kidless;
mod login_data;
mod logout;
mod online;
mod redirect_flow;
mod response;
mod shared_checks;
pub mod table;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use idp_provider_api::url_rule::secure_url;
use idp_provider_api::{
    AssertionFlow, BackchannelLogout, ConfigProblem, Identity, OnlineCheck, OpenContext, OpenError,
    OutboundTls, Provider, ProviderError, ProviderInfo, RedirectFlow, Secret,
};
use openidconnect::{ClientId, IssuerUrl};
use serde_json::Value;

pub use config::Config;
use discovery::{BACKOFF_INITIAL, BACKOFF_MAX, Backoff, LoadOnce, Metadata};
use exchange::Exchanger;
pub use extension::{ClaimsHook, DiscoveryTarget, Extension, Issuers, NoHook};
use jwks::JwksCache;
use verify::{Claims, Expectations, VerifyError, verify_id_token};

/// The provider `type` this crate registers.
pub const KIND: &str = "oidc";

/// The keys of an `oidc` table that hold secrets, and so may be given as `<key>_file`.
pub const SECRET_KEYS: &[&str] = &["client_secret"];

/// The keys of an `oidc` table (its [`Config`] fields), for check-config's key lists.
pub fn keys() -> Vec<&'static str> {
    serde_aux::serde_introspection::serde_introspect::<Config>().to_vec()
}

/// A generic OpenID Connect provider.
pub struct OidcProvider {
    info: ProviderInfo,
    config: Config,
    expectations: Expectations,
    /// The `iss` values accepted, in tokens and in RFC 9207 authorization responses.
    issuers: Issuers,
    /// Where the metadata comes from.
    discovery: DiscoveryTarget,
    /// Added to every authorization request (an extension's).
    authorization_params: Vec<(String, String)>,
    /// An extension's claim checks and identity key.
    hook: Arc<dyn ClaimsHook>,
    http: reqwest::Client,
    /// Loaded once, single-flight; a failed load is retried only after a backoff.
    endpoints: LoadOnce<Arc<Endpoints>>,
    jwks: JwksCache,
}

/// What discovery yields, ready to use.
struct Endpoints {
    metadata: Metadata,
    exchanger: Exchanger,
}

/// Opens an `oidc` provider: checks the configuration offline (no network), so `check-config`
/// can run it. Discovery and keys load on first use and in `ready()`. Its HTTP client trusts
/// the CAs of `context.tls`.
///
/// # Errors
/// Every configuration problem, each naming its `providers.<id>.<key>`.
pub fn open(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    Ok(open_oidc_with(info, config, context)?)
}

/// As [`open`] with the system's trust roots and no extra CA, returning the concrete type (for
/// crates that build on it, tests and benchmarks).
///
/// # Errors
/// As [`open`].
pub fn open_oidc(info: ProviderInfo, config: Value) -> Result<Arc<OidcProvider>, OpenError> {
    let tls = OutboundTls::new(None).map_err(|e| OpenError {
        problems: vec![ConfigProblem::new(
            format!("providers.{}", info.id),
            e.to_string(),
        )],
    })?;
    open_oidc_with(info, config, &OpenContext::new(tls))
}

/// As [`open`], returning the concrete type.
///
/// # Errors
/// As [`open`].
pub fn open_oidc_with(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
) -> Result<Arc<OidcProvider>, OpenError> {
    open_extended(info, config, context, Extension::default())
}

/// Opens an OIDC provider changed by `extension`: how provider crates such as `auth0` or
/// `entra` build on this one. `config` is an `oidc` table (the extension crate derives
/// `issuer` and the rest from its own keys); every check of the plain `oidc` type applies.
///
/// # Errors
/// As [`open`]; also when the extension repeats a parameter of the code flow or its discovery
/// URL breaks the https-or-loopback rule.
pub fn open_extended(
    info: ProviderInfo,
    config: Value,
    context: &OpenContext,
    extension: Extension,
) -> Result<Arc<OidcProvider>, OpenError> {
    let prefix = format!("providers.{}", info.id);
    let config: Config = OpenError::deserialize(&info.id, config)?;
    let checked = config.check(&info.id)?;
    let discovery = match extension.discovery {
        Some(target) => {
            if let Err(e) = secure_url(target.url.as_str(), config.allow_insecure_http) {
                return Err(OpenError {
                    problems: vec![ConfigProblem::new(
                        prefix.clone(),
                        format!("the discovery URL {} {e}", target.url),
                    )],
                });
            }
            target
        }
        None => DiscoveryTarget {
            url: discovery::discovery_url(&checked.issuer),
            issuers: vec![config.issuer.clone()],
        },
    };
    if let Some((name, _)) = extension
        .authorization_params
        .iter()
        .find(|(name, _)| name.is_empty() || extension::RESERVED_PARAMS.contains(&name.as_str()))
    {
        return Err(OpenError {
            problems: vec![ConfigProblem::new(
                prefix.clone(),
                format!("the authorization parameter {name:?} is the code flow's own"),
            )],
        });
    }
    let timeout = Duration::from_millis(config.timeout_ms);
    let http = http::client(timeout, &context.tls).map_err(|e| OpenError {
        problems: vec![ConfigProblem::new(prefix.clone(), e.to_string())],
    })?;
    let client_secret = config
        .client_secret
        .clone()
        .unwrap_or_else(|| Secret::new(String::new()));
    let expectations = Expectations {
        issuer: IssuerUrl::new(config.issuer.clone()).map_err(|e| OpenError {
            problems: vec![ConfigProblem::new(
                format!("{prefix}.issuer"),
                e.to_string(),
            )],
        })?,
        client_id: ClientId::new(config.client_id.clone()),
        client_secret,
        allowed_algs: checked.algs,
        trusted_audiences: config.trusted_audiences.clone(),
        leeway: Duration::from_secs(config.leeway_seconds),
        max_age: Duration::from_secs(config.max_token_age_seconds),
        accepted_issuers: extension.issuers.clone(),
    };
    let jwks = JwksCache::new(
        http.clone(),
        Duration::from_secs(config.jwks_cache_seconds),
        Duration::from_secs(config.jwks_refetch_interval_seconds),
    )
    .with_max_stale(Duration::from_secs(config.jwks_max_stale_seconds))
    .with_events(context.events(&info.id));
    if config.allow_insecure_http {
        tracing::warn!(provider = %info.id, "allow_insecure_http is on: the issuer may use plain http");
    }
    let issuers = extension
        .issuers
        .unwrap_or_else(|| Issuers::Exact(vec![config.issuer.clone()]));
    Ok(Arc::new(OidcProvider {
        info,
        config,
        expectations,
        issuers,
        discovery,
        authorization_params: extension.authorization_params,
        hook: extension.claims.unwrap_or_else(|| Arc::new(NoHook)),
        http,
        endpoints: LoadOnce::new(Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX)),
        jwks,
    }))
}

impl OidcProvider {
    async fn endpoints(&self) -> Result<&Arc<Endpoints>, ProviderError> {
        self.endpoints
            .get(|| async {
                let metadata = self.discover().await?;
                let exchanger = self.exchanger(&metadata);
                tracing::info!(provider = %self.info.id, issuer = %metadata.issuer, "loaded provider metadata");
                Ok(Arc::new(Endpoints { metadata, exchanger }))
            })
            .await
    }

    /// The metadata, fetched now from where the configuration says, with the issuer check.
    async fn discover(&self) -> Result<Metadata, ProviderError> {
        discovery::discover(&self.http, &self.discovery, self.config.allow_insecure_http).await
    }

    /// The code exchange at `metadata`'s token endpoint, authenticated as configured.
    fn exchanger(&self, metadata: &Metadata) -> Exchanger {
        Exchanger::new(
            &self.config.client_id,
            &self.expectations.client_secret,
            &metadata.authorization_endpoint,
            &metadata.token_endpoint,
            self.config.token_endpoint_auth_method,
        )
    }

    /// Verifies an ID token with the cached keys, refetching them once if its key is unknown,
    /// or if it has no `kid` and the one cached key of its type does not verify it (a provider
    /// that rotates a kid-less key). Both share the refetch budget of
    /// `jwks_refetch_interval_seconds`.
    ///
    /// # Errors
    /// `Rejected` with the failed check, `Upstream` when keys cannot be loaded.
    pub async fn verify(
        &self,
        raw: &str,
        nonce: &Secret<String>,
        access_token: Option<&str>,
    ) -> Result<Claims, ProviderError> {
        self.with_keys("id_token_unknown_key", |keys| {
            verify_id_token(
                raw,
                keys,
                &self.expectations,
                nonce,
                access_token,
                Utc::now(),
            )
        })
        .await
    }

    /// Runs `check` (a token's verification) with the cached keys and, when no key matches (or
    /// a kid-less token's one candidate key fails: a rotated kid-less key), once more with keys
    /// refetched (single-flight, rate-limited by `jwks_refetch_interval_seconds`): the one key
    /// path of every token this provider verifies. `unknown_key` is the reason when no key
    /// matches even then.
    ///
    /// # Errors
    /// `check`'s rejection, `unknown_key`, or `Upstream` when keys cannot be loaded.
    async fn with_keys<T>(
        &self,
        unknown_key: &'static str,
        check: impl Fn(&jwk::KeySet) -> Result<T, VerifyError>,
    ) -> Result<T, ProviderError> {
        let jwks_uri = &self.endpoints().await?.metadata.jwks_uri;
        let keys = self.jwks.current(jwks_uri).await?;
        let first = match check(&keys) {
            Ok(verified) => return Ok(verified),
            Err(VerifyError::Rejected(e)) => return Err(e),
            Err(first) => first,
        };
        let Some(newer) = self.jwks.newer_than(jwks_uri, &keys).await? else {
            return Err(match first {
                VerifyError::KidlessKeyFailed(e) | VerifyError::Rejected(e) => e,
                VerifyError::UnknownKey => {
                    no_key(unknown_key, "and a refetch happened too recently")
                }
            });
        };
        match check(&newer) {
            Ok(verified) => Ok(verified),
            Err(VerifyError::Rejected(e) | VerifyError::KidlessKeyFailed(e)) => Err(e),
            Err(VerifyError::UnknownKey) => Err(no_key(unknown_key, "even after a refetch")),
        }
    }

    /// How many JWKS fetches this provider made (tests, metrics).
    pub fn jwks_fetch_count(&self) -> u64 {
        self.jwks.fetch_count()
    }

    /// The identity of verified claims, after the extension's check, keyed as it says, its
    /// email verified as it says (`asserted`: the token's own `email_verified`).
    ///
    /// # Errors
    /// The extension's refusal.
    fn identity(&self, claims: &Claims, asserted: bool) -> Result<Identity, ProviderError> {
        self.hook.check(claims)?;
        let (issuer, subject) = self.hook.identity_key(claims)?;
        let email = claims.email().map(|e| e.as_str().to_string());
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string());
        Ok(Identity::verified(self.info.id.clone(), issuer, subject)
            .with_email(email, self.hook.email_verified(claims, asserted))
            .with_name(name)
            .with_claims(claims.additional_claims().0.clone())
            .with_auth_time(claims.auth_time().map(|t| t.timestamp())))
    }
}

fn no_key(reason: &'static str, why: &str) -> ProviderError {
    ProviderError::rejected(
        reason,
        format!("no key in the provider's JWKS matches the token's kid and algorithm, {why}"),
    )
}

#[async_trait]
impl Provider for OidcProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn redirect(&self) -> Option<&dyn RedirectFlow> {
        Some(self)
    }

    fn assertion(&self) -> Option<&dyn AssertionFlow> {
        self.config
            .allow_id_token_exchange
            .then_some(self as &dyn AssertionFlow)
    }

    fn identity_issuers(&self) -> Vec<String> {
        self.hook.identity_issuers(&self.config.issuer)
    }

    fn backchannel_logout(&self) -> Option<&dyn BackchannelLogout> {
        self.config
            .backchannel_logout
            .then_some(self as &dyn BackchannelLogout)
    }

    fn online(&self) -> Option<&dyn OnlineCheck> {
        Some(self)
    }

    async fn ready(&self) -> Result<(), ProviderError> {
        let endpoints = self.endpoints().await?;
        self.jwks.current(&endpoints.metadata.jwks_uri).await?;
        Ok(())
    }
}
