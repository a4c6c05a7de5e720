//! `[providers.<id>]` keys of an `oidc` provider, and their validation.

use idp_provider_api::url_rule::{UrlRuleError, secure_url};
use idp_provider_api::{ConfigProblem, OpenError, Secret};
use openidconnect::core::CoreJwsSigningAlgorithm;
use serde::Deserialize;
use url::Url;

/// Configuration of a generic OpenID Connect provider. Unknown keys are refused so that a typo
/// never silently weakens a check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier; the discovery document's `issuer` must equal it exactly.
    pub issuer: String,
    /// The client registered at the provider.
    pub client_id: String,
    /// The client's secret (or `client_secret_file`, resolved by the gateway).
    pub client_secret: Option<Secret<String>>,
    /// Scopes requested at every login; must contain `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// ID-token signature algorithms accepted (RS256, RS384, RS512, PS256, PS384, PS512, ES256,
    /// ES384, EdDSA, HS256, HS384, HS512). Never `none`.
    #[serde(default = "default_algs")]
    pub allowed_algs: Vec<String>,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_method: AuthMethod,
    /// Permits an `http://` issuer on a non-loopback host (local development only).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds (0..=300).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Oldest `iat` accepted, in seconds: a login's ID token, or a logout token, is fresh
    /// (60..=86400).
    #[serde(default = "default_max_age")]
    pub max_token_age_seconds: u64,
    /// Minimum time between two JWKS refetches caused by an unknown `kid`, or by a token
    /// without `kid` that the cached key does not verify (1..=3600).
    #[serde(default = "default_refetch_interval")]
    pub jwks_refetch_interval_seconds: u64,
    /// How long fetched keys are used before a regular reload (60..=86400).
    #[serde(default = "default_jwks_ttl")]
    pub jwks_cache_seconds: u64,
    /// While the JWKS cannot be fetched, the last good keys keep verifying tokens for at most
    /// this long after the last successful fetch (0..=604800; 0 never serves stale keys).
    #[serde(default = "default_jwks_max_stale")]
    pub jwks_max_stale_seconds: u64,
    /// Audiences besides `client_id` that may appear in `aud` (with `azp` = client_id).
    #[serde(default)]
    pub trusted_audiences: Vec<String>,
    /// Timeout of each request to the provider, in milliseconds (100..=60000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Native apps may exchange an ID token they obtained themselves at
    /// `POST /v1/auth/{id}/exchange` (see `id_token_exchange`). Off by default.
    #[serde(default)]
    pub allow_id_token_exchange: bool,
    /// Oldest `iat` an exchanged ID token may have, in seconds (10..=3600).
    #[serde(default = "crate::id_token_exchange::default_max_age")]
    pub id_token_max_age_seconds: u64,
    /// The provider may end users' Appwrite sessions with OpenID Connect Back-Channel Logout
    /// tokens at `POST /v1/auth/{id}/backchannel-logout` (see `logout`). Off by default.
    #[serde(default)]
    pub backchannel_logout: bool,
    /// How long a login's `sid` is remembered for logout tokens that name only the session, in
    /// seconds (300..=31536000): the longest a session at the provider can last.
    #[serde(default = "crate::logout::default_sid_seconds")]
    pub backchannel_logout_sid_seconds: u64,
}

/// Client authentication at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret (the OpenID default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (Auth0's default).
    ClientSecretPost,
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}
fn default_algs() -> Vec<String> {
    vec!["RS256".to_string()]
}
fn default_leeway() -> u64 {
    30
}
fn default_max_age() -> u64 {
    600
}
fn default_refetch_interval() -> u64 {
    60
}
fn default_jwks_ttl() -> u64 {
    3600
}
fn default_jwks_max_stale() -> u64 {
    86_400
}
fn default_timeout() -> u64 {
    5000
}

/// A validated configuration: what `open` builds the provider from.
#[derive(Debug)]
pub(crate) struct Checked {
    pub issuer: Url,
    pub algs: Vec<CoreJwsSigningAlgorithm>,
}

