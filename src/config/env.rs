//! Where a bad value came from when an environment variable set it: its name, and for a list
//! given as text, how a list is written in a variable.

use idp_provider_api::deserialize::{self, EXPECTED_LIST};

use super::{CLI_VARIABLES, ConfigError, ENV_PREFIX, within};

/// Adds to each problem whose key was set by an environment variable the variable's name: a
/// bad value there is invisible in the file. figment reads `IDP_BRIDGE_TOKEN__LENGTH` as
/// `token.length` (lowercased, `__` for each level). A list given as plain text there also
/// gets the way a list is written in a variable (figment reads `[...]` as a list).
pub(super) fn name_sources(
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
