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
mod tests {
    use serde_json::json;

    use super::*;

    fn take(table: Value) -> (ProviderPolicy, Vec<String>, Map<String, Value>) {
        let mut table = table.as_object().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        let policy = ProviderPolicy::take_from("corp", &mut table, &mut problems);
        (
            policy,
            problems.iter().map(ToString::to_string).collect(),
            table,
        )
    }

    #[track_caller]
    fn refused(table: Value, key: &str, reason: &str) {
        let (_, problems, _) = take(table);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("providers.corp.{key}: ")) && p.contains(reason)),
            "expected `providers.corp.{key}: ...{reason}...`, got {problems:#?}"
        );
    }

    #[test]
    fn keys_lists_every_key_take_from_reads() {
        let mut table: Map<String, Value> = ProviderPolicy::KEYS
            .iter()
            .map(|k| ((*k).to_string(), Value::Null))
            .collect();
        let mut problems = Vec::new();
        ProviderPolicy::take_from("corp", &mut table, &mut problems);
        assert!(
            table.is_empty(),
            "KEYS names a key take_from leaves: {table:?}"
        );
        let (_, _, rest) = take(json!({"trusted_for_email": true, "other": 1}));
        assert_eq!(rest.keys().collect::<Vec<_>>(), ["other"]);
    }

    #[test]
    fn every_key_is_read_normalised_and_taken_out() {
        let (policy, problems, rest) = take(json!({
            "issuer": "https://idp",
            "email_domains": ["Example.COM", "bücher.example", "example.com"],
            "require_email_verified": true,
            "required_claims": {"groups": ["staff", true], "https://example.com/roles": ["admin"]},
            "max_age_seconds": 600,
            "labels": ["staff", "Team42"],
            "label_claims": ["https://example.com/roles"],
            "on_email_conflict": "create_without_email",
        }));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            rest.keys().collect::<Vec<_>>(),
            ["issuer"],
            "the provider's keys stay"
        );
        assert_eq!(
            policy.email_domains,
            ["example.com", "xn--bcher-kva.example"]
        );
        assert!(policy.require_email_verified);
        assert_eq!(
            policy.required_claims,
            [
                RequiredClaim::new(
                    "groups",
                    vec![ClaimValue::Text("staff".into()), ClaimValue::Bool(true)]
                ),
                RequiredClaim::new(
                    "https://example.com/roles",
                    vec![ClaimValue::Text("admin".into())]
                ),
            ]
        );
        assert_eq!(policy.max_age_seconds, Some(600));
        assert_eq!(policy.labels, ["staff", "Team42"]);
        assert_eq!(policy.label_claims, ["https://example.com/roles"]);
        assert_eq!(
            policy.on_email_conflict,
            OnEmailConflict::CreateWithoutEmail
        );
        assert!(policy.owns_labels());
    }

    #[test]
    fn defaults_are_off() {
        let (policy, problems, _) = take(json!({}));
        assert!(problems.is_empty());
        assert_eq!(policy, ProviderPolicy::default());
        assert_eq!(policy.on_email_conflict, OnEmailConflict::Fail);
        assert!(!policy.owns_labels());
    }

    #[test]
    fn bad_values_name_their_key_and_why() {
        refused(
            json!({"email_domains": "example.com"}),
            "email_domains",
            "must be an array",
        );
        refused(
            json!({"email_domains": [""]}),
            "email_domains",
            "entry 0: \"\" is empty",
        );
        refused(
            json!({"email_domains": [3]}),
            "email_domains",
            "entry 0: must be a string",
        );
        refused(
            json!({"email_domains": ["@example.com"]}),
            "email_domains",
            "write the domain alone",
        );
        refused(
            json!({"email_domains": ["*.example.com"]}),
            "email_domains",
            "wildcard",
        );
        refused(
            json!({"email_domains": ["example.com."]}),
            "email_domains",
            "trailing dot",
        );
        refused(
            json!({"email_domains": ["exa mple.com"]}),
            "email_domains",
            "whitespace",
        );
        refused(
            json!({"email_domains": ["localhost"]}),
            "email_domains",
            "has no dot",
        );
        refused(
            json!({"email_domains": ["exa_mple.com"]}),
            "email_domains",
            "not a valid domain",
        );
        refused(
            json!({"require_email_verified": "yes"}),
            "require_email_verified",
            "true or false",
        );
        refused(
            json!({"max_age_seconds": -1}),
            "max_age_seconds",
            "whole number",
        );
        refused(
            json!({"max_age_seconds": 1.5}),
            "max_age_seconds",
            "whole number",
        );
        refused(
            json!({"max_age_seconds": "300"}),
            "max_age_seconds",
            "whole number",
        );
        refused(
            json!({"max_age_seconds": 31_536_001}),
            "max_age_seconds",
            "from 0 to 31536000",
        );
        refused(
            json!({"on_email_conflict": "link"}),
            "on_email_conflict",
            "\"fail\" or \"create_without_email\"",
        );
        refused(
            json!({"on_email_conflict": true}),
            "on_email_conflict",
            "\"fail\" or",
        );
        refused(
            json!({"labels": "staff"}),
            "labels",
            "must be an array of Appwrite labels",
        );
        refused(
            json!({"labels": ["read-only"]}),
            "labels",
            "\"read-only\" is not a valid Appwrite label",
        );
        refused(
            json!({"labels": [""]}),
            "labels",
            "not a valid Appwrite label",
        );
        refused(
            json!({"labels": ["x".repeat(37)]}),
            "labels",
            "not a valid Appwrite label",
        );
        refused(
            json!({"labels": ["idpbridge"]}),
            "labels",
            "reserved for the gateway",
        );
        refused(
            json!({"labels": [format!("l{}", "a".repeat(35))]}),
            "labels",
            "reserved for the gateway",
        );
        refused(
            json!({"label_claims": [""]}),
            "label_claims",
            "entry 0: \"\" is empty",
        );
        refused(
            json!({"label_claims": [true]}),
            "label_claims",
            "must be a string",
        );
        refused(
            json!({"required_claims": ["groups"]}),
            "required_claims",
            "must be a table",
        );
        refused(
            json!({"required_claims": {"groups": "staff"}}),
            "required_claims.\"groups\"",
            "must be an array of strings or booleans",
        );
        refused(
            json!({"required_claims": {"groups": []}}),
            "required_claims.\"groups\"",
            "admits nobody",
        );
        refused(
            json!({"required_claims": {"groups": [""]}}),
            "required_claims.\"groups\"",
            "entry 0 is an empty string",
        );
        refused(
            json!({"required_claims": {"groups": [1]}}),
            "required_claims.\"groups\"",
            "entry 0 must be a string or a boolean, found 1",
        );
        refused(
            json!({"required_claims": {"": ["x"]}}),
            "required_claims.\"\"",
            "the claim name is empty",
        );
    }

    #[test]
    fn too_many_static_labels_are_refused() {
        let labels: Vec<String> = (0..LABELS_MAX).map(|i| format!("x{i}")).collect();
        refused(json!({"labels": labels}), "labels", "at most 999 labels");
        let labels: Vec<String> = (0..LABELS_MAX - 1).map(|i| format!("x{i}")).collect();
        assert!(take(json!({"labels": labels})).1.is_empty());
    }
}