impl Config {
    /// Checks every key and returns all problems at once, each naming `providers.<id>.<key>`.
    pub(crate) fn check(&self, id: &str) -> Result<Checked, OpenError> {
        let key = |k: &str| format!("providers.{id}.{k}");
        let mut problems = Vec::new();
        let issuer = match check_issuer(&self.issuer, self.allow_insecure_http) {
            Ok(url) => Some(url),
            Err(reason) => {
                problems.push(ConfigProblem::new(key("issuer"), reason));
                None
            }
        };
        if self.client_id.trim().is_empty() {
            problems.push(ConfigProblem::new(key("client_id"), "must not be empty"));
        }
        match &self.client_secret {
            Some(secret) if secret.expose().is_empty() => problems.push(ConfigProblem::new(
                key("client_secret"),
                "must not be empty",
            )),
            None => problems.push(ConfigProblem::new(
                key("client_secret"),
                "is required (or client_secret_file): the gateway is a confidential client",
            )),
            Some(_) => {}
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            problems.push(ConfigProblem::new(key("scopes"), "must contain \"openid\""));
        }
        if let Some(bad) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            problems.push(ConfigProblem::new(
                key("scopes"),
                format!(
                    "{bad:?} is not a valid scope (printable ASCII, no space, quote or backslash)"
                ),
            ));
        }
        if self
            .trusted_audiences
            .iter()
            .any(|a| a.trim().is_empty() || *a == self.client_id)
        {
            problems.push(ConfigProblem::new(
                key("trusted_audiences"),
                "entries must be non-empty and other than client_id",
            ));
        }
        let mut algs = Vec::new();
        if self.allowed_algs.is_empty() {
            problems.push(ConfigProblem::new(
                key("allowed_algs"),
                "must list at least one algorithm",
            ));
        }
        for name in &self.allowed_algs {
            match parse_alg(name) {
                Ok(alg) => algs.push(alg),
                Err(reason) => problems.push(ConfigProblem::new(key("allowed_algs"), reason)),
            }
        }
        let ranges: [(&str, u64, u64, u64); 6] = [
            ("leeway_seconds", self.leeway_seconds, 0, 300),
            (
                "max_token_age_seconds",
                self.max_token_age_seconds,
                60,
                86_400,
            ),
            (
                "jwks_refetch_interval_seconds",
                self.jwks_refetch_interval_seconds,
                1,
                3600,
            ),
            ("jwks_cache_seconds", self.jwks_cache_seconds, 60, 86_400),
            (
                "jwks_max_stale_seconds",
                self.jwks_max_stale_seconds,
                0,
                604_800,
            ),
            ("timeout_ms", self.timeout_ms, 100, 60_000),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                problems.push(ConfigProblem::new(
                    key(name),
                    format!("{value} is outside {min}..={max}"),
                ));
            }
        }
        // RFC 7518 section 3.2: an HMAC key must be at least as long as the hash output.
        let min_hmac = algs
            .iter()
            .filter_map(|alg| match alg {
                CoreJwsSigningAlgorithm::HmacSha256 => Some(32),
                CoreJwsSigningAlgorithm::HmacSha384 => Some(48),
                CoreJwsSigningAlgorithm::HmacSha512 => Some(64),
                _ => None,
            })
            .max();
        if let (Some(min), Some(secret)) = (min_hmac, &self.client_secret)
            && secret.expose().len() < min
        {
            problems.push(ConfigProblem::new(
                key("client_secret"),
                format!(
                    "is {} bytes; HS* in allowed_algs needs a secret of at least {min} bytes",
                    secret.expose().len()
                ),
            ));
        }
        problems.extend(crate::id_token_exchange::config_problems(self, id));
        problems.extend(crate::logout::config_problems(self, id));
        match (issuer, problems.is_empty()) {
            (Some(issuer), true) => Ok(Checked { issuer, algs }),
            _ => Err(OpenError { problems }),
        }
    }
}

