//! Values that are valid but almost certainly not meant: placeholders left from
//! `config.example.toml`, the reserved example domains, an empty CORS list. `check-config`
//! reports them as warnings; `serve` refuses to start on them unless `--development` is given,
//! so a copied example never goes live by accident. And values that are valid and may well be
//! meant, but have a consequence to know ([`shared_issuers`]): warnings that `serve` only logs.
//! Messages never repeat the value (it may be a secret), only where it is and why it matters.

use idp_provider_api::ConfigProblem;
use serde_json::Value;
use url::Url;

use crate::login::policy::ConfiguredProvider;

/// Providers whose identities can carry the same issuer: the Appwrite user of a person is keyed
/// on (issuer, subject) alone, so both providers log that person into the same user, and what
/// one provider's policy wrote on it (labels, an email link, a verified email) stays there when
/// the person logs in through the other, whose rules may be laxer. Valid (two client ids of one
/// issuer, say), so only a warning; one per provider that shares an issuer with an earlier one,
/// naming them all.
pub(super) fn shared_issuers(providers: &[ConfiguredProvider]) -> Vec<ConfigProblem> {
    let issuers: Vec<Vec<String>> = providers
        .iter()
        .map(|p| p.provider.identity_issuers())
        .collect();
    let mut found = Vec::new();
    for (i, later) in providers.iter().enumerate() {
        let earlier: Vec<String> = providers[..i]
            .iter()
            .zip(&issuers)
            .filter(|(_, theirs)| theirs.iter().any(|issuer| issuers[i].contains(issuer)))
            .map(|(p, _)| format!("providers.{}", p.provider.info().id))
            .collect();
        if earlier.is_empty() {
            continue;
        }
        found.push(ConfigProblem::new(
            format!("providers.{}", later.provider.info().id),
            format!(
                "has the same issuer as {}: a person who logs in through either is the same \
                 Appwrite user, so the labels, email link or verified email that one provider's \
                 policy gives that user stay when they log in through the other, whose rules may \
                 admit more; give them the same policy, or use one provider per issuer",
                earlier.join(", ")
            ),
        ));
    }
    found
}

/// Words that mark a value as a placeholder, compared case-insensitively.
const PLACEHOLDER_WORDS: [&str; 6] = [
    "replace-me",
    "replace_me",
    "changeme",
    "change-me",
    "your-",
    "placeholder",
];

/// Domains reserved for documentation (RFC 2606 and RFC 6761): nobody's real app lives there.
const EXAMPLE_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];

/// Every warning for the configuration tree, in key order.
pub(super) fn find(tree: &Value) -> Vec<ConfigProblem> {
    let mut warnings = Vec::new();
    walk(tree, "", &mut warnings);
    if let Some(Value::Array(origins)) = tree.pointer("/server/cors_origins")
        && origins.is_empty()
    {
        warnings.push(ConfigProblem::new(
            "server.cors_origins",
            "is empty: no web page may call exchange or /v1/providers with fetch (remove the key to allow the origins of redirect.allowed)",
        ));
    }
    warnings
}

fn walk(value: &Value, key: &str, warnings: &mut Vec<ConfigProblem>) {
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                let path = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                walk(inner, &path, warnings);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, key, warnings);
            }
        }
        Value::String(text) => {
            if let Some(why) = looks_wrong(key, text) {
                warnings.push(ConfigProblem::new(key, why));
            }
        }
        _ => {}
    }
}

