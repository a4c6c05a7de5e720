//! `check-config --online` for an OIDC provider, and so for every type built on this crate
//! (`auth0`, `google`, `entra`):
//! 1. `discovery`: the metadata is fetched from where logins fetch it, and its `issuer` is the
//!    configured one exactly (a failure here ends the list: the rest needs the metadata);
//! 2. `algorithms`: `allowed_algs` and the provider's `id_token_signing_alg_values_supported`
//!    share at least one algorithm;
//! 3. `signing keys`: the JWKS loads, and holds a key that can verify an allowed algorithm;
//! 4. `client credentials`: a code exchange sent exactly as a login sends it (same endpoint,
//!    same client authentication), with a made-up code. RFC 6749 section 5.2 has the token
//!    endpoint answer `invalid_client` (401 with HTTP Basic) when the client cannot be
//!    authenticated, and `invalid_grant` when the code is wrong. A provider that authenticates
//!    the client before it looks at the code (oidc-provider, the test provider, does) answers
//!    `invalid_grant` only to a client whose credentials are right. The limits: a provider
//!    that looks at the code first answers `invalid_grant` whatever the secret, and the check
//!    then passes without proving it; some providers answer a wrong secret with another error
//!    code on a 401, so any 401 counts as refused credentials; any other answer is reported as
//!    unknown, neither passed nor failed.
//!
//! Must not: send anything that could succeed (the code cannot be valid, no user is involved).

use async_trait::async_trait;
use idp_provider_api::{CheckResult, OnlineCheck, OnlineContext, ProviderError};
use openidconnect::core::CoreJwsSigningAlgorithm;

use crate::OidcProvider;
use crate::discovery::Metadata;
use crate::exchange::ProbeAnswer;

#[async_trait]
impl OnlineCheck for OidcProvider {
    async fn check_online(&self, context: &OnlineContext<'_>) -> Vec<CheckResult> {
        let metadata = match self.discover().await {
            Ok(metadata) => metadata,
            Err(error) => return vec![CheckResult::failed("discovery", discovery_fix(error))],
        };
        vec![
            CheckResult::passed(
                "discovery",
                format!(
                    "{} names the expected issuer {:?}",
                    self.discovery.url, metadata.issuer
                ),
            ),
            self.algorithms(&metadata),
            self.signing_keys(&metadata).await,
            self.client_credentials(&metadata, context).await,
        ]
    }
}

/// What to do about a failed discovery.
fn discovery_fix(error: ProviderError) -> String {
    match error {
        // The document names another issuer: the text says which, and that they must be equal.
        ProviderError::Misconfigured(detail) => detail,
        ProviderError::Upstream(detail) => format!(
            "{detail}; check the provider's issuer (or domain, tenant) and that it is reachable from here"
        ),
        other => other.to_string(),
    }
}

/// The JWS name of an algorithm, as `allowed_algs` and discovery spell it.
fn name(alg: &CoreJwsSigningAlgorithm) -> String {
    serde_json::to_value(alg)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{alg:?}"))
}

fn is_hmac(alg: &CoreJwsSigningAlgorithm) -> bool {
    use CoreJwsSigningAlgorithm as A;
    matches!(alg, A::HmacSha256 | A::HmacSha384 | A::HmacSha512)
}

impl OidcProvider {
    fn algorithms(&self, metadata: &Metadata) -> CheckResult {
        let offered = &metadata.id_token_signing_alg_values_supported;
        let allowed: Vec<String> = self.expectations.allowed_algs.iter().map(name).collect();
        if offered.is_empty() {
            return CheckResult::unknown(
                "algorithms",
                "the discovery document lists no id_token_signing_alg_values_supported to compare allowed_algs with",
            );
        }
        let both: Vec<&String> = allowed.iter().filter(|a| offered.contains(a)).collect();
        if both.is_empty() {
            CheckResult::failed(
                "algorithms",
                format!(
                    "the provider signs ID tokens with {offered:?}, and allowed_algs {allowed:?} has none of them; add the one the client is set to (usually RS256) to providers.{}.allowed_algs",
                    self.info.id
                ),
            )
        } else {
            CheckResult::passed(
                "algorithms",
                format!("{both:?} offered by the provider and allowed"),
            )
        }
    }

    async fn signing_keys(&self, metadata: &Metadata) -> CheckResult {
        let algs: Vec<&CoreJwsSigningAlgorithm> = self
            .expectations
            .allowed_algs
            .iter()
            .filter(|alg| !is_hmac(alg))
            .collect();
        if algs.is_empty() {
            return CheckResult::passed(
                "signing keys",
                "allowed_algs lists only HS* algorithms: ID tokens are checked with the client secret, no key is fetched",
            );
        }
        let uri = &metadata.jwks_uri;
        let keys = match self.jwks.current(uri).await {
            Ok(keys) => keys,
            Err(error) => return CheckResult::failed("signing keys", error.to_string()),
        };
        let usable: Vec<String> = algs
            .iter()
            .filter(|alg| keys.keys().iter().any(|key| key.can_verify(alg)))
            .map(|alg| name(alg))
            .collect();
        if usable.is_empty() {
            let wanted: Vec<String> = algs.iter().map(|alg| name(alg)).collect();
            CheckResult::failed(
                "signing keys",
                format!(
                    "the JWKS at {uri} holds {} usable key(s), none for {wanted:?} (RSA keys under 2048 bits and symmetric keys are never used); check allowed_algs against the keys the provider publishes",
                    keys.keys().len()
                ),
            )
        } else {
            CheckResult::passed(
                "signing keys",
                format!(
                    "the JWKS at {uri} has {} key(s), usable for {usable:?}",
                    keys.keys().len()
                ),
            )
        }
    }

    async fn client_credentials(
        &self,
        metadata: &Metadata,
        context: &OnlineContext<'_>,
    ) -> CheckResult {
        const NAME: &str = "client credentials";
        let exchanger = self.exchanger(metadata);
        let keys = format!(
            "providers.{}.client_id, client_secret and token_endpoint_auth_method (now {})",
            self.info.id,
            match self.config.token_endpoint_auth_method {
                crate::config::AuthMethod::ClientSecretBasic => "client_secret_basic",
                crate::config::AuthMethod::ClientSecretPost => "client_secret_post",
            }
        );
        match exchanger.probe(&self.http, context.redirect_uri).await {
            ProbeAnswer::Refused { error, .. } if error == "invalid_grant" => CheckResult::passed(
                NAME,
                "the token endpoint authenticated the client and refused only the made-up code (invalid_grant)",
            ),
            ProbeAnswer::Refused { status, error }
                if status == 401 || error == "invalid_client" =>
            {
                CheckResult::failed(
                    NAME,
                    format!(
                        "the token endpoint refused the client (HTTP {status} {error}); check {keys}"
                    ),
                )
            }
            ProbeAnswer::Refused { status, error } if error == "unauthorized_client" => {
                CheckResult::failed(
                    NAME,
                    format!(
                        "the provider does not let this client use the authorization code grant (HTTP {status} unauthorized_client); enable it for the client at the provider"
                    ),
                )
            }
            ProbeAnswer::Refused { status, error } => CheckResult::unknown(
                NAME,
                format!(
                    "the token endpoint answered the made-up code with HTTP {status} {error}, which does not tell whether the credentials are right"
                ),
            ),
            ProbeAnswer::Accepted => CheckResult::failed(
                NAME,
                "the token endpoint issued tokens for a made-up code: it does not check codes, so it cannot be trusted",
            ),
            ProbeAnswer::Failed(error) => CheckResult::failed(NAME, error.to_string()),
        }
    }
}
