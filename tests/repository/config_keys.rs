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
        "providers.corp.issuer",
        "is required",
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
        "unknown key; did you mean \"client_id\"? [providers.corp] (type \"oidc\") takes: type, display_name, trusted_for_email",
    );
    refused(
        &with("token", "length", "lenght = 64"),
        "token.lenght",
        "unknown key; did you mean \"length\"? [token] takes: length, expire_seconds",
    );
}

#[test]
fn other_bad_values_name_their_key() {
    refused(
        &with("server", "listen", "listen = \"nowhere\""),
        "server.listen",
        "not an address",
    );
    // Plain http on a public host is valid but a warning (serve refuses it without
    // --development); derived from `listen` it is refused (see below).
    let http = Config::from_toml(&with(
        "server",
        "public_url",
        "public_url = \"http://gw.acme.io\"",
    ))
    .expect("loads");
    assert!(
        http.warnings
            .iter()
            .any(|w| w.key == "server.public_url" && w.reason.contains("plain http")),
        "{:?}",
        http.warnings
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
        "is not one of",
    );
    refused(
        &with("store", "backend", "backend = \"redis\""),
        "store.redis_url",
        "is required",
    );
    refused(
        &with("log", "format", "format = \"xml\""),
        "log.format",
        "is not one of",
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
    // Through the real binary: check-config accepts it (its example domains are warnings,
    // allowed by --development) and prints no secret.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["check-config", "--development", "--config"])
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
fn metrics_listen_is_an_address_that_is_not_listens_own() {
    let config = Config::from_toml(&with(
        "server",
        "metrics_listen",
        "metrics_listen = \"127.0.0.1:9090\"",
    ))
    .expect("another port is accepted");
    assert_eq!(
        config.server.metrics_listen,
        Some("127.0.0.1:9090".parse().expect("addr"))
    );
    assert_eq!(
        Config::from_toml(GOOD).expect("good").server.metrics_listen,
        None
    );
    refused(
        &with(
            "server",
            "metrics_listen",
            "metrics_listen = \"metrics:9090\"",
        ),
        "server.metrics_listen",
        "\"metrics:9090\" is not an address:port",
    );
    refused(
        &with(
            "server",
            "metrics_listen",
            "metrics_listen = \"127.0.0.1:8080\"",
        ),
        "server.metrics_listen",
        "is server.listen's own address",
    );
    refused(
        &with("server", "metrics_listen", "metrics_listen = 9090"),
        "server.metrics_listen",
        "expected text in quotes, found a whole number",
    );
}

#[test]
fn connection_limits_have_defaults_and_ranges() {
    let server = Config::from_toml(GOOD).expect("good").server;
    assert_eq!(
        server.header_read_timeout,
        std::time::Duration::from_secs(10)
    );
    assert_eq!(server.max_connections, 10_000);
    let set = |key: &str, value: i64| with("server", key, &format!("{key} = {value}"));
    let config = Config::from_toml(&set("max_connections", 64)).expect("64 connections");
    assert_eq!(config.server.max_connections, 64);
    for (key, bad, range) in [
        ("header_read_timeout_seconds", 0, "outside 1..=300"),
        ("header_read_timeout_seconds", 301, "outside 1..=300"),
        ("max_connections", 0, "outside 1..=1000000"),
        ("max_connections", 1_000_001, "outside 1..=1000000"),
    ] {
        refused(&set(key, bad), &format!("server.{key}"), range);
    }
}

#[test]
fn config_watch_seconds_takes_0_to_turn_it_off_up_to_an_hour() {
    let set = |value: i64| {
        with(
            "server",
            "config_watch_seconds",
            &format!("config_watch_seconds = {value}"),
        )
    };
    for good in [0, 1, 10, 3600] {
        assert_eq!(problems(&set(good)), "", "config_watch_seconds = {good}");
    }
    for bad in [-1, 3601] {
        refused(&set(bad), "server.config_watch_seconds", "outside 0..=3600");
    }
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
        "metrics_listen",
        "header_read_timeout_seconds",
        "max_connections",
        "config_watch_seconds",
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
        "redis_high_water_percent",
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
        "on_email_conflict",
        "require_email_verified",
        "email_domains",
        "required_claims",
        "max_age_seconds",
        "labels",
        "label_claims",
        "backchannel_logout",
        "backchannel_logout_sid_seconds",
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
fn access_policy_keys_are_checked_by_check_config() {
    let corp = |line: &str| {
        let key = line.split('=').next().unwrap_or_default().trim();
        edit(GOOD, "providers.corp", key, line)
    };
    let good = [
        r#"email_domains = ["example.com", "bücher.example"]"#,
        "require_email_verified = true",
        r#"required_claims = { groups = ["staff"], "https://example.com/roles" = ["admin", true] }"#,
        "max_age_seconds = 0",
        r#"labels = ["staff", "Team42"]"#,
        r#"label_claims = ["https://example.com/roles"]"#,
        r#"on_email_conflict = "create_without_email""#,
    ];
    for line in good {
        assert_eq!(problems(&corp(line)), "", "{line}");
    }
    for (line, key, reason) in [
        (
            r#"email_domains = ["*.example.com"]"#,
            "providers.corp.email_domains",
            "wildcard",
        ),
        (
            r#"email_domains = "example.com""#,
            "providers.corp.email_domains",
            "must be an array",
        ),
        (
            "require_email_verified = 1",
            "providers.corp.require_email_verified",
            "true or false",
        ),
        (
            r#"required_claims = { groups = "staff" }"#,
            r#"providers.corp.required_claims."groups""#,
            "array of strings or booleans",
        ),
        (
            r#"required_claims = { groups = [] }"#,
            r#"providers.corp.required_claims."groups""#,
            "admits nobody",
        ),
        (
            r#"required_claims = { groups = [""] }"#,
            r#"providers.corp.required_claims."groups""#,
            "empty string",
        ),
        (
            r#"required_claims = { level = [2] }"#,
            r#"providers.corp.required_claims."level""#,
            "string or a boolean, found 2",
        ),
        (
            "max_age_seconds = -5",
            "providers.corp.max_age_seconds",
            "whole number",
        ),
        (
            r#"labels = ["read-only"]"#,
            "providers.corp.labels",
            "not a valid Appwrite label",
        ),
        (
            r#"labels = ["idpbridge"]"#,
            "providers.corp.labels",
            "reserved for the gateway",
        ),
        (
            r#"label_claims = [""]"#,
            "providers.corp.label_claims",
            "is empty",
        ),
        (
            r#"on_email_conflict = "link""#,
            "providers.corp.on_email_conflict",
            "\"fail\" or \"create_without_email\"",
        ),
    ] {
        refused(&corp(line), key, reason);
    }
    // A misspelt key is still the provider crate's to refuse, by name.
    refused(
        &corp(r#"email_domain = ["example.com"]"#),
        "providers.corp.email_domain",
        "unknown key; did you mean \"email_domains\"?",
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
        "unknown key; \"project\" takes no _file form (only its secrets do: api_key, id_key, encryption_keys, redis_url)",
    );
    // A provider table takes the _file form of its own type's secrets only: an `oidc` table
    // has no `hmac_secrets` (a `signed_assertion` key), in either form.
    refused(
        &with(
            "providers.corp",
            "hmac_secrets_file",
            "hmac_secrets_file = \"x\"",
        ),
        "providers.corp.hmac_secrets_file",
        "unknown key",
    );
    refused(
        &with("providers.corp", "issuer", "issuer_file = \"x\""),
        "providers.corp.issuer_file",
        "unknown key; \"issuer\" takes no _file form (only its secrets do: client_secret)",
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
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
            .arg("gen-key")
            .args(args)
            .output()
            .expect("run gen-key");
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    };
    let (a, b) = (run(&["--raw"]), run(&["--raw"]));
    assert_ne!(a, b, "every key is new");
    let text = with("mapping", "id_key", &format!("id_key = \"{a}\""));
    assert_eq!(problems(&text), "");

    // Without --raw: TOML to paste, the [mapping] table with its id_key.
    let toml_text = run(&[]);
    let parsed: toml::Table = toml_text.parse().expect("gen-key prints TOML");
    let key = parsed["mapping"]["id_key"]
        .as_str()
        .expect("mapping.id_key");
    let text = with("mapping", "id_key", &format!("id_key = \"{key}\""));
    assert_eq!(problems(&text), "");
}

/// The `[providers.*]` tables of the TOML blocks of README.md and of every page of the book
/// (`docs/`), each as its own text.
fn documented_provider_tables() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    crate::layering::files_with_extension(&root.join("docs"), "md", &mut pages);
    let mut tables = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("a page");
        tables.extend(provider_tables(&text));
    }
    tables
}

/// The `[providers.*]` tables of one Markdown text's TOML blocks.
fn provider_tables(text: &str) -> Vec<String> {
    let mut tables = Vec::new();
    let mut in_toml = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("```") {
            in_toml = !in_toml && line.trim() == "```toml";
            tables.extend(current.take());
            continue;
        }
        if !in_toml {
            continue;
        }
        if line.starts_with('[') {
            tables.extend(current.take());
            if line.starts_with("[providers.") {
                current = Some(String::new());
            }
        }
        if let Some(table) = &mut current {
            table.push_str(line);
            table.push('\n');
        }
    }
    tables
}

#[test]
fn every_provider_block_in_the_docs_passes_check_config() {
    let tables = documented_provider_tables();
    for kind in [
        "auth0",
        "google",
        "entra",
        "oidc",
        "signed_assertion",
        "typingdna",
    ] {
        assert!(
            tables
                .iter()
                .any(|t| t.contains(&format!("type = \"{kind}\""))),
            "the docs show no `type = \"{kind}\"` block"
        );
    }
    for needle in ["okta.com", "/realms/", "org_"] {
        assert!(
            tables.iter().any(|t| t.contains(needle)),
            "the docs show no {needle} block"
        );
    }
    // `*_file` keys name files of the reader's machine: here they get files with a fitting
    // content, so the file form is checked too.
    let dir = tempfile::tempdir().expect("tempdir");
    let public_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .expect("P-256 key")
        .public_key_pem();
    for table in &tables {
        let mut table = table.clone();
        for line in table.clone().lines() {
            let Some((key, rest)) = line.split_once("_file = \"") else {
                continue;
            };
            let Some((path, _)) = rest.split_once('"') else {
                continue;
            };
            let content = match key.trim() {
                "public_keys" => public_key.clone(),
                _ => "a-file-secret-of-more-than-32-bytes-0123456789".to_string(),
            };
            let file = dir.path().join(format!("{}.txt", key.trim()));
            std::fs::write(&file, content).expect("write");
            table = table.replace(path, &file.display().to_string());
        }
        // Beside the good configuration's own provider, under the page's id.
        let text = format!("{GOOD}\n{table}");
        assert_eq!(problems(&text), "", "this documented block fails:\n{table}");
    }
    // The check can fail: a documented block with a typo is refused.
    let broken = tables[0].replacen("client_id", "clientid", 1);
    assert_ne!(problems(&format!("{GOOD}\n{broken}")), "");
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
        "is not one of",
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
        "unknown key; did you mean \"require_high_confidence\"?",
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

/// `GOOD` with `[store]` holding `lines` (its `backend` line included).
fn store(lines: &str) -> String {
    let text = with("store", "backend", "");
    edit(&text, "store", "backend", lines)
}

/// A valid `encryption_keys` entry.
const STORE_KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn a_redis_store_needs_its_url_and_keys_and_each_problem_is_named() {
    let good = format!(
        "backend = \"redis\"\nredis_url = \"redis://:pw-0123456789abcdef@cache:6379/1\"\nencryption_keys = [\"{STORE_KEY}\"]"
    );
    assert_eq!(problems(&store(&good)), "");
    let cluster =
        format!("{good}\nredis_cluster = true\nkey_prefix = \"gw1:\"\nredis_timeout_ms = 250");
    assert_eq!(problems(&store(&cluster)), "");

    let bare = problems(&store("backend = \"redis\""));
    for (key, reason) in [
        ("store.redis_url", "is required"),
        ("store.encryption_keys", "is required"),
    ] {
        assert!(bare.contains(&format!("{key}: {reason}")), "{bare}");
    }
    let keys_only = format!("backend = \"redis\"\nencryption_keys = [\"{STORE_KEY}\"]");
    refused(
        &store(&format!("{keys_only}\nredis_url = \"http://cache:6379\"")),
        "store.redis_url",
        "scheme \"http\"",
    );
    // A URL's password never appears in a message about it.
    let bad_url = problems(&store(&format!(
        "{keys_only}\nredis_url = \"redis://:pw-0123456789abcdef@cache:6379/not-a-db\""
    )));
    assert!(bad_url.contains("store.redis_url: "), "{bad_url}");
    assert!(!bad_url.contains("pw-0123456789abcdef"), "{bad_url}");
    // `#insecure` would make the Redis client skip the TLS certificate check.
    let insecure = problems(&store(&format!(
        "{keys_only}\nredis_url = \"rediss://:pw-0123456789abcdef@cache:6380#insecure\""
    )));
    assert!(
        insecure.contains("store.redis_url: has a #fragment"),
        "{insecure}"
    );
    assert!(!insecure.contains("pw-0123456789abcdef"), "{insecure}");
    refused(
        &store(&format!("{good}\nredis_timeout_ms = 0")),
        "store.redis_timeout_ms",
        "outside 10..=10000",
    );
    let high_water = |line: &str| {
        let config = Config::from_toml(&store(&format!("{good}{line}"))).expect("valid");
        config.store.redis.expect("redis").high_water_percent
    };
    assert_eq!(high_water(""), 80, "the default");
    assert_eq!(high_water("\nredis_high_water_percent = 90"), 90);
    for bad in [9, 96] {
        refused(
            &store(&format!("{good}\nredis_high_water_percent = {bad}")),
            "store.redis_high_water_percent",
            "outside 10..=95",
        );
    }
    refused(
        &store(&format!("{good}\nkey_prefix = \"has space\"")),
        "store.key_prefix",
        "printable ASCII",
    );
    refused(
        &store(&format!(
            "{keys_only}\nredis_url = \"unix:///run/redis.sock\"\nredis_cluster = true"
        )),
        "store.redis_cluster",
        "needs a redis:// or rediss://",
    );
}

#[test]
fn bad_encryption_keys_are_named_by_position_and_never_echoed() {
    let url = "backend = \"redis\"\nredis_url = \"redis://cache:6379\"";
    let keys = |list: &str| store(&format!("{url}\nencryption_keys = {list}"));
    let short = "k2:AAECAwQFBgcICQoLDA0ODw==";
    let message = problems(&keys(&format!(
        "[\"{STORE_KEY}\", \"no-id-here\", \"k3:not base64 at all!\", \"{short}\", \"{STORE_KEY}\"]"
    )));
    for (key, reason) in [
        ("store.encryption_keys[1]", "must be \"<id>:<base64"),
        ("store.encryption_keys[2]", "not base64"),
        (
            "store.encryption_keys[3]",
            "holds 16 bytes; AES-256-GCM needs exactly 32",
        ),
        ("store.encryption_keys[4]", "used by an earlier entry"),
    ] {
        assert!(message.contains(&format!("{key}: ")), "{key} in {message}");
        assert!(message.contains(reason), "{reason} in {message}");
    }
    assert!(!message.contains("not base64 at all"), "{message}");
    assert!(!message.contains("AAECAwQFBgcICQoLDA0ODw"), "{message}");
    refused(&keys("[]"), "store.encryption_keys", "lists no key");
}

#[test]
fn encryption_keys_and_the_redis_url_may_come_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("keys"),
        format!("# newest first\nk2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n{STORE_KEY}\n"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("url"),
        "redis://:pw-0123456789abcdef@cache:6379\n",
    )
    .expect("write");
    let path = dir.path().join("config.toml");
    let text =
        store("backend = \"redis\"\nredis_url_file = \"url\"\nencryption_keys_file = \"keys\"");
    std::fs::write(&path, text).expect("write");
    let config = Config::load(&path).expect("the files are read");
    let redis = config.store.redis.as_ref().expect("redis settings");
    assert_eq!(redis.keys.ids().collect::<Vec<_>>(), ["k2", "k1"]);
    // Neither the URL's password nor a key shows in the configuration's Debug.
    let debug = format!("{config:?}");
    assert!(!debug.contains("pw-0123456789abcdef"), "{debug}");
    assert!(
        !debug.contains("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
        "{debug}"
    );
}

#[test]
fn redis_keys_with_the_memory_store_are_refused() {
    for line in [
        "redis_url = \"redis://cache:6379\"",
        "redis_cluster = true",
        "key_prefix = \"x:\"",
        "redis_timeout_ms = 500",
        "redis_high_water_percent = 80",
    ] {
        let key = line.split(' ').next().expect("key");
        refused(
            &store(&format!("backend = \"memory\"\n{line}")),
            &format!("store.{key}"),
            "is set but store.backend is not \"redis\"",
        );
    }
    refused(
        &store(&format!("encryption_keys = [\"{STORE_KEY}\"]")),
        "store.encryption_keys",
        "is set but store.backend is not \"redis\"",
    );
}

#[test]
fn gen_key_prints_a_usable_encryption_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .arg("gen-key")
        .output()
        .expect("run gen-key");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("# encryption_keys = "))
        .unwrap_or_else(|| panic!("no encryption_keys line in:\n{text}"));
    let config = store(&format!(
        "backend = \"redis\"\nredis_url = \"redis://cache:6379\"\nencryption_keys = {line}"
    ));
    assert_eq!(problems(&config), "");
}
