//! The policy keys of a `[providers.<id>]` table: taken out of it (the provider crate gets the
//! rest and refuses keys it does not know) and checked, each problem naming its key and why.

use idp_provider_api::ConfigProblem;
use serde_json::{Map, Value};

use super::{ClaimValue, OnEmailConflict, ProviderPolicy, RequiredClaim};
use crate::appwrite::{LABELS_MAX, is_valid_label};
use crate::login::user_id::{OWNER_LABEL, is_gateway_label};

/// Largest `max_age_seconds`: one year.
const MAX_AGE_LIMIT: u64 = 31_536_000;
/// Longest claim name in `required_claims` and `label_claims`.
const CLAIM_NAME_MAX: usize = 256;

/// The table being read, and the problems found so far.
struct Keys<'a> {
    id: &'a str,
    table: &'a mut Map<String, Value>,
    problems: &'a mut Vec<ConfigProblem>,
}

impl Keys<'_> {
    fn problem(&mut self, key: &str, reason: impl Into<String>) {
        self.problems.push(ConfigProblem::new(
            format!("providers.{}.{key}", self.id),
            reason,
        ));
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.table.remove(name) {
            None => false,
            Some(Value::Bool(value)) => value,
            Some(other) => {
                self.problem(name, format!("must be true or false, found {other}"));
                false
            }
        }
    }

    /// An array of strings, each checked by `check` (which says why one is refused).
    fn strings(
        &mut self,
        name: &str,
        what: &str,
        check: impl Fn(&str) -> Result<String, String>,
    ) -> Vec<String> {
        let items = match self.table.remove(name) {
            None => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.problem(name, format!("must be an array of {what}, found {other}"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let checked = match item {
                Value::String(text) => check(text).map_err(|why| format!("{text:?} {why}")),
                other => Err(format!("must be a string, found {other}")),
            };
            match checked {
                Ok(value) if !out.contains(&value) => out.push(value),
                Ok(_) => {}
                Err(why) => self.problem(name, format!("entry {index}: {why}")),
            }
        }
        out
    }

    fn max_age(&mut self) -> Option<u64> {
        const NAME: &str = "max_age_seconds";
        match self.table.remove(NAME) {
            None => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|s| s <= MAX_AGE_LIMIT) => n.as_u64(),
            Some(other) => {
                self.problem(
                    NAME,
                    format!(
                        "must be a whole number of seconds from 0 to {MAX_AGE_LIMIT}, found {other}"
                    ),
                );
                None
            }
        }
    }

    fn on_email_conflict(&mut self) -> OnEmailConflict {
        const NAME: &str = "on_email_conflict";
        match self.table.remove(NAME) {
            None => OnEmailConflict::Fail,
            Some(Value::String(v)) if v == "fail" => OnEmailConflict::Fail,
            Some(Value::String(v)) if v == "create_without_email" => {
                OnEmailConflict::CreateWithoutEmail
            }
            Some(other) => {
                self.problem(
                    NAME,
                    format!("must be \"fail\" or \"create_without_email\", found {other}"),
                );
                OnEmailConflict::Fail
            }
        }
    }

    fn required_claims(&mut self) -> Vec<RequiredClaim> {
        const NAME: &str = "required_claims";
        let table = match self.table.remove(NAME) {
            None => return Vec::new(),
            Some(Value::Object(table)) => table,
            Some(other) => {
                self.problem(
                    NAME,
                    format!("must be a table of claim = [values], found {other}"),
                );
                return Vec::new();
            }
        };
        let mut rules = Vec::new();
        for (claim, listed) in table {
            let key = format!("{NAME}.{claim:?}");
            if let Err(why) = claim_name(&claim) {
                self.problem(&key, format!("the claim name {why}"));
                continue;
            }
            let values = match listed {
                Value::Array(values) if !values.is_empty() => values,
                Value::Array(_) => {
                    self.problem(
                        &key,
                        "an empty list admits nobody; list the allowed values or remove the claim",
                    );
                    continue;
                }
                other => {
                    self.problem(
                        &key,
                        format!("must be an array of strings or booleans, found {other}"),
                    );
                    continue;
                }
            };
            let mut allowed = Vec::new();
            for (index, value) in values.into_iter().enumerate() {
                match value {
                    Value::String(text) if !text.is_empty() => allowed.push(ClaimValue::Text(text)),
                    Value::String(_) => {
                        self.problem(&key, format!("entry {index} is an empty string"))
                    }
                    Value::Bool(flag) => allowed.push(ClaimValue::Bool(flag)),
                    other => self.problem(
                        &key,
                        format!("entry {index} must be a string or a boolean, found {other}"),
                    ),
                }
            }
            rules.push(RequiredClaim::new(claim, allowed));
        }
        rules
    }
}

