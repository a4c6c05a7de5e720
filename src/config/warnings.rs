//! Values that are valid but almost certainly not meant: placeholders left from
//! `config.example.toml`, the reserved example domains, an empty CORS list, a `*` in the
//! redirect allow-list (there are no wildcards), plain-text transports to a host that is not
//! loopback (`allow_insecure_http`, `redis://`), and an Auth0 organization given by name where
//! its token carries the id. `check-config`
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
    wildcards(tree, &mut warnings);
    insecure_transports(tree, &mut warnings);
    auth0_organizations(tree, &mut warnings);
    warnings
}

/// A `*` in `[redirect] allowed`: the allow-list compares scheme, host and port exactly, so it
/// matches only a URL with that very `*` in it, never the hosts or paths it seems to cover.
fn wildcards(tree: &Value, warnings: &mut Vec<ConfigProblem>) {
    let Some(Value::Array(allowed)) = tree.pointer("/redirect/allowed") else {
        return;
    };
    for (index, entry) in allowed.iter().enumerate() {
        if entry.as_str().is_some_and(|e| e.contains('*')) {
            warnings.push(ConfigProblem::new(
                "redirect.allowed",
                format!(
                    "entry {} contains `*`, which is no wildcard here: it allows only a URL with that literal `*` in it; list every allowed URL instead",
                    index + 1
                ),
            ));
        }
    }
}

/// Plain-text connections a deployment should not make: a provider's `allow_insecure_http` for
/// a host that is not loopback, and `redis://` to one.
fn insecure_transports(tree: &Value, warnings: &mut Vec<ConfigProblem>) {
    for (id, table) in providers(tree) {
        if table.get("allow_insecure_http") != Some(&Value::Bool(true)) {
            continue;
        }
        // Where each type names its provider's host: `issuer`, `authority` (entra), `domain`
        // (auth0); a type whose host is built in (google) names none, and is not loopback.
        let text = |key: &str| table.get(key).and_then(Value::as_str);
        let loopback = [text("issuer"), text("authority")]
            .into_iter()
            .flatten()
            .map(str::to_string)
            .chain(text("domain").map(|domain| format!("http://{domain}/")))
            .filter_map(|text| Url::parse(&text).ok())
            .any(|url| idp_provider_api::url_rule::is_loopback(&url));
        if !loopback {
            warnings.push(ConfigProblem::new(
                format!("providers.{id}.allow_insecure_http"),
                "is on for a host that is not loopback: the provider's metadata, keys and the code exchange (with the client secret) may then travel unencrypted and be altered; use https and remove the key (it is for a local test provider)",
            ));
        }
    }
    let accepted = tree.pointer("/store/allow_plain_redis") == Some(&Value::Bool(true));
    if let Some(Value::String(text)) = tree.pointer("/store/redis_url")
        && !accepted
        && let Ok(url) = Url::parse(text)
        && matches!(url.scheme(), "redis" | "valkey")
        && !idp_provider_api::url_rule::is_loopback(&url)
    {
        warnings.push(ConfigProblem::new(
            "store.redis_url",
            "is plain redis:// to a host that is not loopback: the Redis password and every command cross the network unencrypted and can be altered on the way; use rediss:// (TLS), or set store.allow_plain_redis = true if that network is private (one host's container network)",
        ));
    }
}

/// An Auth0 `organization` (or `allowed_organizations` entry) that is not an organization id:
/// Auth0 also takes a name at `/authorize`, but the token's `org_id`, which the provider
/// compares with it, is always the id, so every login would be refused.
fn auth0_organizations(tree: &Value, warnings: &mut Vec<ConfigProblem>) {
    let is_id = |text: &str| {
        text.strip_prefix("org_")
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
    };
    for (id, table) in providers(tree) {
        if table.get("type").and_then(Value::as_str) != Some("auth0") {
            continue;
        }
        let organization = table.get("organization").and_then(Value::as_str);
        if organization.is_some_and(|o| !is_id(o)) {
            warnings.push(ConfigProblem::new(
                format!("providers.{id}.organization"),
                "is not an organization id (org_ and letters or digits): the token's org_id, which must equal it, is always the id, so every login would be refused; copy the id from the Auth0 dashboard (Organizations)",
            ));
        }
        let allowed = table.get("allowed_organizations").and_then(Value::as_array);
        if allowed.is_some_and(|list| list.iter().filter_map(Value::as_str).any(|o| !is_id(o))) {
            warnings.push(ConfigProblem::new(
                format!("providers.{id}.allowed_organizations"),
                "lists a value that is not an organization id (org_ and letters or digits): the token's org_id is always the id, so that entry admits nobody; copy the ids from the Auth0 dashboard",
            ));
        }
    }
}

/// The `[providers.*]` tables, by id.
fn providers(tree: &Value) -> impl Iterator<Item = (&String, &serde_json::Map<String, Value>)> {
    tree.get("providers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(id, table)| Some((id, table.as_object()?)))
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
    fn wildcards_plain_transports_and_organization_names_are_flagged_without_their_values() {
        let tree = json!({
            "redirect": {"allowed": ["https://app.acme.io/", "https://*.acme.io/"]},
            "store": {"redis_url": "redis://:pw-0123456789@cache.acme.internal:6379"},
            "providers": {
                "a0": {"type": "auth0", "organization": "acme-corp",
                       "allowed_organizations": ["org_AbC123", "Acme Corp"]},
                "corp": {"type": "oidc", "issuer": "http://idp.acme.io/", "allow_insecure_http": true},
                "ms": {"type": "entra", "authority": "http://login.acme.io", "allow_insecure_http": true},
                "to": {"type": "google", "allow_insecure_http": true},
            },
        });
        let found: Vec<String> = find(&tree).iter().map(|w| w.key.clone()).collect();
        assert_eq!(
            found,
            [
                "redirect.allowed",
                "providers.corp.allow_insecure_http",
                "providers.ms.allow_insecure_http",
                "providers.to.allow_insecure_http",
                "store.redis_url",
                "providers.a0.organization",
                "providers.a0.allowed_organizations",
            ]
        );
        let text: Vec<String> = find(&tree).iter().map(ToString::to_string).collect();
        assert!(text[0].contains("entry 2 contains `*`"), "{text:?}");
        for secret in ["pw-0123456789", "acme-corp", "Acme Corp"] {
            assert!(!text.iter().any(|w| w.contains(secret)), "{text:?}");
        }
    }

    #[test]
    fn the_same_on_loopback_with_ids_or_when_accepted_is_quiet() {
        let tree = json!({
            "redirect": {"allowed": ["https://app.acme.io/"]},
            "store": {"redis_url": "redis://127.0.0.1:6379"},
            "providers": {
                "a0": {"type": "auth0", "organization": "org_AbC123",
                       "allowed_organizations": ["org_AbC123", "org_9"]},
                "corp": {"type": "oidc", "issuer": "http://127.0.0.1:9000/", "allow_insecure_http": true},
                "local": {"type": "auth0", "domain": "127.0.0.1:9001", "allow_insecure_http": true},
                "named": {"type": "oidc", "organization": "not auth0: not read"},
            },
        });
        assert!(find(&tree).is_empty(), "{:?}", find(&tree));
        let accepted = json!({"store": {
            "redis_url": "redis://redis:6379", "allow_plain_redis": true,
        }});
        assert!(find(&accepted).is_empty());
        let tls = json!({"store": {"redis_url": "rediss://cache.acme.internal:6380"}});
        assert!(find(&tls).is_empty());
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
