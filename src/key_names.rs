//! Configuration key names. Which of the gateway's own keys hold secrets (and so may be given
//! as `<key>_file`; each provider type declares its own, `ProviderType::secret_keys`), and
//! unknown keys: every one reported in one run, each with the keys its table takes and the
//! nearest of them ("did you mean"). A typo must never silently drop a setting, and a user with
//! two typos should not need two runs to find them.
//!
//! The key lists come from the raw structs themselves (serde-aux reads the field names that
//! serde would accept), so they cannot drift from what deserialisation takes. Unknown keys are
//! removed from the tree after being reported, so the rest of the file is still checked.

use serde_json::{Map, Value};

use idp_provider_api::ConfigProblem;

/// The gateway's own keys that may be given as `<key>_file`, in its own tables (not in
/// `[providers.*]`, whose types declare theirs): `[appwrite] api_key`, `[mapping] id_key`, and
/// `[store]`'s `encryption_keys` (one key per line) and `redis_url` (the URL may hold a
/// password).
pub const GATEWAY_SECRET_KEYS: &[&str] = &["api_key", "id_key", "encryption_keys", "redis_url"];

/// The keys a table takes, for messages: a secret key `k` is shown as `k (or k_file)`.
pub fn describe(keys: &[&str], secrets: &[&str]) -> String {
    keys.iter()
        .map(|k| {
            if secrets.contains(k) {
                format!("{k} (or {k}_file)")
            } else {
                (*k).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known key nearest to `unknown`, if it is near enough to be a typo; a secret key's
/// `_file` form counts as a key of its own (`api_key_flie` → `api_key_file`).
pub fn nearest(unknown: &str, known: &[&str], secrets: &[&str]) -> Option<String> {
    let unknown = unknown.to_ascii_lowercase();
    known
        .iter()
        .flat_map(|k| {
            let file = secrets.contains(k).then(|| format!("{k}_file"));
            std::iter::once((*k).to_string()).chain(file)
        })
        .map(|k| (strsim::damerau_levenshtein(&unknown, &k), k))
        .filter(|(distance, k)| *distance <= (k.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// Takes every key of `table` that is not in `known` out of it, reporting each under
/// `{prefix}{key}`; `label` names the table in the message (`[server]`), `secrets` are the keys
/// of `known` that may be given as `<key>_file`.
pub fn take_unknown(
    table: &mut Map<String, Value>,
    known: &[&str],
    secrets: &[&str],
    prefix: &str,
    label: &str,
    problems: &mut Vec<ConfigProblem>,
) {
    let unknown: Vec<String> = table
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    for key in unknown {
        table.remove(&key);
        let stem = key
            .strip_suffix("_file")
            .filter(|stem| known.contains(stem));
        let hint = match (stem, nearest(&key, known, secrets)) {
            (Some(stem), _) if secrets.is_empty() => {
                format!("{stem:?} takes no _file form (this table has no secret keys). ")
            }
            (Some(stem), _) => format!(
                "{stem:?} takes no _file form (only its secrets do: {}). ",
                secrets.join(", ")
            ),
            (None, Some(near)) => format!("did you mean {near:?}? "),
            (None, None) => String::new(),
        };
        problems.push(ConfigProblem::new(
            format!("{prefix}{key}"),
            format!(
                "unknown key; {hint}{label} takes: {}",
                describe(known, secrets)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key_and_strangers_find_none() {
        let known = ["listen", "public_url", "trusted_proxies", "cors_origins"];
        let near = |k: &str, known: &[&str]| nearest(k, known, &["client_secret"]);
        assert_eq!(
            near("trusted_proxy", &known).as_deref(),
            Some("trusted_proxies")
        );
        assert_eq!(near("publc_url", &known).as_deref(), Some("public_url"));
        assert_eq!(near("Listen", &known).as_deref(), Some("listen"));
        assert_eq!(near("colour", &known), None);
        let provider = ["display_name", "client_secret", "issuer"];
        assert_eq!(
            near("dispaly_name", &provider).as_deref(),
            Some("display_name")
        );
        assert_eq!(
            near("client_secert_file", &provider).as_deref(),
            Some("client_secret_file")
        );
    }

    #[test]
    fn every_unknown_key_is_reported_and_removed() {
        let mut table = serde_json::json!({"listen": "x", "lisen": 1, "colour": 2})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut problems = Vec::new();
        take_unknown(
            &mut table,
            &["listen", "public_url"],
            &[],
            "server.",
            "[server]",
            &mut problems,
        );
        assert_eq!(table.len(), 1);
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "server.colour: unknown key; [server] takes: listen, public_url",
                "server.lisen: unknown key; did you mean \"listen\"? [server] takes: listen, public_url",
            ]
        );
    }
}
