//! Every bad configuration value is refused, and the message names the key and the reason.

use std::io::Write;

use idp_bridge::config::Config;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:8080"
public_url = "https://gw.example.com"
trusted_proxies = ["10.0.0.0/8"]

[appwrite]
endpoint = "https://cloud.appwrite.io/v1"
project = "my-project"
api_key = "standard_0123456789"
timeout_ms = 5000

[token]
length = 64
expire_seconds = 60

[redirect]
allowed = ["https://app.example.com/auth/"]
delivery = "query"

[store]
backend = "memory"

[mapping]
id_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

[rate_limit]
per_ip_per_minute = 120

[log]
format = "json"

[providers.corp]
type = "oidc"
display_name = "Corporate SSO"
issuer = "https://login.example.com/"
client_id = "gw"
client_secret = "s3cret"
scopes = ["openid", "email", "profile"]
allowed_algs = ["RS256"]
allow_insecure_http = false
"#;

/// `GOOD` with the line starting with `key =` in `[section]` replaced (or removed when `line` is
/// empty, or added when there is none).
fn with(section: &str, key: &str, line: &str) -> String {
    edit(GOOD, section, key, line)
}

/// [`with`] on any text.
fn edit(text: &str, section: &str, key: &str, line: &str) -> String {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut replaced = false;
    for l in text.lines() {
        if l.starts_with('[') {
            current = l.trim_matches(['[', ']']).to_string();
        }
        if current == section && l.split('=').next().map(str::trim) == Some(key) {
            if !line.is_empty() {
                out.push(line.to_string());
            }
            replaced = true;
            continue;
        }
        out.push(l.to_string());
    }
    if !replaced {
        let at = out
            .iter()
            .position(|l| *l == format!("[{section}]"))
            .expect("section")
            + 1;
        out.insert(at, line.to_string());
    }
    out.join("\n")
}

