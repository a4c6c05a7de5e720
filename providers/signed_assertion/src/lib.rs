//! The `signed_assertion` provider of idp-bridge: the app's own backend (an Appwrite Function,
//! say) vouches for a person, and the gateway logs that person in.
//!
//! Two formats (`format` in the table):
//! - `jwt`: `POST /v1/auth/{id}/exchange` with `{"assertion": "<JWS>"}`, signed with ES256,
//!   EdDSA or RS256 by a key from `public_keys` or `jwks_url`; claims `iss`, `aud`, `sub`,
//!   `iat`, `exp`, `jti`, optional `email`, `email_verified`, `name`.
//! - `hmac`: the raw JSON body `{"sub", "jti", ...}` with `X-Bridge-Signature: t=..,v1=..`,
//!   an HMAC-SHA256 under any of `hmac_secrets`.
//!
//! Both: at most `max_age_seconds` old, each `jti` accepted once per issuer (the gateway's replay
//! cache remembers it until the assertion could no longer be accepted, for every provider with
//! that issuer), addressed to this gateway.
//!
//! Layout:
//! - [`config`]: the `[providers.<id>]` keys and their validation.
//! - `keys`: PEM and JWKS keys, one algorithm per key.
//! - `jwt`: the JWS checks.
//! - `hmac`: the signature header and the MAC.
//! - `claims`: the claims both formats share, and the freshness window.

pub mod config;

mod claims;
mod hmac;
mod jwt;
mod keys;

use std::sync::Arc;

use async_trait::async_trait;
use idp_jose::JwksCache;
use idp_provider_api::{
    AssertionFlow, AssertionInput, CheckResult, ConfigProblem, Identity, OnlineCheck,
    OnlineContext, OpenContext, OpenError, Provider, ProviderError, ProviderInfo, ReplayKey,
    Secret,
};
use serde_json::{Map, Value};

use claims::{Assertion, Window, unix_now};
use config::{CheckedFormat, KeySource};
use jwt::{JwtVerifier, Keys};

pub use config::Config;
pub use hmac::SIGNATURE_HEADER;
pub use jwt::MAX_ASSERTION_BYTES;

/// The keys of a `signed_assertion` table that may be given as `<key>_file`: the HMAC secrets
/// (one per line) and, though public, the PEM keys (a file of PEM blocks is how keys are kept).
pub const SECRET_KEYS: &[&str] = &["public_keys", "hmac_secrets"];

/// The keys of a `signed_assertion` table (its [`Config`] fields), for check-config's key lists.
pub fn keys() -> Vec<&'static str> {
    serde_aux::serde_introspection::serde_introspect::<Config>().to_vec()
}

/// The provider `type` this crate registers.
pub const KIND: &str = "signed_assertion";

/// A rejection (401) with a stable reason and a detail for the logs.
pub(crate) fn reject(reason: &'static str, detail: impl Into<String>) -> ProviderError {
    ProviderError::rejected(reason, detail)
}

/// A `signed_assertion` provider.
pub struct SignedAssertionProvider {
    info: ProviderInfo,
    window: Window,
    format: Verifier,
}

enum Verifier {
    Jwt(JwtVerifier),
    Hmac {
        secrets: Vec<Secret<String>>,
        audiences: Vec<String>,
    },
}

/// Opens a `signed_assertion` provider: checks the table offline; a `jwks_url` is fetched on
/// first use and by `ready()`, with the CAs of `context.tls`.
///
/// # Errors
/// Every configuration problem, each naming its `providers.<id>.<key>`.
pub fn open(
    info: ProviderInfo,
    table: Value,
    context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    let prefix = format!("providers.{}", info.id);
    let problem = |key: String, reason: String| OpenError {
        problems: vec![ConfigProblem::new(key, reason)],
    };
    let config: Config = OpenError::deserialize(&info.id, table)?;
    let checked = config.check(&info.id, context)?;
    let window = Window {
        max_age: checked.max_age,
        leeway: checked.leeway,
    };
    let format = match checked.format {
        CheckedFormat::Hmac { secrets } => Verifier::Hmac {
            secrets,
            audiences: checked.audiences,
        },
        CheckedFormat::Jwt { issuer, algs, keys } => {
            let keys = match keys {
                KeySource::Pem(keys) => Keys::Pem(keys),
                KeySource::Jwks {
                    url,
                    cache,
                    refetch_interval,
                    timeout,
                } => {
                    let http = context
                        .tls
                        .client_builder(timeout)
                        .user_agent(concat!("idp-bridge/", env!("CARGO_PKG_VERSION")))
                        .build()
                        .map_err(|e| {
                            problem(
                                format!("{prefix}.jwks_url"),
                                format!("cannot build the HTTP client: {e}"),
                            )
                        })?;
                    Keys::Jwks {
                        url,
                        cache: Box::new(
                            JwksCache::new(http, cache, refetch_interval)
                                .with_events(context.events(&info.id)),
                        ),
                    }
                }
            };
            Verifier::Jwt(JwtVerifier {
                issuer,
                algs,
                audiences: checked.audiences,
                leeway: checked.leeway,
                keys,
            })
        }
    };
    Ok(Arc::new(SignedAssertionProvider {
        info,
        window,
        format,
    }))
}

