//! The runbook (`docs/runbook.md`) explains every alert of `deploy/prometheus/alerts.yaml`,
//! which links to its section and has a promtool test, and every error type the gateway and its
//! providers can emit.

use std::collections::BTreeSet;
use std::path::Path;

use crate::deploy::read;

const ALERTS: &str = "deploy/prometheus/alerts.yaml";
const ALERT_TESTS: &str = "deploy/prometheus/alerts.test.yaml";
const RUNBOOK: &str = "docs/runbook.md";

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
    "logout_",
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
    "logout_token",
    "redirect_uri",
    "token_endpoint",
    "token_endpoint_auth_method",
    "user_id",
    // The kind of value a logout token's replay key hashes.
    "logout_jti",
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