/// An issuer follows the shared URL rule; `allow_insecure_http` permits http on any host.
fn check_issuer(raw: &str, allow_insecure_http: bool) -> Result<Url, String> {
    if raw.is_empty() {
        return Err("is required".into());
    }
    secure_url(raw, allow_insecure_http).map_err(|e| match e {
        UrlRuleError::Http => format!("{raw:?} {e}, or with allow_insecure_http = true"),
        e => format!("{raw:?} {e}"),
    })
}

/// Whether `s` is an OAuth 2.0 scope token (RFC 6749 section 3.3: printable ASCII without
/// space, `"` or `\`).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn parse_alg(name: &str) -> Result<CoreJwsSigningAlgorithm, String> {
    use CoreJwsSigningAlgorithm as A;
    // Matched case-sensitively: "none", "None" and friends never parse.
    Ok(match name {
        "RS256" => A::RsaSsaPkcs1V15Sha256,
        "RS384" => A::RsaSsaPkcs1V15Sha384,
        "RS512" => A::RsaSsaPkcs1V15Sha512,
        "PS256" => A::RsaSsaPssSha256,
        "PS384" => A::RsaSsaPssSha384,
        "PS512" => A::RsaSsaPssSha512,
        "ES256" => A::EcdsaP256Sha256,
        "ES384" => A::EcdsaP384Sha384,
        "EdDSA" => A::EdDsa,
        "HS256" => A::HmacSha256,
        "HS384" => A::HmacSha384,
        "HS512" => A::HmacSha512,
        n if n.eq_ignore_ascii_case("none") => {
            return Err("\"none\" is never accepted: ID tokens must be signed".into());
        }
        "ES512" => return Err("\"ES512\" is not supported by the verifier".into()),
        other => return Err(format!("{other:?} is not a known JWS algorithm")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_like: serde_json::Value) -> Config {
        serde_json::from_value(toml_like).expect("config parses")
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "issuer": "https://login.example.com/",
            "client_id": "gw",
            "client_secret": "s3cret",
        })
    }

    fn problems(v: serde_json::Value) -> Vec<String> {
        match config(v).check("corp") {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_complete_config_passes() {
        assert!(problems(base()).is_empty());
    }

    #[test]
    fn http_issuer_needs_loopback_or_the_insecure_flag() {
        let mut v = base();
        v["issuer"] = "http://login.example.com".into();
        let p = problems(v.clone());
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("providers.corp.issuer: "), "{p:?}");
        assert!(p[0].contains("allow_insecure_http"));
        v["allow_insecure_http"] = true.into();
        assert!(problems(v).is_empty());
        let mut v = base();
        v["issuer"] = "http://127.0.0.1:9000".into();
        assert!(problems(v).is_empty());
    }

    #[test]
    fn missing_issuer_and_secret_are_both_reported() {
        let p = problems(serde_json::json!({"issuer": "", "client_id": "gw"}));
        assert!(
            p.iter().any(|m| m == "providers.corp.issuer: is required"),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("providers.corp.client_secret: is required"))
        );
    }

    #[test]
    fn none_and_unknown_algorithms_are_refused() {
        for alg in ["none", "None", "NONE", "ES512", "RS1"] {
            let mut v = base();
            v["allowed_algs"] = serde_json::json!(["RS256", alg]);
            let p = problems(v);
            assert_eq!(p.len(), 1, "{alg}: {p:?}");
            assert!(p[0].starts_with("providers.corp.allowed_algs: "));
        }
    }

    #[test]
    fn scopes_must_contain_openid() {
        let mut v = base();
        v["scopes"] = serde_json::json!(["email"]);
        assert_eq!(
            problems(v),
            vec!["providers.corp.scopes: must contain \"openid\""]
        );
    }

    #[test]
    fn ranges_name_the_key() {
        let mut v = base();
        v["leeway_seconds"] = 3600.into();
        assert_eq!(
            problems(v),
            vec!["providers.corp.leeway_seconds: 3600 is outside 0..=300"]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let mut v = base();
        v["isuer"] = "x".into();
        let err = serde_json::from_value::<Config>(v).unwrap_err().to_string();
        assert!(err.contains("unknown field `isuer`"), "{err}");
    }
}