impl SignedAssertionProvider {
    /// The issuer of the identities: the configured `issuer` (jwt) or `hmac:{provider id}`.
    fn issuer(&self) -> String {
        match &self.format {
            Verifier::Jwt(jwt) => jwt.issuer.clone(),
            Verifier::Hmac { .. } => format!("hmac:{}", self.info.id),
        }
    }

    /// Verifies the request's signature and returns the signed claims, with the signature's
    /// time for the `hmac` format.
    async fn verified_claims(
        &self,
        input: &AssertionInput<'_>,
    ) -> Result<(Map<String, Value>, Option<i64>), ProviderError> {
        match &self.format {
            Verifier::Jwt(jwt) => {
                let body: JwtBody = serde_json::from_slice(input.body).map_err(|e| {
                    ProviderError::InvalidRequest {
                        param: "assertion",
                        reason: format!(
                            "the body must be {{\"assertion\": \"<JWS>\"}} ({})",
                            json_error(&e)
                        ),
                    }
                })?;
                Ok((jwt.verify(body.assertion.expose()).await?, None))
            }
            Verifier::Hmac { secrets, audiences } => {
                let signature = hmac::Signature::from_headers(input.headers)?;
                // The signature covers the exact bytes: nothing is parsed before it holds.
                if !signature.verifies(input.body, secrets) {
                    return Err(reject(
                        "assertion_signature_invalid",
                        format!(
                            "X-Bridge-Signature matches none of the {} configured hmac_secrets",
                            secrets.len()
                        ),
                    ));
                }
                let claims: Map<String, Value> =
                    serde_json::from_slice(input.body).map_err(|e| {
                        ProviderError::InvalidRequest {
                            param: "body",
                            reason: format!("must be a JSON object ({})", json_error(&e)),
                        }
                    })?;
                check_audience(&claims, audiences)?;
                Ok((claims, Some(signature.issued_at)))
            }
        }
    }
}

/// The body of the `jwt` format.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtBody {
    assertion: Secret<String>,
}

/// A JSON error's category and position, never the text it quotes.
fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => "a field is missing, unknown or of the wrong type".into(),
        Category::Syntax | Category::Eof => {
            format!("not JSON at line {} column {}", e.line(), e.column())
        }
        Category::Io => "unreadable".into(),
    }
}

/// The `hmac` body's `aud` is optional; when present it must name this gateway.
fn check_audience(claims: &Map<String, Value>, audiences: &[String]) -> Result<(), ProviderError> {
    let names = |aud: &str| audiences.iter().any(|a| a == aud);
    let ok = match claims.get("aud") {
        None => true,
        Some(Value::String(aud)) => names(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(names),
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(reject(
            "assertion_audience_mismatch",
            "aud does not name this gateway (the configured audience)",
        ))
    }
}

#[async_trait]
impl Provider for SignedAssertionProvider {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn assertion(&self) -> Option<&dyn AssertionFlow> {
        Some(self)
    }

    fn identity_issuers(&self) -> Vec<String> {
        vec![self.issuer()]
    }

    fn online(&self) -> Option<&dyn OnlineCheck> {
        Some(self)
    }

    async fn ready(&self) -> Result<(), ProviderError> {
        match &self.format {
            Verifier::Jwt(jwt) => jwt.ready().await,
            Verifier::Hmac { .. } => Ok(()),
        }
    }
}

/// check-config: a `jwks_url` loads and holds a usable key; keys and secrets written in the
/// configuration leave nothing to fetch.
#[async_trait]
impl OnlineCheck for SignedAssertionProvider {
    async fn check_online(&self, _: &OnlineContext<'_>) -> Vec<CheckResult> {
        let checked = match &self.format {
            Verifier::Jwt(jwt) => jwt.check_jwks().await,
            Verifier::Hmac { .. } => None,
        };
        vec![checked.unwrap_or_else(|| {
            CheckResult::passed("signing keys", "in the configuration; nothing to fetch")
        })]
    }
}

#[async_trait]
impl AssertionFlow for SignedAssertionProvider {
    async fn exchange(&self, input: AssertionInput<'_>) -> Result<Identity, ProviderError> {
        let (claims, signed_at) = self.verified_claims(&input).await?;
        let assertion = Assertion::read(claims, signed_at)?;
        let until = self
            .window
            .check(assertion.issued_at, assertion.expires, unix_now())?;
        // Last: only an otherwise valid assertion uses up its jti. A jti is unique per issuer,
        // not per provider: two `jwt` providers on one issuer share their jtis (the `hmac`
        // format's issuer is `hmac:{provider id}`, so each `hmac` provider keeps its own).
        let key = ReplayKey::new(&self.issuer(), "jti", assertion.jti.as_bytes());
        if !input.replay.first_use(&key, until).await? {
            return Err(reject(
                "assertion_replayed",
                format!("jti {key:?} was already used"),
            ));
        }
        Ok(
            Identity::verified(self.info.id.clone(), self.issuer(), assertion.subject)
                .with_email(assertion.email, assertion.email_verified)
                .with_name(assertion.name)
                .with_claims(assertion.other)
                .with_auth_time(Some(assertion.issued_at)),
        )
    }
}

#[cfg(test)]
mod tests;