/// A claim name: 1..=256 characters without control characters.
fn claim_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        Err("is empty".into())
    } else if name.chars().count() > CLAIM_NAME_MAX {
        Err(format!("is longer than {CLAIM_NAME_MAX} characters"))
    } else if name.chars().any(char::is_control) {
        Err("contains control characters".into())
    } else {
        Ok(name.to_string())
    }
}

/// An `email_domains` entry, normalised as verified emails are (IDNA, lowercase ASCII).
fn email_domain(domain: &str) -> Result<String, String> {
    if domain.is_empty() {
        return Err("is empty".into());
    }
    if domain.starts_with('@') {
        return Err("starts with @: write the domain alone".into());
    }
    if domain.contains('*') {
        return Err("has a wildcard: list every domain (subdomains never match)".into());
    }
    if domain.ends_with('.') || domain.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a domain name (trailing dot or whitespace)".into());
    }
    let ascii = idna::domain_to_ascii_strict(domain)
        .map_err(|_| "is not a valid domain name".to_string())?
        .to_ascii_lowercase();
    if ascii.contains('.') {
        Ok(ascii)
    } else {
        Err("has no dot; no verified email has such a domain".into())
    }
}

/// A static label: Appwrite's rule, and not one of the gateway's own.
fn static_label(label: &str) -> Result<String, String> {
    if !is_valid_label(label) {
        Err("is not a valid Appwrite label: 1 to 36 ASCII letters or digits".into())
    } else if is_gateway_label(label) {
        Err(format!(
            "is reserved for the gateway ({OWNER_LABEL:?}, or `l` + 35 base32 characters, which record email links)"
        ))
    } else {
        Ok(label.to_string())
    }
}

impl ProviderPolicy {
    /// The keys of a provider table that the policy reads.
    pub const KEYS: &'static [&'static str] = &[
        "trusted_for_email",
        "link_by_email",
        "on_email_conflict",
        "require_email_verified",
        "email_domains",
        "required_claims",
        "max_age_seconds",
        "labels",
        "label_claims",
    ];

    /// Takes the policy keys out of a provider table, reporting bad values.
    pub fn take_from(
        id: &str,
        table: &mut Map<String, Value>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut keys = Keys {
            id,
            table,
            problems,
        };
        let policy = Self {
            trusted_for_email: keys.flag("trusted_for_email"),
            link_by_email: keys.flag("link_by_email"),
            on_email_conflict: keys.on_email_conflict(),
            require_email_verified: keys.flag("require_email_verified"),
            email_domains: keys.strings("email_domains", "domain names", email_domain),
            required_claims: keys.required_claims(),
            max_age_seconds: keys.max_age(),
            labels: keys.strings("labels", "Appwrite labels", static_label),
            label_claims: keys.strings("label_claims", "claim names", claim_name),
        };
        if policy.link_by_email && !policy.trusted_for_email {
            keys.problem(
                "link_by_email",
                "requires trusted_for_email = true: linking by email trusts the provider's email_verified",
            );
        }
        if policy.labels.len() >= LABELS_MAX {
            keys.problem(
                "labels",
                format!("at most {} labels (Appwrite keeps {LABELS_MAX} per user, and the gateway needs one)", LABELS_MAX - 1),
            );
        }
        policy
    }
}

#[cfg(test)]
mod tests;
