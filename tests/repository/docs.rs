//! The book in `docs/` stays true to the code:
//! - the configuration reference lists every key the gateway takes (as check-config reports
//!   them), and the same keys as `config.example.toml`;
//! - the OpenAPI document of the HTTP API parses, has every route of the router, and lists
//!   every error type the code can answer (found in the code, not in a list kept by hand);
//! - the internal link check (`scripts/check-doc-links`) passes, and finds a broken link.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use idp_bridge::config::Config;
use idp_bridge::key_names::GATEWAY_SECRET_KEYS;
use idp_bridge::registry::PROVIDERS;

use crate::check_config;
use crate::layering::{production_code, rust_files};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (table, key) pairs; every `[providers.<id>]` table is the table `providers`.
type Keys = BTreeSet<(String, String)>;

/// `providers.corp` → `providers`; `server` → `server`.
fn table_of(header: &str) -> String {
    header.split('.').next().unwrap_or(header).to_string()
}

/// A secret key's `_file` form counts as the key itself (`api_key_file` → `api_key`): the
/// gateway's own secret keys and every built-in provider type's.
fn key_of(key: &str) -> String {
    let secret = |stem: &str| {
        GATEWAY_SECRET_KEYS.contains(&stem)
            || PROVIDERS.iter().any(|p| p.secret_keys.contains(&stem))
    };
    match key.strip_suffix("_file") {
        Some(stem) if secret(stem) => stem.to_string(),
        _ => key.to_string(),
    }
}

fn is_key(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every key `config.example.toml` sets or shows commented out, by table.
fn example_keys(text: &str) -> Keys {
    let mut keys = Keys::new();
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = table_of(header);
        } else if let Some((key, _)) = line.split_once('=')
            && is_key(key.trim())
            && !table.is_empty()
        {
            keys.insert((table.clone(), key_of(key.trim())));
        }
    }
    keys
}

/// Every key of the reference page: the backticked names in the first cell of each table row,
/// under the `## ` heading that names their table (`` ## `[server]` ``).
fn reference_keys(text: &str) -> Keys {
    let mut keys = Keys::new();
    let mut table: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            table = heading
                .split_once("`[")
                .and_then(|(_, rest)| rest.split_once("]`"))
                .map(|(header, _)| table_of(header));
        } else if let (Some(table), Some(row)) = (&table, line.strip_prefix("| `")) {
            let cell = row.split('|').next().unwrap_or_default();
            for name in format!("`{cell}").split('`').skip(1).step_by(2) {
                if is_key(name) {
                    keys.insert((table.clone(), key_of(name)));
                }
            }
        }
    }
    keys
}

