//! What operators watch: the health gauges beside `/readyz`; the alert rules
//! (`deploy/prometheus/alerts.yaml`) and the dashboard (`deploy/grafana/idp-bridge.json`), which
//! may read only metrics and labels that a running gateway exposes; and the runbook
//! (`docs/runbook.md`), which must explain every alert and every error type the gateway emits.
//! promtool checks the rules' syntax and runs their tests in CI (`.ci/run`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use appwrite_emulator::{Fault, FaultScope};
use mock_op::Behavior;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{FAILURE, Options, SUCCESS, TestApp, error_of, location, without_query};
use crate::metrics::{exchange_at_hook, hook_table, scrape};
use crate::ops::{DOWN_PROVIDER, spawn_with_one_provider_down};
use crate::signed_assertion::HOOK_SECRET;

const ALERTS: &str = "deploy/prometheus/alerts.yaml";
const ALERT_TESTS: &str = "deploy/prometheus/alerts.test.yaml";
const DASHBOARD: &str = "deploy/grafana/idp-bridge.json";
const RUNBOOK: &str = "docs/runbook.md";

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The gauges say what `/readyz` says, per dependency: a provider that is down is 0 under its
/// own id, the others stay 1.
#[tokio::test]
async fn the_health_gauges_say_what_readyz_says() {
    let app = spawn_with_one_provider_down().await;
    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    let ready = app.get(&format!("{}/readyz", app.gateway)).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let scrape = scrape(&app).await;
    for (series, value) in [
        (r#"idp_bridge_provider_up{provider="corp"}"#, 1.0),
        (r#"idp_bridge_provider_up{provider="down"}"#, 0.0),
        ("idp_bridge_appwrite_up", 0.0),
        ("idp_bridge_store_up", 1.0),
    ] {
        assert_eq!(scrape.value(series), value, "{series} in\n{}", scrape.text);
    }
}

/// The label names of every series in an exposition, by sample name (`x_bucket`, `x_total`...).
fn exposed(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = names.entry(line[..end].to_string()).or_default();
        if let Some(inside) = line[end..]
            .strip_prefix('{')
            .and_then(|rest| rest.split_once("} "))
        {
            labels.extend(label_names(inside.0));
        }
    }
    names
}

/// The label names of a selector's or a sample's `name="value",...` (any matcher: `=`, `!=`,
/// `=~`, `!~`). Values here never hold a comma.
fn label_names(inside: &str) -> Vec<String> {
    inside
        .split(',')
        .filter_map(|matcher| {
            let name = matcher.split(['=', '!', '~']).next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Every `idp_bridge_…` name in `text`, wherever it is (expressions, descriptions, comments).
fn gateway_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("idp_bridge_") {
        if text[..at].chars().next_back().is_some_and(is_name_char) {
            continue;
        }
        let tail = &text[at..];
        let end = tail.find(|c: char| !is_name_char(c)).unwrap_or(tail.len());
        // A colon may sit in a name, but not at its end: there it is the prose's.
        names.insert(tail[..end].trim_end_matches(':').to_string());
    }
    names
}

/// Every selector with labels in `text`: `name{...}`, with its label names.
fn selectors(text: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices('{') {
        let before = &text[..at];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_name_char(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let name = &text[start..at];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let inside = text[at + 1..].split('}').next().unwrap_or_default();
        found.push((name.to_string(), label_names(inside)));
    }
    found
}

/// Every string of a JSON document, one per line.
fn json_strings(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => {
            out.push_str(text);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|item| json_strings(item, out)),
        Value::Object(map) => map.values().for_each(|item| json_strings(item, out)),
        _ => {}
    }
}

/// Every metric name and label the alert rules and the dashboard read is one a running gateway
/// exposes. The gateway first serves the traffic that creates every series they read: a login,
/// an exchange, a login at a provider that is down, two tokens with an unknown key (a refetch,
/// then one refused by the minimum interval), a readiness round.
#[tokio::test]
async fn the_alerts_and_the_dashboard_read_only_what_the_gateway_exposes() {
    let app = TestApp::spawn_with(Options {
        extra_toml: format!("{}{DOWN_PROVIDER}", hook_table()),
        ..Options::mock()
    })
    .await;
    assert_eq!(without_query(&app.login("alice").await), SUCCESS);
    let (status, answer) = exchange_at_hook(&app, "hook-user", "j-1", HOOK_SECRET).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let down = app
        .get(app.start_url_at("down", SUCCESS, FAILURE).as_str())
        .await;
    assert_eq!(error_of(&location(&down))["type"], "provider_unavailable");
    let unknown_kid = json!({"kid": "unknown"});
    app.mock().set_behavior(Behavior {
        header_patch: unknown_kid.as_object().cloned().expect("an object"),
        ..Behavior::default()
    });
    for user in ["bob", "alice"] {
        assert_eq!(
            error_of(&app.login(user).await)["type"],
            "id_token_unknown_key"
        );
    }
    assert_eq!(
        app.get(&format!("{}/readyz", app.gateway)).await.status(),
        StatusCode::OK
    );
    let scrape = scrape(&app).await;
    let exposed = exposed(&scrape.text);

    let mut dashboard = String::new();
    json_strings(
        &serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON"),
        &mut dashboard,
    );
    for (file, text) in [(ALERTS, read(ALERTS)), (DASHBOARD, dashboard)] {
        let names = gateway_names(&text);
        assert!(names.len() >= 10, "{file} reads {names:?}");
        for name in &names {
            assert!(
                exposed.contains_key(name),
                "{file} reads {name}, which the gateway does not expose:\n{}",
                scrape.text
            );
        }
        for (name, labels) in selectors(&text) {
            assert!(
                name.starts_with("idp_bridge_"),
                "{file} selects {name}, which is not the gateway's"
            );
            // `job` and `instance` are the labels Prometheus adds to every scraped series.
            for label in labels
                .iter()
                .filter(|l| !["job", "instance"].contains(&l.as_str()))
            {
                assert!(
                    exposed[&name].contains(label),
                    "{file} selects {name} by {label}, a label it does not have: {:?}",
                    exposed[&name]
                );
            }
        }
    }
}

#[test]
fn string_literals_are_read_like_rust_reads_them() {
    let code = r###"
        let a = "plain_one"; // "in_a_comment"
        /* "in_a_block" */ let q = '"'; let e = '\''; fn f<'a>(x: &'a str) {}
        let u = '\u{7f}'; let r#type = 1;
        let b = r#"raw "quoted" one"#; let c = br"bytes"; let d = "esc\"aped";
        let number = 1_000; let e = ApiError::new("general_route_not_found", 404, "m");
    "###;
    assert_eq!(
        string_literals(code),
        [
            "plain_one",
            "raw \"quoted\" one",
            "bytes",
            "esc\"aped",
            "general_route_not_found",
            "m"
        ]
    );
}

/// The checks above catch what they should.
#[test]
fn the_name_and_selector_scans_find_what_they_look_for() {
    let exposed =
        exposed("# TYPE a counter\nidp_bridge_a_total{x=\"1\",y=\"2\"} 3\nidp_bridge_b 1\n");
    assert_eq!(
        exposed["idp_bridge_a_total"],
        BTreeSet::from(["x".into(), "y".into()])
    );
    assert!(exposed["idp_bridge_b"].is_empty());
    let expr = r#"sum by (job) (rate(idp_bridge_a_total{x=~"1|2", job!="j"}[5m])) / up{z="1"} and my_idp_bridge_c"#;
    assert_eq!(
        gateway_names(&format!("{expr} (idp_bridge_b: prose)")),
        BTreeSet::from(["idp_bridge_a_total".to_string(), "idp_bridge_b".to_string()])
    );
    assert_eq!(
        selectors(expr),
        vec![
            (
                "idp_bridge_a_total".to_string(),
                vec!["x".to_string(), "job".to_string()]
            ),
            ("up".to_string(), vec!["z".to_string()]),
        ]
    );
    assert!(selectors("summary: \"{{ $labels.instance }}\" legend {{provider}}").is_empty());
}

/// The anchors GitHub gives the headings of a Markdown file: lower case, punctuation but `-`
/// and `_` dropped, spaces to `-`.
fn anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// One value per rule of the rules file, for `key:` (the text after it, unquoted).
fn rule_values(rules: &str, key: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix(key))
        .map(|value| value.trim().trim_matches('"').to_string())
        .collect()
}

/// Every alert has a severity, a summary, a description and a runbook link to its own section
/// of the runbook, and a test in `alerts.test.yaml`; the runbook's own links lead somewhere.
#[test]
fn every_alert_links_its_runbook_section_and_has_a_test() {
    let rules = read(ALERTS);
    let alerts = rule_values(&rules, "- alert:");
    assert!(alerts.len() >= 10, "{alerts:?}");
    for key in ["severity:", "summary:", "description:", "runbook_url:"] {
        assert_eq!(
            rule_values(&rules, key).len(),
            alerts.len(),
            "every rule has one {key}"
        );
    }
    let runbook = read(RUNBOOK);
    let anchors = anchors(&runbook);
    let tests = read(ALERT_TESTS);
    for (alert, url) in alerts.iter().zip(rule_values(&rules, "runbook_url:")) {
        let anchor = alert.to_lowercase();
        assert!(
            url.ends_with(&format!("/docs/runbook.md#{anchor}")),
            "{alert} links {url}"
        );
        assert!(
            anchors.contains(&anchor),
            "the runbook has no section {alert}"
        );
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{ALERT_TESTS} does not test {alert}"
        );
    }
    for (at, _) in runbook.match_indices("](#") {
        let anchor = runbook[at + 3..].split(')').next().unwrap_or_default();
        assert!(
            anchors.contains(anchor),
            "the runbook links #{anchor}, which it lacks"
        );
    }
}