fn problems(text: &str) -> String {
    match Config::from_toml(text) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn refused(text: &str, key: &str, reason: &str) {
    let message = problems(text);
    assert!(
        message.contains(&format!("{key}: ")) && message.contains(reason),
        "expected `{key}: ...{reason}...`, got:\n{message}"
    );
}

#[test]
fn the_good_config_is_accepted() {
    assert_eq!(problems(GOOD), "");
}

#[test]
fn a_missing_issuer_is_refused() {
    refused(
        &with("providers.corp", "issuer", ""),
        "providers.corp",
        "issuer",
    );
    refused(
        &with("providers.corp", "issuer", "issuer = \"\""),
        "providers.corp.issuer",
        "is required",
    );
}

#[test]
fn an_http_issuer_needs_allow_insecure_http() {
    let text = with(
        "providers.corp",
        "issuer",
        "issuer = \"http://login.example.com/\"",
    );
    refused(&text, "providers.corp.issuer", "allow_insecure_http");
    let allowed = edit(
        &text,
        "providers.corp",
        "allow_insecure_http",
        "allow_insecure_http = true",
    );
    assert_eq!(problems(&allowed), "");
}

#[test]
fn token_length_outside_4_to_128_is_refused() {
    for bad in ["3", "129", "-1"] {
        refused(
            &with("token", "length", &format!("length = {bad}")),
            "token.length",
            "outside 4..=128",
        );
    }
    assert_eq!(problems(&with("token", "length", "length = 128")), "");
}

#[test]
fn expire_seconds_outside_60_to_31536000_is_refused() {
    for bad in ["59", "31536001"] {
        refused(
            &with(
                "token",
                "expire_seconds",
                &format!("expire_seconds = {bad}"),
            ),
            "token.expire_seconds",
            "outside 60..=31536000",
        );
    }
}

#[test]
fn malformed_or_non_https_redirect_entries_are_refused() {
    for (entry, reason) in [
        ("not a url", "not an absolute URL"),
        ("http://app.example.com/", "only https"),
        ("ftp://app.example.com/", "scheme"),
        ("https://app.example.com/?x=1", "query"),
        ("https://user@app.example.com/", "credentials"),
    ] {
        let text = with("redirect", "allowed", &format!("allowed = [\"{entry}\"]"));
        refused(&text, "redirect.allowed", reason);
    }
    refused(
        &with("redirect", "allowed", "allowed = []"),
        "redirect.allowed",
        "at least one",
    );
    assert_eq!(
        problems(&with(
            "redirect",
            "allowed",
            "allowed = [\"http://localhost:3000/cb\"]"
        )),
        ""
    );
}

/// Issue 6 item 5: an entry whose path hides `/`, `\` or a dot segment behind percent-encoding
/// would widen the prefix for any server that decodes paths; check-config names the key.
#[test]
fn redirect_entries_with_encoded_separators_are_refused() {
    for entry in [
        "https://app.example.com/auth%2F",
        "https://app.example.com/auth%2f..%2f",
        "https://app.example.com/auth%5c",
        "https://app.example.com/auth/%252E%252E/",
        "https://app.example.com/auth/..;/",
    ] {
        let text = with("redirect", "allowed", &format!("allowed = [\"{entry}\"]"));
        refused(&text, "redirect.allowed", entry);
        refused(&text, "redirect.allowed", "path segment");
    }
}

#[test]
fn an_unknown_provider_type_is_refused() {
    refused(
        &with("providers.corp", "type", "type = \"saml\""),
        "providers.corp.type",
        "unknown provider type \"saml\"",
    );
    refused(
        &with("providers.corp", "type", ""),
        "providers.corp.type",
        "is required",
    );
}

#[test]
fn unknown_keys_are_refused_with_their_place() {
    refused(
        &with("providers.corp", "client_id", "clientid = \"gw\""),
        "providers.corp.clientid",
        "unknown field `clientid`",
    );
    refused(
        &with("token", "length", "lenght = 64"),
        "token.lenght",
        "unknown field `lenght`",
    );
}

#[test]
fn other_bad_values_name_their_key() {
    refused(
        &with("server", "listen", "listen = \"nowhere\""),
        "server.listen",
        "not an address",
    );
    refused(
        &with(
            "server",
            "public_url",
            "public_url = \"http://gw.example.com\"",
        ),
        "server.public_url",
        "only https",
    );
    refused(
        &with(
            "server",
            "trusted_proxies",
            "trusted_proxies = [\"10.0.0.0/33\"]",
        ),
        "server.trusted_proxies",
        "not a CIDR",
    );
    refused(
        &with("appwrite", "endpoint", ""),
        "appwrite.endpoint",
        "is required",
    );
    refused(
        &with("appwrite", "api_key", ""),
        "appwrite.api_key",
        "is required",
    );
    refused(
        &with("appwrite", "project", "project = \"-bad\""),
        "appwrite.project",
        "not a valid",
    );
    refused(
        &with("appwrite", "timeout_ms", "timeout_ms = 0"),
        "appwrite.timeout_ms",
        "outside",
    );
    refused(
        &with("redirect", "delivery", "delivery = \"email\""),
        "redirect.delivery",
        "unknown variant",
    );
    refused(
        &with("store", "backend", "backend = \"redis\""),
        "store.backend",
        "not available",
    );
    refused(
        &with("log", "format", "format = \"xml\""),
        "log.format",
        "unknown variant",
    );
    refused(
        &with(
            "providers.corp",
            "allowed_algs",
            "allowed_algs = [\"none\"]",
        ),
        "providers.corp.allowed_algs",
        "never accepted",
    );
    refused(
        &with("providers.corp", "scopes", "scopes = [\"email\"]"),
        "providers.corp.scopes",
        "openid",
    );
    refused(
        &with("providers.corp", "client_secret", ""),
        "providers.corp.client_secret",
        "is required",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = edit(
        &with("token", "length", "length = 1"),
        "token",
        "expire_seconds",
        "expire_seconds = 1",
    );
    let message = problems(&text);
    assert!(
        message.contains("token.length") && message.contains("token.expire_seconds"),
        "{message}"
    );
}

#[test]
fn secrets_come_from_files_and_the_environment_and_never_print() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("api_key");
    std::fs::write(&key_file, "file-api-key-0123456789\n").expect("write key");
    let text = with("appwrite", "api_key", "api_key_file = \"api_key\"");
    let path = dir.path().join("config.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write config");
    // Through the real binary: check-config accepts it and prints no secret.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env(
            "IDP_BRIDGE_PROVIDERS__CORP__CLIENT_SECRET",
            "env-client-secret-xyz",
        )
        .output()
        .expect("run check-config");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("provider corp (type oidc)"), "{all}");
    let config = Config::load(&path).expect("loads");
    let debug = format!("{config:?}");
    assert!(!debug.contains("file-api-key-0123456789"), "{debug}");
    assert!(debug.contains("[redacted]"));

    let both = edit(&text, "appwrite", "api_key", "api_key = \"inline\"");
    refused(&both, "appwrite.api_key_file", "not both");
    let missing = text.replace("api_key_file = \"api_key\"", "api_key_file = \"nope\"");
    std::fs::write(&path, missing).expect("write");
    let err = Config::load(&path).expect_err("missing file").to_string();
    assert!(err.contains("appwrite.api_key_file: cannot read"), "{err}");
}

