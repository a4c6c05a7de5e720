//! Where the configuration's values come from: the file (read by figment, or already read),
//! the `IDP_BRIDGE_*` environment over it (and which variable set a key that has a problem), and
//! the `*_file` keys that name a file holding a secret.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use idp_provider_api::ConfigProblem;
use idp_provider_api::deserialize::{self, EXPECTED_LIST};
use serde_json::Value;

use super::{ConfigError, ENV_PREFIX, within};
use crate::key_names::GATEWAY_SECRET_KEYS;
use crate::registry::Registry;

/// The file and the `IDP_BRIDGE_*` environment over it.
pub(super) fn sources(path: &Path) -> Figment {
    Figment::new()
        .merge(Toml::file_exact(path))
        .merge(environment())
}

/// The command line's own variables (`IDP_BRIDGE_CONFIG`, `IDP_BRIDGE_DEVELOPMENT`), lowercased:
/// they share the prefix but are no configuration keys.
const CLI_VARIABLES: [&str; 2] = ["config", "development"];

/// The `IDP_BRIDGE_*` environment overrides (`__` between levels).
pub(super) fn environment() -> Env {
    Env::prefixed(ENV_PREFIX).split("__").ignore(&CLI_VARIABLES)
}

/// A TOML file already read: its text, and its path to name it in errors as figment's own
/// `Toml::file` does.
pub(super) struct FileText<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl figment::Provider for FileText<'_> {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::from("TOML file", self.path)
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Toml::string(self.text).data()
    }
}

/// Adds to each problem whose key was set by an environment variable the variable's name: a
/// bad value there is invisible in the file. figment reads `IDP_BRIDGE_TOKEN__LENGTH` as
/// `token.length` (lowercased, `__` for each level). A list given as plain text there also
/// gets the way a list is written in a variable (figment reads `[...]` as a list).
pub(super) fn name_env_sources(
    error: ConfigError,
    vars: impl Iterator<Item = (String, String)>,
) -> ConfigError {
    let ConfigError::Invalid(mut problems) = error else {
        return error;
    };
    let sources: Vec<(String, String)> = vars
        .filter_map(|(name, _)| {
            let rest = name.strip_prefix(ENV_PREFIX)?;
            let key = rest.to_lowercase().replace("__", ".");
            (!CLI_VARIABLES.contains(&key.as_str())).then(|| (key, name.clone()))
        })
        .collect();
    for problem in &mut problems {
        let from = sources
            .iter()
            .find(|(key, _)| within(&problem.key, key) || format!("{}_file", problem.key) == *key);
        let Some((key, var)) = from else { continue };
        if problem.reason.starts_with(EXPECTED_LIST) {
            let name = key.rsplit('.').next().unwrap_or(key);
            let example = deserialize::list_items(name).1.replace(", ", ",");
            problem.reason.push_str(&format!(
                " (set by the environment variable {var}; a list is written there in brackets: {var}='[{example}]')"
            ));
        } else {
            problem
                .reason
                .push_str(&format!(" (set by the environment variable {var})"));
        }
    }
    ConfigError::Invalid(problems)
}

/// A TOML or figment error without the source lines it quotes (`6 | api_key = ...`): the
/// quoted line may hold a secret. Line and column stay in the message.
pub(super) fn without_source_lines(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let rest = line
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit());
            !rest.trim_start().starts_with('|')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replaces every `<secret>_file = "path"` by `<secret> = <file contents, trailing newline
/// trimmed>`, relative paths resolved against the config file's folder: in the gateway's own
/// tables for its [`GATEWAY_SECRET_KEYS`], in a `[providers.<id>]` table for the secret keys its
/// `type` declares ([`Registry::secret_keys`]). Giving both, or an empty or unreadable file, is
/// a problem; a `_file` key that is not a secret's stays, and is reported as unknown.
pub(super) fn resolve_secret_files(
    tree: &mut Value,
    base: &Path,
    registry: &Registry,
    problems: &mut Vec<ConfigProblem>,
) {
    let Value::Object(top) = tree else { return };
    for (name, value) in top.iter_mut() {
        match (name.as_str(), value) {
            ("providers", Value::Object(providers)) => {
                for (id, table) in providers.iter_mut() {
                    let kind = table.get("type").and_then(Value::as_str).unwrap_or("");
                    let secrets = registry.secret_keys(kind);
                    resolve_table(table, &format!("providers.{id}."), base, secrets, problems);
                }
            }
            (name, value) => resolve_table(
                value,
                &format!("{name}."),
                base,
                GATEWAY_SECRET_KEYS,
                problems,
            ),
        }
    }
}

/// [`resolve_secret_files`] for one table and the tables inside it, with `secrets`.
fn resolve_table(
    tree: &mut Value,
    prefix: &str,
    base: &Path,
    secrets: &[&str],
    problems: &mut Vec<ConfigProblem>,
) {
    let Value::Object(map) = tree else { return };
    let file_keys: Vec<String> = map
        .keys()
        .filter(|k| {
            secrets
                .iter()
                .any(|secret| k.strip_suffix("_file") == Some(secret))
                && map.get(k.as_str()).is_some_and(Value::is_string)
        })
        .cloned()
        .collect();
    for file_key in file_keys {
        let name = file_key.trim_end_matches("_file").to_string();
        let full = format!("{prefix}{file_key}");
        let Some(Value::String(file)) = map.remove(&file_key) else {
            continue;
        };
        if map.contains_key(&name) {
            problems.push(ConfigProblem::new(
                full,
                format!("give either {prefix}{name} or {prefix}{file_key}, not both"),
            ));
            continue;
        }
        let path = if Path::new(&file).is_absolute() {
            PathBuf::from(&file)
        } else {
            base.join(&file)
        };
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => problems.push(ConfigProblem::new(
                full,
                format!("{} is empty", path.display()),
            )),
            Ok(text) => {
                map.insert(
                    name,
                    Value::String(text.trim_end_matches(['\n', '\r']).to_string()),
                );
            }
            Err(e) => problems.push(ConfigProblem::new(
                full,
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }
    for (key, value) in map.iter_mut() {
        resolve_table(value, &format!("{prefix}{key}."), base, secrets, problems);
    }
}
