//! `[providers.<id>]` keys of a `signed_assertion` provider, and their validation.
//!
//! One table serves both formats; a key of the other format is refused, so that a half-edited
//! table never looks configured while it is not.

use std::time::Duration;

use idp_jose::Algorithm;
use idp_provider_api::url_rule::secure_url;
use idp_provider_api::{ConfigProblem, OpenContext, OpenError, Secret};
use serde::Deserialize;
use url::Url;

use crate::keys::PemKeys;

/// The raw keys of a `signed_assertion` table. Unknown keys are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `jwt` or `hmac`.
    pub format: Option<Format>,
    /// `jwt`: the exact `iss` of every assertion; also the identity's issuer.
    pub issuer: Option<String>,
    /// The `aud` an assertion must name (default: the gateway's `[server] public_url`).
    pub audience: Option<String>,
    /// `jwt`: accepted signature algorithms, among ES256, EdDSA and RS256.
    pub allowed_algs: Option<Vec<String>>,
    /// `jwt`: PEM public keys (a list, or one text with several PEM blocks, which is what
    /// `public_keys_file` yields).
    pub public_keys: Option<OneOrMany>,
    /// `jwt`: where the signer publishes its keys (https, or http on loopback).
    pub jwks_url: Option<String>,
    /// `hmac`: the accepted secrets, each at least 32 bytes (a list, or one per line, which is
    /// what `hmac_secrets_file` yields). Several allow a rotation.
    pub hmac_secrets: Option<SecretList>,
    /// Oldest assertion accepted, in seconds (1..=3600, default 300).
    pub max_age_seconds: Option<u64>,
    /// Clock skew tolerated on `iat`, `exp`, `nbf` and `t`, in seconds (0..=60, default 30).
    pub leeway_seconds: Option<u64>,
    /// `jwt` with `jwks_url`: how long fetched keys are used (60..=86400, default 3600).
    pub jwks_cache_seconds: Option<u64>,
    /// `jwt` with `jwks_url`: minimum time between refetches an unknown `kid` causes
    /// (1..=3600, default 60).
    pub jwks_refetch_interval_seconds: Option<u64>,
    /// `jwt` with `jwks_url`: timeout of a key fetch in milliseconds (100..=60000, default 5000).
    pub timeout_ms: Option<u64>,
}

/// The two assertion formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `{"assertion": "<JWS>"}`.
    Jwt,
    /// A raw JSON body signed in the `X-Bridge-Signature` header.
    Hmac,
}

/// A string or a list of strings (TOML lists, or the text of a `*_file`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One text.
    One(String),
    /// A list.
    Many(Vec<String>),
}

/// Secrets as a list, or as one text with a secret per line; never printed.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum SecretList {
    /// One text, one secret per line.
    Lines(Secret<String>),
    /// A list.
    Many(Vec<Secret<String>>),
}

impl SecretList {
    fn into_secrets(self) -> Vec<Secret<String>> {
        match self {
            Self::Many(list) => list,
            Self::Lines(text) => text
                .expose()
                .lines()
                .map(|line| line.trim_end_matches('\r'))
                .filter(|line| !line.is_empty())
                .map(|line| Secret::new(line.to_string()))
                .collect(),
        }
    }
}

/// Shortest HMAC secret accepted (RFC 2104: at least the hash output, 32 bytes for SHA-256).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// Most keys or secrets one provider may list: each one is tried in turn.
pub const MAX_KEYS: usize = 10;

/// A validated configuration.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The audiences an assertion's `aud` may name.
    pub audiences: Vec<String>,
    pub max_age: Duration,
    pub leeway: Duration,
    pub format: CheckedFormat,
}

/// What each format verifies with.
#[derive(Debug)]
pub(crate) enum CheckedFormat {
    Jwt {
        issuer: String,
        algs: Vec<Algorithm>,
        keys: KeySource,
    },
    Hmac {
        secrets: Vec<Secret<String>>,
    },
}

/// Where the `jwt` format's keys come from.
#[derive(Debug)]
pub(crate) enum KeySource {
    Pem(PemKeys),
    Jwks {
        url: Url,
        cache: Duration,
        refetch_interval: Duration,
        timeout: Duration,
    },
}

