//! What operators watch: the health gauges beside `/readyz`, and the alert rules
//! (`deploy/prometheus/alerts.yaml`) and the dashboard (`deploy/grafana/idp-bridge.json`), which
//! may read only metrics and labels that a running gateway exposes. promtool checks the rules'
//! syntax and runs their tests in CI (`.ci/run`); `tests/repository/runbook.rs` checks the runbook they link.

use std::collections::{BTreeMap, BTreeSet};

use appwrite_emulator::{Fault, FaultScope};
use mock_op::Behavior;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{FAILURE, Options, SUCCESS, TestApp, error_of, location, without_query};
use crate::metrics::{exchange_at_hook, hook_table, scrape, scrape_at};
use crate::ops::{DOWN_PROVIDER, spawn_with_one_provider_down};
use crate::redis::eventually;
use crate::signed_assertion::HOOK_SECRET;

const ALERTS: &str = "deploy/prometheus/alerts.yaml";
const DASHBOARD: &str = "deploy/grafana/idp-bridge.json";

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

/// Where nothing polls `/readyz`, scrapes keep the gauges current: a scrape that finds no round
/// younger than 5 s starts one in the background, and a later scrape shows it (here on the
/// `metrics_listen` port, whose router is the other one that serves `/metrics`).
#[tokio::test]
async fn scrapes_alone_keep_the_health_gauges_current() {
    let app = TestApp::spawn_with(Options {
        extra_toml: DOWN_PROVIDER.into(),
        server_extra: "metrics_listen = \"127.0.0.1:0\"".into(),
        ..Options::mock()
    })
    .await;
    let url = app.metrics_url.clone();
    eventually(
        10,
        "a scrape shows the round an earlier one started",
        || {
            let url = url.clone();
            async move {
                scrape_at(&url)
                    .await
                    .get(r#"idp_bridge_provider_up{provider="down"}"#)
                    == Some(0.0)
            }
        },
    )
    .await;
    let scrape = scrape_at(&url).await;
    assert_eq!(
        scrape.value(r#"idp_bridge_provider_up{provider="corp"}"#),
        1.0
    );
    assert_eq!(scrape.value("idp_bridge_appwrite_up"), 1.0);
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

/// A repository file, by its path from the repository root.
fn read(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}
