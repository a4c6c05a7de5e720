//! The provider registry: one line per provider crate, mapping a `type` to its `open` function.
//! Adding a provider is one crate plus one line in [`PROVIDERS`]. A program that embeds the
//! gateway can also add its own types at run time with [`Registry::with_type`] and load its
//! configuration with `Config::from_toml_with` / `Config::load_with`, without touching `src/`
//! (`providers/README.md` shows how).

use std::sync::Arc;

use idp_provider_api::{ConfigProblem, OpenContext, OpenError, Provider, ProviderInfo};
use serde_json::{Map, Value};

use crate::login::policy::{ConfiguredProvider, ProviderPolicy};

/// Opens a provider from its `[providers.<id>]` table (minus the keys the gateway owns) and the
/// settings shared by every provider (the outbound TLS roots).
pub type OpenFn = fn(ProviderInfo, Value, &OpenContext) -> Result<Arc<dyn Provider>, OpenError>;

/// The keys a provider type's table takes besides the gateway's own (`type`, `display_name` and
/// the policy keys): its config struct's fields.
pub type KeysFn = fn() -> Vec<&'static str>;

/// A provider type: its `type` name, its `open`, the keys of its table (for "unknown key; did
/// you mean" in check-config; `None` leaves unknown keys to the provider's own check), and which
/// of them hold secrets.
#[derive(Clone, Copy)]
pub struct ProviderType {
    /// The `type` value.
    pub kind: &'static str,
    /// Opens a table of this type.
    pub open: OpenFn,
    /// The keys its table takes.
    pub keys: Option<KeysFn>,
    /// The keys of its table that may be given as `<key>_file` (the file's text, trailing
    /// newline trimmed, becomes the value): its secrets. The gateway reads those files before
    /// `open` sees the table.
    pub secret_keys: &'static [&'static str],
}

/// Every provider type this build knows: one line per provider crate.
pub const PROVIDERS: &[ProviderType] = &[
    ProviderType {
        kind: idp_provider_oidc::KIND,
        open: idp_provider_oidc::open,
        keys: Some(idp_provider_oidc::keys),
        secret_keys: idp_provider_oidc::SECRET_KEYS,
    },
    ProviderType {
        kind: idp_provider_auth0::KIND,
        open: idp_provider_auth0::open,
        keys: Some(idp_provider_auth0::keys),
        secret_keys: idp_provider_auth0::SECRET_KEYS,
    },
    ProviderType {
        kind: idp_provider_google::KIND,
        open: idp_provider_google::open,
        keys: Some(idp_provider_google::keys),
        secret_keys: idp_provider_google::SECRET_KEYS,
    },
    ProviderType {
        kind: idp_provider_entra::KIND,
        open: idp_provider_entra::open,
        keys: Some(idp_provider_entra::keys),
        secret_keys: idp_provider_entra::SECRET_KEYS,
    },
    ProviderType {
        kind: idp_provider_signed_assertion::KIND,
        open: idp_provider_signed_assertion::open,
        keys: Some(idp_provider_signed_assertion::keys),
        secret_keys: idp_provider_signed_assertion::SECRET_KEYS,
    },
    ProviderType {
        kind: idp_provider_typingdna::KIND,
        open: idp_provider_typingdna::open,
        keys: Some(idp_provider_typingdna::keys),
        secret_keys: idp_provider_typingdna::SECRET_KEYS,
    },
];

/// The provider types a configuration may use: [`PROVIDERS`], plus any an embedding program
/// adds.
#[derive(Clone)]
pub struct Registry {
    types: Vec<ProviderType>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.types.iter().map(|t| t.kind))
            .finish()
    }
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
    /// The built-in types plus `kind`, opened by `open`, with no secret keys and its unknown
    /// keys left to `open` (a `<key>_file` key too reaches `open` as it is, unread: declare
    /// secrets with [`Registry::with_type`]). A `kind` that is already known
    /// is replaced, so a program can also swap a built-in type for its own.
    #[must_use]
    pub fn with(self, kind: &'static str, open: OpenFn) -> Self {
        self.with_type(ProviderType {
            kind,
            open,
            keys: None,
            secret_keys: &[],
        })
    }

    /// The built-in types plus `provider`: its keys (for "unknown key; did you mean") and its
    /// secret keys (which may then be given as `<key>_file`). A type that is already known is
    /// replaced.
    #[must_use]
    pub fn with_type(mut self, provider: ProviderType) -> Self {
        self.types.retain(|t| t.kind != provider.kind);
        self.types.push(provider);
        self
    }

    /// The keys of a `kind` table that may be given as `<key>_file`; none for an unknown type.
    pub fn secret_keys(&self, kind: &str) -> &'static [&'static str] {
        self.find(kind).map_or(&[], |t| t.secret_keys)
    }

    fn find(&self, kind: &str) -> Option<ProviderType> {
        self.types.iter().copied().find(|t| t.kind == kind)
    }

    fn known(&self) -> String {
        self.types
            .iter()
            .map(|t| format!("{:?}", t.kind))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The keys of every provider table that the gateway itself reads.
const GATEWAY_KEYS: &[&str] = &["type", "display_name"];

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
    // A key both the policy and the provider read (`max_age_seconds` of an assertion
    // provider, which bounds its own time window with it) stays in the provider's table too.
    let provider_keys = kind
        .as_deref()
        .and_then(|k| registry.find(k))
        .and_then(|t| t.keys)
        .map(|keys| keys())
        .unwrap_or_default();
    let shared: Vec<(String, Value)> = ProviderPolicy::KEYS
        .iter()
        .filter(|k| provider_keys.contains(k))
        .filter_map(|k| table.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect();
    let policy = ProviderPolicy::take_from(id, &mut table, &mut problems);
    table.extend(shared);
    let Some(kind) = kind else {
        return Err(problems);
    };
    let Some(ProviderType {
        kind,
        open,
        keys,
        secret_keys,
    }) = registry.find(&kind)
    else {
        problems.push(ConfigProblem::new(
            key("type"),
            format!(
                "unknown provider type {kind:?}; known types: {}",
                registry.known()
            ),
        ));
        return Err(problems);
    };
    if let Some(keys) = keys {
        let known: Vec<&str> = GATEWAY_KEYS
            .iter()
            .chain(ProviderPolicy::KEYS)
            .copied()
            .chain(keys())
            .collect();
        crate::key_names::take_unknown(
            &mut table,
            &known,
            secret_keys,
            &format!("providers.{id}."),
            &format!("[providers.{id}] (type {kind:?})"),
            &mut problems,
        );
    }
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
