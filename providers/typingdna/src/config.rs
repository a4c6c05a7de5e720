//! `[providers.<id>]` keys of a `typingdna` provider, and their validation.

use idp_provider_api::url_rule::secure_url;
use idp_provider_api::{ConfigProblem, OpenError, Secret};
use serde::Deserialize;
use url::Url;

/// What a request must prove besides the typing pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The user is already signed in: the body carries an Appwrite account JWT (`{"jwt","tp"}`).
    /// Enrollment happens here.
    StepUp,
    /// The typing pattern is the proof: the body names the user by email (`{"email","tp"}`).
    /// Never enrolls.
    Login,
}

/// Configuration of a `typingdna` provider. Unknown keys are refused so that a typo never
/// silently weakens a check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `step_up` or `login`; required, since the two prove very different things.
    pub mode: Mode,
    /// The Authentication API base URL (`https://api.typingdna.com`, or the `eu-`/`us-` hosts).
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The TypingDNA API key (HTTP Basic user name).
    pub api_key: Option<String>,
    /// The TypingDNA API secret (HTTP Basic password), or `api_secret_file`.
    pub api_secret: Option<Secret<String>>,
    /// The HMAC key that turns an Appwrite user id into the id TypingDNA sees (or
    /// `id_salt_file`). Changing it orphans every enrolled profile.
    pub id_salt: Option<Secret<String>>,
    /// Mint only when TypingDNA also answers `high_confidence = 1`. Default: true in `login`
    /// mode, false in `step_up` mode.
    pub require_high_confidence: Option<bool>,
    /// Timeout of each call to TypingDNA, in milliseconds (100..=30000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Longest `tp` accepted, in bytes (256..=65536).
    #[serde(default = "default_max_pattern_bytes")]
    pub max_pattern_bytes: usize,
    /// How long a used typing pattern is remembered and refused, in seconds (60..=86400: the
    /// gateway's replay cache keeps entries for at most a day).
    #[serde(default = "default_pattern_reuse")]
    pub pattern_reuse_seconds: u64,
    /// Attempts per user (email in `login`, Appwrite user in `step_up`) per minute (1..=1000).
    #[serde(default = "default_per_user")]
    pub per_user_per_minute: u32,
    /// Attempts per client IP (IPv6: per /64) per minute (1..=100000).
    #[serde(default = "default_per_ip")]
    pub per_ip_per_minute: u32,
}

fn default_api_url() -> String {
    "https://api.typingdna.com".to_string()
}
fn default_timeout() -> u64 {
    5000
}
fn default_max_pattern_bytes() -> usize {
    16_384
}
fn default_pattern_reuse() -> u64 {
    86_400
}
fn default_per_user() -> u32 {
    5
}
fn default_per_ip() -> u32 {
    30
}

/// Shortest `id_salt`, in bytes: it is an HMAC key, not a label.
pub const MIN_SALT_BYTES: usize = 16;

/// A validated configuration.
#[derive(Debug)]
pub(crate) struct Checked {
    pub api_url: Url,
    pub api_key: String,
    pub api_secret: Secret<String>,
    pub id_salt: Secret<String>,
    pub require_high_confidence: bool,
}