#[test]
fn check_config_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, with("token", "length", "length = 200")).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("token.length: 200 is outside 4..=128"),
        "{stderr}"
    );
    let serve = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert_eq!(
        serve.status.code(),
        Some(2),
        "serve refuses an invalid config"
    );
}

#[test]
fn config_example_toml_is_valid_and_documents_every_key() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let text = std::fs::read_to_string(&path).expect("config.example.toml");
    assert_eq!(
        problems(&text),
        "",
        "config.example.toml must pass check-config"
    );
    for key in [
        "listen",
        "public_url",
        "trusted_proxies",
        "endpoint",
        "project",
        "api_key",
        "api_key_file",
        "timeout_ms",
        "length",
        "expire_seconds",
        "allowed",
        "delivery",
        "backend",
        "redis_url",
        "transaction_ttl_seconds",
        "max_open_transactions",
        "per_ip_per_minute",
        "id_key",
        "id_key_file",
        "format",
        "extra_ca_file",
        "type",
        "display_name",
        "issuer",
        "client_id",
        "client_secret",
        "client_secret_file",
        "scopes",
        "allowed_algs",
        "token_endpoint_auth_method",
        "allow_insecure_http",
        "leeway_seconds",
        "max_token_age_seconds",
        "jwks_refetch_interval_seconds",
        "jwks_cache_seconds",
        "jwks_max_stale_seconds",
        "trusted_audiences",
        "trusted_for_email",
        "link_by_email",
    ] {
        assert!(
            text.contains(&format!("{key} =")),
            "config.example.toml does not document `{key}`"
        );
    }
}

#[test]
fn link_by_email_requires_trusted_for_email() {
    let text = edit(
        GOOD,
        "providers.corp",
        "link_by_email",
        "link_by_email = true",
    );
    refused(
        &text,
        "providers.corp.link_by_email",
        "requires trusted_for_email",
    );
    let both = edit(
        &text,
        "providers.corp",
        "trusted_for_email",
        "trusted_for_email = true",
    );
    assert_eq!(problems(&both), "");
    refused(
        &edit(
            GOOD,
            "providers.corp",
            "trusted_for_email",
            "trusted_for_email = \"yes\"",
        ),
        "providers.corp.trusted_for_email",
        "true or false",
    );
}

#[test]
fn config_errors_never_echo_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    // A TOML syntax error on the secret's own line: the parser would quote the line.
    std::fs::write(
        &path,
        GOOD.replace(
            "api_key = \"standard_0123456789\"",
            "api_key = hunter2secret",
        ),
    )
    .expect("write");
    let err = Config::load(&path).expect_err("syntax error").to_string();
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(err.contains("line"), "the position is kept: {err}");
    // A digit-only secret from the environment becomes a number: refused without echoing it.
    std::fs::write(&path, GOOD).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["check-config", "--config"])
        .arg(&path)
        .env(
            "IDP_BRIDGE_PROVIDERS__CORP__CLIENT_SECRET",
            "98765432109876",
        )
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("providers.corp.client_secret"), "{stderr}");
    assert!(!stderr.contains("98765432109876"), "{stderr}");
}

#[test]
fn more_keys_explain_themselves() {
    refused(
        &with(
            "appwrite",
            "endpoint",
            "endpoint = \"https://cloud.appwrite.io\"",
        ),
        "appwrite.endpoint",
        "ending in /v1",
    );
    let derived = with("server", "public_url", "")
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"0.0.0.0:8080\"");
    refused(&derived, "server.public_url", "derived from server.listen");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("empty"), "\n").expect("write");
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        with("appwrite", "api_key", "api_key_file = \"empty\""),
    )
    .expect("write");
    let err = Config::load(&path).expect_err("empty file").to_string();
    assert!(
        err.contains("appwrite.api_key_file: ") && err.contains("is empty"),
        "{err}"
    );
    // Only secret keys take the _file form; others are unknown keys.
    refused(
        &with("appwrite", "project", "project_file = \"x\""),
        "appwrite.project_file",
        "unknown field",
    );
}