/// The keys listed after "takes: " in a check-config problem.
fn taken(problem: &str) -> Vec<String> {
    let (_, list) = problem
        .split_once("takes: ")
        .unwrap_or_else(|| panic!("no key list in {problem:?}"));
    list.split(", ")
        .map(|item| {
            item.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The problems check-config reports for `text`.
fn problems(text: &str) -> Vec<String> {
    match Config::from_toml(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems(),
    }
}

/// Every key the gateway takes, as check-config lists them for an unknown key in each table
/// and in a table of each provider type.
fn code_keys() -> Keys {
    let probe = "zz_probe = 1";
    let top = problems(probe);
    let tables = taken(
        top.iter()
            .find(|p| p.starts_with("zz_probe: "))
            .expect("the top level's key list"),
    );
    let mut text = format!("{probe}\n");
    for table in tables.iter().filter(|t| *t != "providers") {
        text.push_str(&format!("[{table}]\n{probe}\n"));
    }
    for kind in idp_bridge::registry::PROVIDERS.iter().map(|t| t.kind) {
        text.push_str(&format!(
            "[providers.p_{kind}]\ntype = \"{kind}\"\n{probe}\n"
        ));
    }
    let mut keys = Keys::new();
    for problem in problems(&text) {
        let Some((place, _)) = problem.split_once(": ") else {
            continue;
        };
        let Some(table) = place.strip_suffix(".zz_probe") else {
            continue;
        };
        for key in taken(&problem) {
            keys.insert((table_of(table), key_of(&key)));
        }
    }
    assert!(
        keys.iter().any(|(t, _)| t == "providers") && keys.len() > 60,
        "the probe found too few keys: {keys:?}"
    );
    keys
}

/// Fails naming every key that only one of two places lists.
#[track_caller]
fn assert_same_keys(a: &Keys, a_name: &str, b: &Keys, b_name: &str) {
    let only = |x: &Keys, y: &Keys| -> Vec<String> {
        x.difference(y).map(|(t, k)| format!("{t}.{k}")).collect()
    };
    assert_eq!(
        only(a, b),
        Vec::<String>::new(),
        "keys of {a_name} missing in {b_name}"
    );
    assert_eq!(
        only(b, a),
        Vec::<String>::new(),
        "keys of {b_name} missing in {a_name}"
    );
}

#[test]
fn the_configuration_reference_documents_every_key_the_gateway_takes_and_no_other() {
    assert_same_keys(
        &code_keys(),
        "the gateway (check-config)",
        &reference_keys(&read("docs/reference/configuration.md")),
        "docs/reference/configuration.md",
    );
}

#[test]
fn config_example_toml_shows_the_keys_of_the_reference_and_no_other() {
    assert_same_keys(
        &example_keys(&read("config.example.toml")),
        "config.example.toml",
        &reference_keys(&read("docs/reference/configuration.md")),
        "docs/reference/configuration.md",
    );
}

#[test]
fn the_key_readers_see_a_key_in_each_place() {
    // The checks above must be able to fail: each reader finds a key where it is written.
    let pair = |t: &str, k: &str| (t.to_string(), k.to_string());
    let example = example_keys("[server]\nlisten = 1\n# [providers.x]\n# api_key_file = \"f\"\n");
    assert_eq!(
        example,
        Keys::from([pair("server", "listen"), pair("providers", "api_key")])
    );
    let reference = reference_keys(
        "## `[store]`\n| key | default |\n|---|---|\n| `backend` | `\"memory\"` |\n## Other\n| `x` |",
    );
    assert_eq!(reference, Keys::from([pair("store", "backend")]));
}

/// The string literal `code` starts with (after whitespace), if it starts with one.
fn literal_at(code: &str) -> Option<&str> {
    let rest = code.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(literal, _)| literal)
}

/// The snake_case string literals of `code`.
fn snake_literals(code: &str) -> impl Iterator<Item = &str> {
    code.split('"').skip(1).step_by(2).filter(|s| is_key(s))
}

/// The text of the item that starts at `start`, up to its closing brace at the same indent.
fn block_at(code: &str, start: usize) -> &str {
    let line_start = code[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = &code[line_start..start];
    let indent: String = indent.chars().take_while(|c| c.is_whitespace()).collect();
    let end = code[start..]
        .find(&format!("\n{indent}}}"))
        .map_or(code.len(), |i| start + i);
    &code[start..end]
}

/// Every error type the gateway's and the providers' code can put in a response (or, for the
/// plain 400 page, in the metrics): the first argument of the constructors of public errors and
/// rejections, the reason constants of the providers, and what `error_type` methods return.
fn code_error_types() -> BTreeSet<String> {
    let mut files: Vec<PathBuf> = Vec::new();
    rust_files(&root().join("src"), &mut files);
    for entry in std::fs::read_dir(root().join("providers")).expect("providers") {
        let src = entry.expect("entry").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let constructors = [
        "PublicError::new(",
        "ApiError::new(",
        "rejected(",
        "refused(",
        "reject(",
        "reason: ",
        "Cow::Borrowed(",
        // The reason a provider gives when no key fits a token (`with_keys("id_token_unknown_key", …)`).
        "with_keys(",
    ];
    let mut types = BTreeSet::new();
    for file in files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let code = production_code(file);
        for constructor in constructors {
            for (at, _) in code.match_indices(constructor) {
                if let Some(kind) = literal_at(&code[at + constructor.len()..]) {
                    types.insert(kind.to_string());
                }
            }
        }
        for item in ["pub mod reason {", "fn error_type("] {
            for (at, _) in code.match_indices(item) {
                types.extend(snake_literals(block_at(&code, at)).map(String::from));
            }
        }
    }
    types.retain(|t| is_key(t));
    types
}

/// The strings of a JSON array.
fn strings(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_openapi_document_has_every_route_and_every_error_type_the_code_can_answer() {
    let text = read("docs/reference/openapi.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );

    let router = production_code(&root().join("src/http/mod.rs"));
    let routes: BTreeSet<String> = router
        .match_indices(".route(")
        .filter_map(|(at, _)| literal_at(&router[at + ".route(".len()..]).map(String::from))
        .collect();
    let paths: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    assert!(routes.contains("/v1/auth/{provider}/start"), "{routes:?}");
    assert_eq!(
        paths, routes,
        "the document's paths and the router's routes"
    );

    let schema = &doc["components"]["schemas"]["ErrorType"];
    let answered = strings(&schema["enum"]);
    let page_only = strings(&schema["x-metrics-only"]);
    assert!(
        answered.is_disjoint(&page_only),
        "a type is both answered and metrics-only"
    );
    let documented: BTreeSet<String> = answered.union(&page_only).cloned().collect();
    let code = code_error_types();
    for expected in [
        "id_token_issuer_mismatch",
        "typingdna_no_match",
        "general_route_not_found",
        "login_transaction_unknown",
    ] {
        assert!(
            code.contains(expected),
            "the scan missed {expected}: {code:?}"
        );
    }
    assert_eq!(
        code.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "error types the code can answer that docs/reference/openapi.json does not list"
    );
    assert_eq!(
        documented.difference(&code).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "error types docs/reference/openapi.json lists that the code never answers"
    );
    // The errors page of the book lists the same types.
    let page = read("docs/reference/errors.md");
    let unlisted: Vec<&String> = documented
        .iter()
        .filter(|t| !page.contains(&format!("`{t}`")))
        .collect();
    assert_eq!(
        unlisted,
        Vec::<&String>::new(),
        "docs/reference/errors.md lacks"
    );
}

fn check_doc_links(at: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(root().join("scripts/check-doc-links"))
        .arg(at)
        .output()
        .expect("python3 scripts/check-doc-links")
}

#[test]
fn every_internal_link_of_the_docs_resolves_and_the_check_finds_a_broken_one() {
    let out = check_doc_links(root());
    assert!(
        out.status.success(),
        "scripts/check-doc-links:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let docs = dir.path().join("docs/app");
    std::fs::create_dir_all(&docs).expect("mkdir");
    std::fs::write(
        dir.path().join("README.md"),
        "# Title\n\n[ok](docs/app/page.md#a-heading) [gone](docs/missing.md)\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("SECURITY.md"), "# Security\n").expect("write");
    std::fs::write(
        docs.join("page.md"),
        "# Page\n\n## A heading\n\n[bad anchor](#no-such-heading) [out](../../README.md)\n\n\
         ```md\n[in a code block](nowhere.md)\n```\n",
    )
    .expect("write");
    let out = check_doc_links(dir.path());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a broken link must fail: {text}");
    for expected in [
        "README.md:3: docs/missing.md",
        "docs/app/page.md:5: #no-such-heading",
        "docs/app/page.md:5: ../../README.md",
    ] {
        assert!(text.contains(expected), "expected {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("nowhere.md") && !text.contains("a-heading"),
        "{text}"
    );
}

/// `idp-bridge check-config --development` on a clean configuration with exactly the
/// `IDP_BRIDGE_*` variables of `env`. The page's examples use the example domains, warnings that
/// only `--development` lets pass: what is checked here is that their values are read.
fn check_config_with(env: &[(String, String)]) -> (bool, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = check_config::run(
        check_config::CLEAN,
        &["check-config", "--development"],
        &env,
    );
    (out.status.success(), check_config::text(&out))
}

#[test]
fn the_environment_page_examples_set_arrays_and_tables() {
    // Every `export IDP_BRIDGE_...='...'` line of the page, as the shell would pass it.
    let page = read("docs/operators/environment.md");
    let env: Vec<(String, String)> = page
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| (name.to_string(), value.trim_matches('\'').to_string()))
        .collect();
    assert!(
        env.len() >= 4 && env.iter().any(|(_, v)| v.starts_with('[')),
        "{env:?}"
    );
    let (ok, text) = check_config_with(&env);
    assert!(ok && text.contains("valid"), "{text}");

    // The values are read: a bad entry in one of the arrays is named with its variable.
    let mut broken = env.clone();
    let proxies = broken
        .iter_mut()
        .find(|(name, _)| name == "IDP_BRIDGE_SERVER__TRUSTED_PROXIES")
        .expect("the page sets trusted_proxies");
    proxies.1 = proxies.1.replace(']', ", not-an-address]");
    let (ok, text) = check_config_with(&broken);
    assert!(
        !ok && text.contains("server.trusted_proxies")
            && text.contains("IDP_BRIDGE_SERVER__TRUSTED_PROXIES"),
        "{text}"
    );
}
