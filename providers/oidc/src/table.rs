//! A `[providers.<id>]` table as a provider crate built on this one reads it: its own keys are
//! taken out and checked, the issuer is derived, and the rest goes to the `oidc` type's
//! [`Config`](crate::Config), whose unknown-key refusal then covers the whole table.

use idp_provider_api::{ConfigProblem, OpenError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The keys of a table of a type built on `oidc`: the fields of the type's own keys struct `T`
/// (what [`Table::take`] takes out), then every `oidc` key except the `derived` ones the type
/// sets itself (such as `issuer`). For check-config's key lists, so that they name exactly what
/// the table takes.
pub fn keys_with<T: DeserializeOwned>(derived: &[&str]) -> Vec<&'static str> {
    serde_aux::serde_introspection::serde_introspect::<T>()
        .iter()
        .copied()
        .chain(crate::keys().into_iter().filter(|k| !derived.contains(k)))
        .collect()
}

/// A provider table being split between a provider crate and the `oidc` type.
#[derive(Debug)]
pub struct Table {
    id: String,
    map: Map<String, Value>,
}

impl Table {
    /// The table of provider `id`.
    ///
    /// # Errors
    /// When `value` is not a table.
    pub fn new(id: &str, value: Value) -> Result<Self, OpenError> {
        match value {
            Value::Object(map) => Ok(Self {
                id: id.to_string(),
                map,
            }),
            _ => Err(OpenError {
                problems: vec![ConfigProblem::new(
                    format!("providers.{id}"),
                    "must be a table",
                )],
            }),
        }
    }

    /// `providers.<id>.<key>`.
    pub fn key(&self, key: &str) -> String {
        format!("providers.{}.{key}", self.id)
    }

    /// Takes the fields of `T` out of the table and deserializes them into `T` (whose absent
    /// keys take their serde defaults); an error names `providers.<id>.<key>`.
    ///
    /// # Errors
    /// The first key that does not deserialize.
    pub fn take<T: DeserializeOwned>(&mut self) -> Result<T, OpenError> {
        let own: Map<String, Value> = serde_aux::serde_introspection::serde_introspect::<T>()
            .iter()
            .filter_map(|k| self.map.remove(*k).map(|v| ((*k).to_string(), v)))
            .collect();
        OpenError::deserialize(&self.id, Value::Object(own))
    }

    /// A problem when the table sets `key`, which this type derives itself (`why`).
    pub fn derived(&self, key: &str, why: &str) -> Option<ConfigProblem> {
        self.map
            .contains_key(key)
            .then(|| ConfigProblem::new(self.key(key), format!("is not a key of this type: {why}")))
    }

    /// The boolean `key` of the `oidc` keys left in the table (false when absent or not a
    /// boolean; the `oidc` type reports a wrong type itself).
    pub fn flag(&self, key: &str) -> bool {
        self.map.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// Sets `key` unless the table already has it.
    pub fn set_default(&mut self, key: &str, value: Value) {
        self.map.entry(key.to_string()).or_insert(value);
    }

    /// Sets `key`, which the table must not have (see [`Table::derived`]).
    pub fn set(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_string(), value);
    }

    /// The rest, an `oidc` table.
    pub fn into_value(self) -> Value {
        Value::Object(self.map)
    }
}

/// `error` with problems about `providers.<id>.<from>` renamed to `<to>`: the `oidc` type's
/// complaint about a derived `issuer` names the key the operator wrote (`domain`, `tenant`).
pub fn rename_key(mut error: OpenError, id: &str, from: &str, to: &str) -> OpenError {
    let from = format!("providers.{id}.{from}");
    for problem in &mut error.problems {
        if problem.key == from {
            problem.key = format!("providers.{id}.{to}");
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Own {
        domain: String,
        #[serde(default)]
        require_mfa: bool,
    }

    #[test]
    fn own_keys_are_taken_and_errors_name_them() {
        let mut t =
            Table::new("a0", json!({"domain": "t.auth0.com", "client_id": "c"})).expect("table");
        let own: Own = t.take().expect("own keys");
        assert_eq!(own.domain, "t.auth0.com");
        assert!(!own.require_mfa);
        assert_eq!(t.into_value(), json!({"client_id": "c"}));

        let mut t = Table::new("a0", json!({"domain": "t", "require_mfa": "yes"})).expect("table");
        let err = t.take::<Own>().expect_err("bad type");
        assert_eq!(err.problems[0].key, "providers.a0.require_mfa");

        let mut t = Table::new("a0", json!({})).expect("table");
        let err = t.take::<Own>().expect_err("missing");
        assert!(err.to_string().contains("domain"), "{err}");
        assert!(t.derived("issuer", "x").is_none());
    }
}