const JWT_ONLY: [&str; 7] = [
    "issuer",
    "allowed_algs",
    "public_keys",
    "jwks_url",
    "jwks_cache_seconds",
    "jwks_refetch_interval_seconds",
    "timeout_ms",
];

impl Config {
    fn present(&self, name: &str) -> bool {
        match name {
            "issuer" => self.issuer.is_some(),
            "allowed_algs" => self.allowed_algs.is_some(),
            "public_keys" => self.public_keys.is_some(),
            "jwks_url" => self.jwks_url.is_some(),
            "jwks_cache_seconds" => self.jwks_cache_seconds.is_some(),
            "jwks_refetch_interval_seconds" => self.jwks_refetch_interval_seconds.is_some(),
            "timeout_ms" => self.timeout_ms.is_some(),
            "hmac_secrets" => self.hmac_secrets.is_some(),
            _ => false,
        }
    }

    /// Checks every key and returns all problems at once, each naming `providers.<id>.<key>`.
    pub(crate) fn check(self, id: &str, context: &OpenContext) -> Result<Checked, OpenError> {
        let key = |k: &str| format!("providers.{id}.{k}");
        let mut problems = Vec::new();
        let mut range = |name: &str, value: Option<u64>, default: u64, min: u64, max: u64| {
            let value = value.unwrap_or(default);
            if !(min..=max).contains(&value) {
                problems.push(ConfigProblem::new(
                    key(name),
                    format!("{value} is outside {min}..={max}"),
                ));
            }
            Duration::from_secs(value)
        };
        let max_age = range("max_age_seconds", self.max_age_seconds, 300, 1, 3600);
        let leeway = range("leeway_seconds", self.leeway_seconds, 30, 0, 60);
        let cache = range(
            "jwks_cache_seconds",
            self.jwks_cache_seconds,
            3600,
            60,
            86_400,
        );
        let refetch_interval = range(
            "jwks_refetch_interval_seconds",
            self.jwks_refetch_interval_seconds,
            60,
            1,
            3600,
        );
        let timeout_ms = self.timeout_ms.unwrap_or(5000);
        if !(100..=60_000).contains(&timeout_ms) {
            problems.push(ConfigProblem::new(
                key("timeout_ms"),
                format!("{timeout_ms} is outside 100..=60000"),
            ));
        }

        let audiences = match (&self.audience, &context.public_url) {
            (Some(audience), _) if audience.trim().is_empty() => {
                problems.push(ConfigProblem::new(key("audience"), "must not be empty"));
                vec![]
            }
            (Some(audience), _) => vec![audience.clone()],
            // A URL with an empty path prints with a trailing slash; an assertion may name it
            // either way, as the operator wrote it in `public_url` or as the URL prints.
            (None, Some(url)) => {
                let text = url.as_str();
                let mut both = vec![text.to_string()];
                if let Some(bare) = text.strip_suffix('/') {
                    both.push(bare.to_string());
                }
                both
            }
            (None, None) => {
                problems.push(ConfigProblem::new(
                    key("audience"),
                    "is required when [server] public_url is not a valid URL",
                ));
                vec![]
            }
        };

        let format = match self.format {
            None => {
                problems.push(ConfigProblem::new(
                    key("format"),
                    "is required: \"jwt\" or \"hmac\"",
                ));
                None
            }
            Some(Format::Hmac) => {
                for name in JWT_ONLY.iter().filter(|n| self.present(n)) {
                    problems.push(ConfigProblem::new(
                        key(name),
                        "belongs to format = \"jwt\", not \"hmac\"",
                    ));
                }
                let secrets = self
                    .hmac_secrets
                    .map(SecretList::into_secrets)
                    .unwrap_or_default();
                if secrets.is_empty() {
                    problems.push(ConfigProblem::new(
                        key("hmac_secrets"),
                        "is required for format = \"hmac\" (or hmac_secrets_file)",
                    ));
                } else if secrets.len() > MAX_KEYS {
                    problems.push(ConfigProblem::new(
                        key("hmac_secrets"),
                        format!("lists {} secrets, at most {MAX_KEYS}", secrets.len()),
                    ));
                }
                for (i, secret) in secrets.iter().enumerate() {
                    if secret.expose().len() < MIN_HMAC_SECRET_BYTES {
                        problems.push(ConfigProblem::new(
                            key("hmac_secrets"),
                            format!(
                                "secret #{} is {} bytes; each must be at least \
                                 {MIN_HMAC_SECRET_BYTES} (e.g. `openssl rand -hex 32`)",
                                i + 1,
                                secret.expose().len()
                            ),
                        ));
                    }
                }
                Some(CheckedFormat::Hmac { secrets })
            }
            Some(Format::Jwt) => {
                if self.present("hmac_secrets") {
                    problems.push(ConfigProblem::new(
                        key("hmac_secrets"),
                        "belongs to format = \"hmac\", not \"jwt\"",
                    ));
                }
                let issuer = match self.issuer {
                    Some(issuer) if !issuer.trim().is_empty() => issuer,
                    _ => {
                        problems.push(ConfigProblem::new(
                            key("issuer"),
                            "is required for format = \"jwt\": the exact `iss` of the assertions",
                        ));
                        String::new()
                    }
                };
                let algs = parse_algs(
                    self.allowed_algs.as_deref(),
                    &key("allowed_algs"),
                    &mut problems,
                );
                let keys = match (self.public_keys, self.jwks_url) {
                    (Some(_), Some(_)) => {
                        problems.push(ConfigProblem::new(
                            key("public_keys"),
                            "give either public_keys (or public_keys_file) or jwks_url, not both",
                        ));
                        None
                    }
                    (None, None) => {
                        problems.push(ConfigProblem::new(
                            key("public_keys"),
                            "format = \"jwt\" needs public_keys (or public_keys_file) or jwks_url",
                        ));
                        None
                    }
                    (Some(pems), None) => {
                        let texts = match pems {
                            OneOrMany::One(text) => vec![text],
                            OneOrMany::Many(list) => list,
                        };
                        match PemKeys::parse(&texts, &algs) {
                            Ok(keys) => Some(KeySource::Pem(keys)),
                            Err(reasons) => {
                                problems.extend(
                                    reasons
                                        .into_iter()
                                        .map(|r| ConfigProblem::new(key("public_keys"), r)),
                                );
                                None
                            }
                        }
                    }
                    (None, Some(raw)) => match secure_url(&raw, false) {
                        Ok(url) => Some(KeySource::Jwks {
                            url,
                            cache,
                            refetch_interval,
                            timeout: Duration::from_millis(timeout_ms),
                        }),
                        Err(e) => {
                            problems
                                .push(ConfigProblem::new(key("jwks_url"), format!("{raw:?} {e}")));
                            None
                        }
                    },
                };
                keys.map(|keys| CheckedFormat::Jwt { issuer, algs, keys })
            }
        };
        match format {
            Some(format) if problems.is_empty() => Ok(Checked {
                audiences,
                max_age,
                leeway,
                format,
            }),
            _ => Err(OpenError { problems }),
        }
    }
}