#[test]
fn risky_values_are_refused() {
    refused(
        &with(
            "server",
            "trusted_proxies",
            "trusted_proxies = [\"0.0.0.0/0\"]",
        ),
        "server.trusted_proxies",
        "trusts every address",
    );
    refused(
        &with(
            "providers.corp",
            "display_name",
            "display_name = \"a\\u0007b\"",
        ),
        "providers.corp.display_name",
        "control characters",
    );
    refused(
        &edit(
            GOOD,
            "providers.corp",
            "trusted_audiences",
            "trusted_audiences = [\"\"]",
        ),
        "providers.corp.trusted_audiences",
        "non-empty",
    );
}

#[test]
fn the_id_key_is_required_long_enough_and_never_echoed() {
    let missing = with("mapping", "id_key", "");
    refused(&missing, "mapping.id_key", "is required");
    refused(&missing, "mapping.id_key", "idp-bridge gen-key");
    // 16 bytes: too short to key HMAC-SHA256.
    let short = with("mapping", "id_key", "id_key = \"c2hvcnQtYnV0LWJhc2U2NA==\"");
    refused(&short, "mapping.id_key", "at least 32 random bytes");
    let garbage = with("mapping", "id_key", "id_key = \"not base64 at all!\"");
    refused(&garbage, "mapping.id_key", "is not base64");
    assert!(!problems(&garbage).contains("not base64 at all"));

    let dir = tempfile::tempdir().expect("tempdir");
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    std::fs::write(dir.path().join("id_key"), format!("{key}\n")).expect("write");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, with("mapping", "id_key", "id_key_file = \"id_key\"")).expect("write");
    assert!(Config::load(&path).is_ok(), "id_key_file is read");
}

#[test]
fn gen_key_prints_a_fresh_usable_key() {
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
            .arg("gen-key")
            .output()
            .expect("run gen-key");
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    };
    let (a, b) = (run(), run());
    assert_ne!(a, b, "every key is new");
    let text = with("mapping", "id_key", &format!("id_key = \"{a}\""));
    assert_eq!(problems(&text), "");
}

/// `GOOD` plus a `typingdna` table with `lines`.
fn with_typingdna(lines: &str) -> String {
    format!("{GOOD}\n[providers.typing]\ntype = \"typingdna\"\n{lines}\n")
}

#[test]
fn a_typingdna_table_is_checked_key_by_key() {
    let good =
        "mode = \"login\"\napi_key = \"k\"\napi_secret = \"s\"\nid_salt = \"0123456789abcdef\"";
    assert_eq!(problems(&with_typingdna(good)), "");
    refused(
        &with_typingdna(&good.replace("\"login\"", "\"passwordless\"")),
        "providers.typing.mode",
        "unknown variant",
    );
    refused(
        &with_typingdna(&good.replace("id_salt = \"0123456789abcdef\"", "id_salt = \"short\"")),
        "providers.typing.id_salt",
        "at least 16",
    );
    refused(
        &with_typingdna(&good.replace("api_secret = \"s\"", "")),
        "providers.typing.api_secret",
        "is required",
    );
    refused(
        &with_typingdna(&format!("{good}\napi_url = \"http://api.typingdna.com\"")),
        "providers.typing.api_url",
        "only https",
    );
    refused(
        &with_typingdna(&format!("{good}\nrequire_high_confidance = true")),
        "providers.typing.require_high_confidance",
        "unknown field",
    );
}

#[test]
fn typingdna_secrets_may_come_from_files_but_not_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("secret");
    let salt = dir.path().join("salt");
    std::fs::write(&secret, "file-secret\n").expect("write");
    std::fs::write(&salt, "0123456789abcdef-from-a-file").expect("write");
    let files = format!(
        "mode = \"step_up\"\napi_key = \"k\"\napi_secret_file = \"{}\"\nid_salt_file = \"{}\"",
        secret.display(),
        salt.display()
    );
    assert_eq!(problems(&with_typingdna(&files)), "");
    refused(
        &with_typingdna(&format!("{files}\napi_secret = \"inline\"")),
        "providers.typing.api_secret_file",
        "not both",
    );
}