fn looks_wrong(key: &str, text: &str) -> Option<String> {
    if key == "server.public_url"
        && let Ok(url) = Url::parse(text)
        && url.scheme() == "http"
        && !idp_provider_api::url_rule::is_loopback(&url)
    {
        return Some(
            "is plain http on a host that is not loopback: browsers would carry the login cookie and the minted token unencrypted; use https"
                .into(),
        );
    }
    let lower = text.to_ascii_lowercase();
    // The nil UUID is never a real tenant, client or project id: a blank left to fill.
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
        || lower == "00000000-0000-0000-0000-000000000000"
    {
        return Some("looks like a placeholder; put the real value here".into());
    }
    if key.ends_with("id_key")
        && let Ok(bytes) = data_encoding::BASE64.decode(text.trim().as_bytes())
        && bytes.windows(7).any(|w| w == b"example")
    {
        return Some(
            "is the example key of config.example.toml; make your own with `idp-bridge gen-key`"
                .into(),
        );
    }
    let host = Url::parse(text).ok()?.host_str()?.to_ascii_lowercase();
    EXAMPLE_DOMAINS
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        .then(|| format!("uses {host}, a domain reserved for examples; put your own URL here"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_example_domains_and_the_example_key_are_flagged_without_their_values() {
        let tree = json!({
            "appwrite": {"api_key": "replace-me", "endpoint": "https://cloud.appwrite.io/v1"},
            "redirect": {"allowed": ["https://app.example.com/auth/", "https://app.acme.io/"]},
            "mapping": {"id_key": "ZXhhbXBsZS1vbmx5LWRvLW5vdC11c2UtdGhpcy1rZXk="},
            "server": {"cors_origins": [], "public_url": "http://gw.acme.io"},
            "providers": {"corp": {"client_secret": "Your-Secret", "issuer": "https://idp.acme.io/"},
                          "ms": {"allowed_tenants": ["00000000-0000-0000-0000-000000000000"]}},
        });
        let found: Vec<String> = find(&tree).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "appwrite.api_key: looks like a placeholder; put the real value here",
                "mapping.id_key: is the example key of config.example.toml; make your own with `idp-bridge gen-key`",
                "providers.corp.client_secret: looks like a placeholder; put the real value here",
                "providers.ms.allowed_tenants: looks like a placeholder; put the real value here",
                "redirect.allowed: uses app.example.com, a domain reserved for examples; put your own URL here",
                "server.public_url: is plain http on a host that is not loopback: browsers would carry the login cookie and the minted token unencrypted; use https",
                "server.cors_origins: is empty: no web page may call exchange or /v1/providers with fetch (remove the key to allow the origins of redirect.allowed)",
            ]
        );
        assert!(!found.iter().any(|w| w.contains("Your-Secret")));
    }

    #[test]
    fn real_values_are_quiet() {
        let tree = json!({
            "appwrite": {"api_key": "standard_8f2c", "endpoint": "https://appwrite.acme.io/v1"},
            "server": {"public_url": "http://127.0.0.1:8080"},
            "mapping": {"id_key": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="},
            "providers": {"corp": {"issuer": "https://notexample.com/"}},
        });
        assert!(find(&tree).is_empty());
    }

    #[test]
    fn providers_that_share_an_issuer_are_named_together_and_others_are_not() {
        const TID: &str = "3f1e0a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b";
        let oidc = |id: &str, issuer: &str| {
            format!(
                "[providers.{id}]\ntype = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"c\"\n\
                 client_secret = \"s3cret-0123456789\"\n"
            )
        };
        let entra = |id: &str, tenant: &str, allowed: &str| {
            format!(
                "[providers.{id}]\ntype = \"entra\"\ntenant = \"{tenant}\"\n\
                 allowed_tenants = {allowed}\nclient_id = \"c\"\nclient_secret = \"s3cret-0123456789\"\n"
            )
        };
        let text = format!(
            "[appwrite]\nendpoint = \"http://127.0.0.1:9/v1\"\nproject = \"p\"\napi_key = \"k\"\n\
             [redirect]\nallowed = [\"http://127.0.0.1:3000/\"]\n\
             [mapping]\nid_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n{}{}{}{}{}",
            oidc("corp", "http://127.0.0.1:9/"),
            oidc("corp2", "http://127.0.0.1:9/"),
            oidc("other", "http://127.0.0.1:9/other"),
            entra("ms1", TID, "[]"),
            entra("ms2", "organizations", &format!("[\"{TID}\"]")),
        );
        let config = crate::config::Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}"));
        let found: Vec<String> = config.notices.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].starts_with("providers.corp2: has the same issuer as providers.corp: ")
                && found[0].contains("same Appwrite user"),
            "{found:#?}"
        );
        assert!(
            found[1].starts_with("providers.ms2: has the same issuer as providers.ms1: "),
            "{found:#?}"
        );
        assert!(
            config.warnings.is_empty(),
            "a notice is not a warning that stops serve"
        );
    }
}