impl Config {
    /// Checks every key and returns all problems at once, each naming `providers.<id>.<key>`.
    pub(crate) fn check(&self, id: &str) -> Result<Checked, OpenError> {
        let key = |k: &str| format!("providers.{id}.{k}");
        let mut problems = Vec::new();
        let api_url = match secure_url(&self.api_url, false) {
            Ok(url) => Some(url),
            Err(e) => {
                problems.push(ConfigProblem::new(
                    key("api_url"),
                    format!("{:?} {e}", self.api_url),
                ));
                None
            }
        };
        let api_key = match &self.api_key {
            Some(k) if !k.trim().is_empty() && !k.contains(':') => Some(k.clone()),
            Some(_) => {
                problems.push(ConfigProblem::new(
                    key("api_key"),
                    "must be a non-empty string without ':' (it is the HTTP Basic user name)",
                ));
                None
            }
            None => {
                problems.push(ConfigProblem::new(key("api_key"), "is required"));
                None
            }
        };
        let api_secret = required_secret(&self.api_secret, &key("api_secret"), 1, &mut problems);
        let id_salt = required_secret(
            &self.id_salt,
            &key("id_salt"),
            MIN_SALT_BYTES,
            &mut problems,
        );
        let ranges: [(&str, u64, u64, u64); 5] = [
            ("timeout_ms", self.timeout_ms, 100, 30_000),
            (
                "max_pattern_bytes",
                self.max_pattern_bytes as u64,
                256,
                65_536,
            ),
            (
                "pattern_reuse_seconds",
                self.pattern_reuse_seconds,
                60,
                86_400,
            ),
            (
                "per_user_per_minute",
                u64::from(self.per_user_per_minute),
                1,
                1000,
            ),
            (
                "per_ip_per_minute",
                u64::from(self.per_ip_per_minute),
                1,
                100_000,
            ),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                problems.push(ConfigProblem::new(
                    key(name),
                    format!("{value} is outside {min}..={max}"),
                ));
            }
        }
        let require_high_confidence = self
            .require_high_confidence
            .unwrap_or(self.mode == Mode::Login);
        match (api_url, api_key, api_secret, id_salt) {
            (Some(api_url), Some(api_key), Some(api_secret), Some(id_salt))
                if problems.is_empty() =>
            {
                Ok(Checked {
                    api_url,
                    api_key,
                    api_secret,
                    id_salt,
                    require_high_confidence,
                })
            }
            _ => Err(OpenError { problems }),
        }
    }
}

/// A secret key that must be present and at least `min` bytes long; the value is never shown.
fn required_secret(
    value: &Option<Secret<String>>,
    key: &str,
    min: usize,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Secret<String>> {
    match value {
        None => {
            // The hint names the sibling key (`api_secret_file`), not the whole path again.
            let name = key.rsplit('.').next().unwrap_or(key);
            problems.push(ConfigProblem::new(
                key,
                format!("is required (or {name}_file)"),
            ));
            None
        }
        Some(secret) if secret.expose().trim().len() < min => {
            problems.push(ConfigProblem::new(
                key,
                format!(
                    "is {} bytes without surrounding whitespace; at least {min} are required",
                    secret.expose().trim().len()
                ),
            ));
            None
        }
        Some(secret) => Some(secret.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: serde_json::Value) -> Config {
        serde_json::from_value(value).expect("parses")
    }

    fn base() -> serde_json::Value {
        json!({
            "mode": "login",
            "api_key": "key",
            "api_secret": "the-api-secret",
            "id_salt": "0123456789abcdef0123",
        })
    }

    #[test]
    fn defaults_fit_the_contract() {
        let checked = parse(base()).check("td").expect("valid");
        assert_eq!(checked.api_url.as_str(), "https://api.typingdna.com/");
        assert!(
            checked.require_high_confidence,
            "login requires high confidence"
        );
        let mut step_up = base();
        step_up["mode"] = json!("step_up");
        assert!(
            !parse(step_up)
                .check("td")
                .expect("valid")
                .require_high_confidence
        );
    }

    #[test]
    fn every_problem_names_its_key_and_never_the_secret() {
        let config = parse(json!({
            "mode": "step_up",
            "api_url": "http://api.example.com",
            "api_key": "",
            "id_salt": "short-salt-value",
            "timeout_ms": 5,
            "per_ip_per_minute": 0,
        }));
        let err = config.check("td").expect_err("refused");
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "providers.td.api_url",
                "providers.td.api_key",
                "providers.td.api_secret",
                "providers.td.timeout_ms",
                "providers.td.per_ip_per_minute",
            ]
        );
        assert_eq!(
            err.problems[2].reason, "is required (or api_secret_file)",
            "the hint names the sibling key"
        );
        let mut short = base();
        short["id_salt"] = json!("too-short");
        let err = parse(short).check("td").expect_err("refused").to_string();
        assert!(
            err.contains("providers.td.id_salt: is 9 bytes without surrounding whitespace")
                && !err.contains("too-short"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_modes_are_refused() {
        let mut typo = base();
        typo["require_high_confidance"] = json!(true);
        let err = serde_json::from_value::<Config>(typo).expect_err("refused");
        assert!(err.to_string().contains("require_high_confidance"), "{err}");
        let mut mode = base();
        mode["mode"] = json!("passwordless");
        assert!(serde_json::from_value::<Config>(mode).is_err());
    }
}