/// The algorithms a `jwt` assertion may use. Only asymmetric ones: an HMAC algorithm would let
/// anyone holding a public key forge assertions (algorithm confusion), and `none` signs nothing.
pub const SUPPORTED_ALGS: [(&str, Algorithm); 3] = [
    ("ES256", Algorithm::ES256),
    ("EdDSA", Algorithm::EdDSA),
    ("RS256", Algorithm::RS256),
];

fn parse_algs(
    names: Option<&[String]>,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<Algorithm> {
    let Some(names) = names else {
        return SUPPORTED_ALGS.iter().map(|(_, alg)| *alg).collect();
    };
    if names.is_empty() {
        problems.push(ConfigProblem::new(key, "must list at least one algorithm"));
    }
    let mut algs = Vec::new();
    for name in names {
        // Case-sensitive: "none", "None" and "es256" never match.
        match SUPPORTED_ALGS.iter().find(|(n, _)| n == name) {
            Some((_, alg)) => algs.push(*alg),
            None => {
                let why = if name.eq_ignore_ascii_case("none") {
                    "is never accepted: assertions must be signed".to_string()
                } else if name.to_ascii_uppercase().starts_with("HS") {
                    "is refused: an HMAC algorithm would accept assertions keyed with the \
                     public key; use format = \"hmac\" for shared secrets"
                        .to_string()
                } else {
                    "is not supported".to_string()
                };
                problems.push(ConfigProblem::new(
                    key,
                    format!("{name:?} {why}; choose among ES256, EdDSA, RS256"),
                ));
            }
        }
    }
    algs
}

#[cfg(test)]
mod tests;