/// The prefixes of the error types the gateway and its providers emit.
const ERROR_PREFIXES: &[&str] = &[
    "access_",
    "appwrite_",
    "assertion_",
    "authorization_response_",
    "email_",
    "exchange_",
    "general_",
    "id_token_",
    "identity_",
    "login_",
    "provider_",
    "redirect_",
    "store_",
    "token_",
    "typingdna_",
    "user_",
];

/// String literals with those prefixes that are no error type of the gateway.
const NOT_ERROR_TYPES: &[&str] = &[
    // Metric names.
    "appwrite_request_duration",
    "appwrite_up",
    "exchange_duration",
    "provider_up",
    "store_up",
    // Configuration keys, claims and parameters.
    "email_domains",
    "email_verified",
    "login_hint",
    "redirect_uri",
    "token_endpoint",
    "token_endpoint_auth_method",
    "user_id",
    // Appwrite's own error types, which the gateway reads and never passes on.
    "general_argument_invalid",
    "general_query_invalid",
    "general_unauthorized_scope",
    "general_unknown",
    "user_already_exists",
    "user_email_already_exists",
    "user_invalid_token",
    "user_phone_already_exists",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals of Rust source, plain and raw, with comments, character literals and
/// lifetimes skipped. Written by hand: a Rust parser for one test is not worth a dependency.
fn string_literals(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let ident = |i: Option<usize>| i.is_some_and(|i| chars[i].is_alphanumeric() || chars[i] == '_');
    let mut literals = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let before = i.checked_sub(1);
        match (at(i), at(i + 1)) {
            ('/', '/') => {
                while i < chars.len() && at(i) != '\n' {
                    i += 1;
                }
            }
            ('/', '*') => {
                while i < chars.len() && !(at(i) == '*' && at(i + 1) == '/') {
                    i += 1;
                }
                i += 2;
            }
            // r"…", r#"…"#, br"…" (not the raw identifier r#type): a raw string ends at `"` and
            // as many `#` as it began with.
            ('r', '"' | '#')
                if (!ident(before) || (at(i - 1) == 'b' && !ident(i.checked_sub(2))))
                    && at(i + 1 + chars[i + 1..].iter().take_while(|c| **c == '#').count())
                        == '"' =>
            {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                let start = i + 1 + hashes + 1;
                let closing: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let end = (start..chars.len())
                    .find(|&j| chars[j..].starts_with(&closing))
                    .unwrap_or(chars.len());
                literals.push(chars[start.min(end)..end].iter().collect());
                i = end + closing.len();
            }
            ('"', _) => {
                let mut literal = String::new();
                i += 1;
                while i < chars.len() && at(i) != '"' {
                    if at(i) == '\\' {
                        i += 1;
                    }
                    literal.push(at(i));
                    i += 1;
                }
                literals.push(literal);
                i += 1;
            }
            // '\'', '\u{7f}' and '"' are characters; 'a alone is a lifetime.
            ('\'', '\\') => {
                i = (i + 3..chars.len())
                    .find(|&j| at(j) == '\'')
                    .map_or(chars.len(), |j| j + 1);
            }
            ('\'', _) if at(i + 2) == '\'' => i += 3,
            _ => i += 1,
        }
    }
    literals
}

/// Every error type the gateway can emit (the snake_case string literals with an error type's
/// prefix in the gateway's and the providers' code, tests left out) has its row in the runbook.
#[test]
fn the_runbook_explains_every_error_type() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for provider in std::fs::read_dir(root.join("providers")).expect("providers") {
        let src = provider.expect("entry").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let mut types = BTreeSet::new();
    for file in files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(file).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for literal in string_literals(code) {
            let literal = literal.as_str();
            let snake = literal.contains('_')
                && literal
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if snake
                && ERROR_PREFIXES.iter().any(|p| literal.starts_with(p))
                && !NOT_ERROR_TYPES.contains(&literal)
            {
                types.insert(literal.to_string());
            }
        }
    }
    assert!(types.len() >= 60, "{types:?}");
    for known in [
        "provider_unavailable",
        "id_token_unknown_key",
        "typingdna_no_match",
    ] {
        assert!(types.contains(known), "the scan misses {known}: {types:?}");
    }
    let runbook = read(RUNBOOK);
    let missing: Vec<&String> = types
        .iter()
        .filter(|t| !runbook.contains(&format!("`{t}`")))
        .collect();
    assert!(missing.is_empty(), "{RUNBOOK} does not explain {missing:?}");
}
