//! The provider registry: one line per provider crate, mapping a `type` to its `open` function.
//! Adding a provider is one crate plus one line in [`PROVIDERS`]. A program that embeds the
//! gateway can also add its own types at run time with [`Registry::with`] and load its
//! configuration with `Config::from_toml_with` / `Config::load_with`, without touching `src/`
//! (`providers/README.md` shows how).

use std::sync::Arc;

use idp_provider_api::{ConfigProblem, OpenContext, OpenError, Provider, ProviderInfo};
use serde_json::{Map, Value};

use crate::login::policy::{ConfiguredProvider, ProviderPolicy};

/// Opens a provider from its `[providers.<id>]` table (minus the keys the gateway owns) and the
/// settings shared by every provider (the outbound TLS roots).
pub type OpenFn = fn(ProviderInfo, Value, &OpenContext) -> Result<Arc<dyn Provider>, OpenError>;

/// Every provider type this build knows.
pub const PROVIDERS: &[(&str, OpenFn)] = &[
    (idp_provider_oidc::KIND, idp_provider_oidc::open),
    (idp_provider_typingdna::KIND, idp_provider_typingdna::open),
];

/// The provider types a configuration may use: [`PROVIDERS`], plus any an embedding program
/// adds.
#[derive(Clone)]
pub struct Registry {
    types: Vec<(&'static str, OpenFn)>,
}

impl Default for Registry {
    /// The built-in types ([`PROVIDERS`]).
    fn default() -> Self {
        Self {
            types: PROVIDERS.to_vec(),
        }
    }
}

impl Registry {
    /// The built-in types plus `kind`, opened by `open`. A `kind` that is already known is
    /// replaced, so a program can also swap a built-in type for its own.
    #[must_use]
    pub fn with(mut self, kind: &'static str, open: OpenFn) -> Self {
        self.types.retain(|(k, _)| *k != kind);
        self.types.push((kind, open));
        self
    }

    fn find(&self, kind: &str) -> Option<(&'static str, OpenFn)> {
        self.types.iter().copied().find(|(k, _)| *k == kind)
    }

    fn known(&self) -> String {
        self.types
            .iter()
            .map(|(k, _)| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Longest display name (it is shown on login buttons).
const MAX_DISPLAY_NAME: usize = 64;

/// Longest provider id (it appears in URLs and cookie names).
const MAX_ID_LEN: usize = 32;

/// Opens `[providers.<id>]`: checks the id, takes `type` and `display_name` (the gateway's
/// keys), and hands the rest to the provider's `open`.
///
/// # Errors
/// Every problem found, each naming its key.
pub fn open(
    registry: &Registry,
    id: &str,
    mut table: Map<String, Value>,
    context: &OpenContext,
) -> Result<ConfiguredProvider, Vec<ConfigProblem>> {
    let key = |k: &str| format!("providers.{id}.{k}");
    let mut problems = Vec::new();
    let id_ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && id.as_bytes()[0].is_ascii_alphanumeric();
    if !id_ok {
        problems.push(ConfigProblem::new(
            format!("providers.{id}"),
            format!("the provider id must be 1..={MAX_ID_LEN} of [a-z0-9_-], starting with a letter or digit"),
        ));
    }
    let kind = match table.remove("type") {
        Some(Value::String(kind)) => Some(kind),
        Some(other) => {
            problems.push(ConfigProblem::new(
                key("type"),
                format!("must be a string, found {other}"),
            ));
            None
        }
        None => {
            problems.push(ConfigProblem::new(
                key("type"),
                format!("is required; known types: {}", registry.known()),
            ));
            None
        }
    };
    let display_name = match table.remove("display_name") {
        None => id.to_string(),
        Some(Value::String(name))
            if !name.trim().is_empty()
                && name.chars().count() <= MAX_DISPLAY_NAME
                && !name.chars().any(char::is_control) =>
        {
            name
        }
        Some(_) => {
            problems.push(ConfigProblem::new(
                key("display_name"),
                format!("must be a string of 1..={MAX_DISPLAY_NAME} characters without control characters"),
            ));
            id.to_string()
        }
    };
    let policy = ProviderPolicy::take_from(id, &mut table, &mut problems);
    let Some(kind) = kind else {
        return Err(problems);
    };
    let Some((kind, open)) = registry.find(&kind) else {
        problems.push(ConfigProblem::new(
            key("type"),
            format!(
                "unknown provider type {kind:?}; known types: {}",
                registry.known()
            ),
        ));
        return Err(problems);
    };
    let info = ProviderInfo {
        id: id.to_string(),
        kind,
        display_name,
    };
    match open(info, Value::Object(table), context) {
        Ok(provider) if problems.is_empty() => Ok(ConfiguredProvider { provider, policy }),
        Ok(_) => Err(problems),
        Err(e) => {
            problems.extend(e.problems);
            Err(problems)
        }
    }
}
