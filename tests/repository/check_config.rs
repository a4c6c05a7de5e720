//! `idp-bridge check-config` as a user meets it: the real binary over a table of broken files.
//! Every unknown key in one run, each with a "did you mean" and its table's full key list; a
//! bad value from the environment names its variable; a value of the wrong type is said in plain
//! words without hiding the rest; placeholders and other unintended values are warnings, which
//! `serve` refuses unless `--development`, and check-config's exit status says so too.

use std::process::Command;

pub(crate) use crate::check_config_cli::{CLEAN, command, run, text};

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
                "tokens: unknown key; did you mean \"token\"? the file (top level) takes: server, appwrite, token, redirect, store, mapping, rate_limit, log, audit, tls, providers",
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
            what: "placeholders are warnings, their values are not shown, and serve would refuse them",
            file: CLEAN.replace("s3cret-0123456789", "replace-me").replace(
                "http://127.0.0.1:3000/auth/",
                "https://app.example.com/auth/",
            ),
            env: &[],
            exit: 2,
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
            what: "an audit file the gateway cannot open for appending is named, with the OS's reason",
            file: format!("{CLEAN}\n[audit]\nfile = \"no-such-folder/audit.jsonl\"\n"),
            env: &[],
            exit: 2,
            says: &[
                "audit.file: cannot open ",
                "no-such-folder/audit.jsonl for appending: No such file or directory",
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
        Case {
            what: "a `*` in the redirect allow-list is no wildcard",
            file: CLEAN.replace(
                "allowed = [\"http://127.0.0.1:3000/auth/\"]",
                "allowed = [\"http://127.0.0.1:3000/auth/\", \"https://*.acme.io/\"]",
            ),
            env: &[],
            exit: 2,
            says: &[
                "warning: redirect.allowed: entry 2 contains `*`, which is no wildcard here",
            ],
        },
        Case {
            what: "allow_insecure_http for a host that is not loopback",
            file: CLEAN.replace(
                "issuer = \"http://127.0.0.1:9/\"",
                "issuer = \"http://idp.acme.io/\"\nallow_insecure_http = true",
            ),
            env: &[],
            exit: 2,
            says: &["warning: providers.corp.allow_insecure_http: is on for a host that is not loopback"],
        },
        Case {
            what: "plain redis:// to a host that is not loopback, without its password in the message",
            file: format!(
                "{CLEAN}\n[store]\nbackend = \"redis\"\nredis_url = \"redis://:replace-me@cache.acme.internal:6379\"\nencryption_keys = [\"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"]\n"
            ),
            env: &[],
            exit: 2,
            says: &["warning: store.redis_url: is plain redis:// to a host that is not loopback"],
        },
        Case {
            what: "an Auth0 organization given by name, where the token carries the id",
            file: format!(
                "{CLEAN}\n[providers.a0]\ntype = \"auth0\"\ndomain = \"acme.eu.auth0.com\"\norganization = \"acme-corp\"\nclient_id = \"gw\"\nclient_secret = \"s3cret-0123456789\"\n"
            ),
            env: &[],
            exit: 2,
            says: &["warning: providers.a0.organization: is not an organization id (org_"],
        },
        Case {
            what: "values of the wrong type, in plain words, each with the other problems of its table",
            file: CLEAN
                .replace(
                    "allowed = [\"http://127.0.0.1:3000/auth/\"]",
                    "allowed = \"http://127.0.0.1:3000/auth/\"\ndelivery = \"post\"",
                )
                .replace(
                    "api_key = \"standard_0123456789abcdef\"",
                    "api_key = \"standard_0123456789abcdef\"\ntimeout_ms = \"fast\"\nproject = \"-bad\"",
                )
                .replace("project = \"shop-prod\"\n", "")
                .replace("client_id = \"gw\"", "client_id = \"gw\"\nscopes = \"openid\"\ntimeout_ms = \"5s\""),
            env: &[],
            exit: 2,
            says: &[
                "redirect.allowed: expected a list of URLs (in brackets: allowed = [",
                "redirect.delivery: \"post\" is not one of \"query\" or \"fragment\"",
                "appwrite.timeout_ms: expected a whole number, found text",
                "appwrite.project: \"-bad\" is not a valid Appwrite project id",
                "providers.corp.scopes: expected a list of scopes",
                "providers.corp.timeout_ms: expected a whole number, 0 or more, found text",
            ],
        },
        Case {
            what: "a list given as text by the environment: how a list is written there",
            file: CLEAN.to_string(),
            env: &[("IDP_BRIDGE_REDIRECT__ALLOWED", "http://127.0.0.1:3000/auth/")],
            exit: 2,
            says: &[
                "redirect.allowed: expected a list of URLs",
                "(set by the environment variable IDP_BRIDGE_REDIRECT__ALLOWED; a list is written there in brackets: IDP_BRIDGE_REDIRECT__ALLOWED='[\"https://a/\",\"https://b/\"]')",
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
fn check_config_exits_as_serve_would() {
    let placeholder = CLEAN.replace("s3cret-0123456789", "replace-me");
    let code = |file: &str, args: &[&str], env: &[(&str, &str)]| run(file, args, env).status.code();
    assert_eq!(code(CLEAN, &["check-config"], &[]), Some(0));
    assert_eq!(code(&placeholder, &["check-config"], &[]), Some(2));
    assert_eq!(code(&placeholder, &["serve"], &[]), Some(2));
    assert_eq!(
        code(&placeholder, &["check-config", "--development"], &[]),
        Some(0)
    );
    assert_eq!(
        code(
            &placeholder,
            &["check-config"],
            &[("IDP_BRIDGE_DEVELOPMENT", "true")]
        ),
        Some(0)
    );
    let said = text(&run(&placeholder, &["check-config", "--development"], &[]));
    assert!(said.contains("allowed by --development"), "{said}");
    let help = Command::new(env!("CARGO_BIN_EXE_idp-bridge"))
        .args(["check-config", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Exit status: 0")
            && help.contains("--online")
            && help.contains("--development"),
        "{help}"
    );
}

#[test]
fn serve_refuses_placeholders_unless_development() {
    let file = CLEAN.replace("s3cret-0123456789", "replace-me");
    let out = run(&file, &["serve"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("refusing to serve a configuration with warnings"),
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
    // Its output, line by line, until both pipes close (the process exited or was killed).
    let (lines, output) = std::sync::mpsc::channel::<String>();
    let readers = [
        read_lines(child.stdout.take().expect("stdout"), lines.clone()),
        read_lines(child.stderr.take().expect("stderr"), lines),
    ];
    // Waits for the line that says it listens, not a fixed time; the deadline only guards
    // against a hang.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut said = String::new();
    let listening = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match output.recv_timeout(left) {
            Ok(line) => {
                said.push_str(&line);
                said.push('\n');
                if line.contains("idp-bridge listening") {
                    break true;
                }
            }
            // Exited (both pipes closed), or the hang guard.
            Err(_) => break false,
        }
    };
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let status = child.wait().expect("wait");
    for reader in readers {
        reader.join().expect("reader");
    }
    said.extend(output.try_iter().map(|line| line + "\n"));
    assert!(
        listening && still_running,
        "serve --development did not listen ({status}): {said}"
    );
    assert!(
        said.contains("configuration warning (serving anyway: --development)"),
        "{said}"
    );
}

/// Sends each line `from` gives to `to`, until its end.
fn read_lines(
    from: impl std::io::Read + Send + 'static,
    to: std::sync::mpsc::Sender<String>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if to.send(line).is_err() {
                break;
            }
        }
    })
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

        // Its blanks are warnings: serve would refuse them, and so does check-config.
        let checked = command(&path, &["check-config"], &[]);
        let all = text(&checked);
        assert_eq!(checked.status.code(), Some(2), "{provider}: {all}");
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
