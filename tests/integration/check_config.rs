//! `idp-bridge check-config` as a user meets it: the real binary over a table of broken files.
//! Every unknown key in one run, each with a "did you mean" and its table's full key list; a
//! bad value from the environment names its variable; placeholders are warnings for
//! check-config and a refusal for `serve` unless `--development`.

use std::path::Path;
use std::process::{Command, Output};

/// A configuration with no problem and no warning (loopback URLs, made-up but real-looking
/// values).
pub(crate) const CLEAN: &str = r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:8080"

[appwrite]
endpoint = "http://127.0.0.1:9/v1"
project = "shop-prod"
api_key = "standard_0123456789abcdef"

[redirect]
allowed = ["http://127.0.0.1:3000/auth/"]

[mapping]
id_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

[providers.corp]
type = "oidc"
display_name = "Corporate SSO"
issuer = "http://127.0.0.1:9/"
client_id = "gw"
client_secret = "s3cret-0123456789"
"#;

pub(crate) fn run(text: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    command(&path, args, env)
}

fn command(path: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idp-bridge"));
    command.args(args).arg("--config").arg(path);
    // Only the variables a case sets: none leaks in from the developer's shell.
    for (name, _) in std::env::vars() {
        if name.starts_with("IDP_BRIDGE_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("run idp-bridge")
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_clean_file_is_valid_without_warnings() {
    let out = run(CLEAN, &["check-config"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("config.toml: valid\n"),
        "{}",
        text(&out)
    );
}

#[test]
fn broken_files_are_explained_in_one_run() {
    struct Case {
        what: &'static str,
        file: String,
        env: &'static [(&'static str, &'static str)],
        exit: i32,
        says: &'static [&'static str],
    }
    let cases = [
        Case {
            what: "two typos in two tables, both reported at once",
            file: CLEAN
                .replace("display_name =", "dispaly_name =")
                .replace("public_url =", "publc_url ="),
            env: &[],
            exit: 2,
            says: &[
                "providers.corp.dispaly_name: unknown key; did you mean \"display_name\"? [providers.corp] (type \"oidc\") takes: type, display_name, trusted_for_email, link_by_email, on_email_conflict, require_email_verified, email_domains, required_claims, max_age_seconds, labels, label_claims, issuer, client_id, client_secret (or client_secret_file),",
                "server.publc_url: unknown key; did you mean \"public_url\"? [server] takes: listen, public_url, trusted_proxies, cors_origins",
            ],
        },
        Case {
            what: "a key in the wrong table, and a section that does not exist",
            file: format!("{CLEAN}\n[tokens]\nlength = 64\n").replace(
                "project = \"shop-prod\"",
                "project = \"shop-prod\"\napi_key_flie = \"x\"",
            ),
            env: &[],
            exit: 2,
            says: &[
                "tokens: unknown key; did you mean \"token\"? the file (top level) takes: server, appwrite, token, redirect, store, mapping, rate_limit, log, tls, providers",
                "appwrite.api_key_flie: unknown key; did you mean \"api_key_file\"? [appwrite] takes: endpoint, project, api_key (or api_key_file), timeout_ms",
            ],
        },
        Case {
            what: "a bad value from the environment names its variable",
            file: CLEAN.to_string(),
            env: &[("IDP_BRIDGE_TOKEN__LENGTH", "abc")],
            exit: 2,
            says: &[
                "token.length: ",
                "(set by the environment variable IDP_BRIDGE_TOKEN__LENGTH)",
            ],
        },
        Case {
            what: "an out-of-range value from the environment names its variable",
            file: CLEAN.to_string(),
            env: &[("IDP_BRIDGE_TOKEN__EXPIRE_SECONDS", "5")],
            exit: 2,
            says: &[
                "token.expire_seconds: 5 is outside 60..=31536000 (set by the environment variable IDP_BRIDGE_TOKEN__EXPIRE_SECONDS)",
            ],
        },
        Case {
            what: "placeholders are warnings, not errors, and their values are not shown",
            file: CLEAN.replace("s3cret-0123456789", "replace-me").replace(
                "http://127.0.0.1:3000/auth/",
                "https://app.example.com/auth/",
            ),
            env: &[],
            exit: 0,
            says: &[
                "valid, with 2 warning(s)",
                "warning: providers.corp.client_secret: looks like a placeholder",
                "warning: redirect.allowed: uses app.example.com, a domain reserved for examples",
            ],
        },
        Case {
            what: "an entra provider may not vouch for emails: check-config says why",
            file: format!(
                "{CLEAN}\n[providers.ms]\ntype = \"entra\"\ntenant = \"3f1e0a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b\"\n\
                 client_id = \"gw\"\nclient_secret = \"s3cret-0123456789\"\n\
                 trusted_for_email = true\nlink_by_email = true\n"
            ),
            env: &[],
            exit: 2,
            says: &[
                "providers.ms.trusted_for_email: cannot be true on an entra provider: ",
                "providers.ms.link_by_email: cannot be true on an entra provider: ",
                "xms_edov",
            ],
        },
        Case {
            what: "two providers on one issuer: valid, with a warning naming both and the consequence",
            file: format!(
                "{CLEAN}\n[providers.corp2]\ntype = \"oidc\"\nissuer = \"http://127.0.0.1:9/\"\n\
                 client_id = \"gw2\"\nclient_secret = \"s3cret-0123456789\"\n"
            ),
            env: &[],
            exit: 0,
            says: &[
                "config.toml: valid\n",
                "warning (serve starts anyway): providers.corp2: has the same issuer as providers.corp: ",
                "same Appwrite user",
            ],
        },
    ];
    for case in cases {
        let out = run(&case.file, &["check-config"], case.env);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(case.exit), "{}: {all}", case.what);
        for expected in case.says {
            assert!(
                all.contains(expected),
                "{}: expected {expected:?} in:\n{all}",
                case.what
            );
        }
        assert!(
            !all.contains("replace-me"),
            "{}: a value was echoed: {all}",
            case.what
        );
    }
}

#[test]
fn serve_refuses_placeholders_unless_development() {
    let file = CLEAN.replace("s3cret-0123456789", "replace-me");
    let out = run(&file, &["serve"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("refusing to serve a configuration with placeholders"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("providers.corp.client_secret"),
        "{}",
        text(&out)
    );

    // With --development it starts (and is stopped here once it listens).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &file).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_idp-bridge"));
    for (name, _) in std::env::vars() {
        if name.starts_with("IDP_BRIDGE_") {
            child.env_remove(name);
        }
    }
    let mut child = child
        .args(["serve", "--development", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start");
    let started = std::time::Instant::now();
    let mut running = false;
    while started.elapsed() < std::time::Duration::from_secs(20) {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        running = true;
        if started.elapsed() > std::time::Duration::from_secs(2) {
            break;
        }
    }
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    assert!(
        running && still_running,
        "serve --development exited: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("configuration warning (serving anyway: --development)"),
        "{}",
        text(&out)
    );
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .arg("--version")
        .output()
        .expect("run");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        line.starts_with(&format!(
            "idp-bridge {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{line}"
    );
}

#[test]
fn init_writes_a_config_for_each_provider_that_check_config_accepts_with_only_its_blanks() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (provider, id) in [
        ("auth0", "auth0"),
        ("google", "google"),
        ("entra", "entra"),
        ("okta", "okta"),
        ("keycloak", "keycloak"),
        ("oidc", "corp"),
    ] {
        let path = dir.path().join(format!("{provider}.toml"));
        let out = Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
            .args(["init", "--provider", provider, "--output"])
            .arg(&path)
            .output()
            .expect("run init");
        assert!(out.status.success(), "{provider}: {}", text(&out));
        let said = text(&out);
        assert!(
            said.contains(&format!("http://127.0.0.1:8080/v1/auth/{id}/callback"))
                && said.contains("idp-bridge check-config --config"),
            "{provider}: the next two steps: {said}"
        );

        let checked = command(&path, &["check-config"], &[]);
        let all = text(&checked);
        assert_eq!(checked.status.code(), Some(0), "{provider}: {all}");
        assert!(all.contains("valid, with"), "{provider}: {all}");
        // Every warning is a blank left for the user, never the generated key.
        for line in all.lines().filter(|l| l.contains("warning: ")) {
            assert!(
                line.contains("placeholder") || line.contains("reserved for examples"),
                "{provider}: {line}"
            );
            assert!(!line.contains("mapping.id_key"), "{provider}: {line}");
        }
        assert!(
            all.contains("appwrite.api_key: looks like a placeholder"),
            "{provider}: {all}"
        );

        // Never over an existing file.
        let again = Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
            .args(["init", "--provider", provider, "--output"])
            .arg(&path)
            .output()
            .expect("run init");
        assert_eq!(again.status.code(), Some(2), "{provider}");
        assert!(text(&again).contains("never overwrites"), "{provider}");
    }
}
