//! Unit tests of the per-provider policy keys: parsing, bounds and the problems each bad
//! value reports.

use serde_json::json;

use super::*;

fn take(table: Value) -> (ProviderPolicy, Vec<String>, Map<String, Value>) {
    let mut table = table.as_object().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    let policy = ProviderPolicy::take_from("corp", &mut table, &mut problems);
    (
        policy,
        problems.iter().map(ToString::to_string).collect(),
        table,
    )
}

#[track_caller]
fn refused(table: Value, key: &str, reason: &str) {
    let (_, problems, _) = take(table);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("providers.corp.{key}: ")) && p.contains(reason)),
        "expected `providers.corp.{key}: ...{reason}...`, got {problems:#?}"
    );
}

#[test]
fn keys_lists_every_key_take_from_reads() {
    let mut table: Map<String, Value> = ProviderPolicy::KEYS
        .iter()
        .map(|k| ((*k).to_string(), Value::Null))
        .collect();
    let mut problems = Vec::new();
    ProviderPolicy::take_from("corp", &mut table, &mut problems);
    assert!(
        table.is_empty(),
        "KEYS names a key take_from leaves: {table:?}"
    );
    let (_, _, rest) = take(json!({"trusted_for_email": true, "other": 1}));
    assert_eq!(rest.keys().collect::<Vec<_>>(), ["other"]);
}

#[test]
fn every_key_is_read_normalised_and_taken_out() {
    let (policy, problems, rest) = take(json!({
        "issuer": "https://idp",
        "email_domains": ["Example.COM", "bücher.example", "example.com"],
        "require_email_verified": true,
        "required_claims": {"groups": ["staff", true], "https://example.com/roles": ["admin"]},
        "max_age_seconds": 600,
        "labels": ["staff", "Team42"],
        "label_claims": ["https://example.com/roles"],
        "on_email_conflict": "create_without_email",
    }));
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(
        rest.keys().collect::<Vec<_>>(),
        ["issuer"],
        "the provider's keys stay"
    );
    assert_eq!(
        policy.email_domains,
        ["example.com", "xn--bcher-kva.example"]
    );
    assert!(policy.require_email_verified);
    assert_eq!(
        policy.required_claims,
        [
            RequiredClaim::new(
                "groups",
                vec![ClaimValue::Text("staff".into()), ClaimValue::Bool(true)]
            ),
            RequiredClaim::new(
                "https://example.com/roles",
                vec![ClaimValue::Text("admin".into())]
            ),
        ]
    );
    assert_eq!(policy.max_age_seconds, Some(600));
    assert_eq!(policy.labels, ["staff", "Team42"]);
    assert_eq!(policy.label_claims, ["https://example.com/roles"]);
    assert_eq!(
        policy.on_email_conflict,
        OnEmailConflict::CreateWithoutEmail
    );
    assert!(policy.owns_labels());
}

#[test]
fn defaults_are_off() {
    let (policy, problems, _) = take(json!({}));
    assert!(problems.is_empty());
    assert_eq!(policy, ProviderPolicy::default());
    assert_eq!(policy.on_email_conflict, OnEmailConflict::Fail);
    assert!(!policy.owns_labels());
}

#[test]
fn bad_values_name_their_key_and_why() {
    refused(
        json!({"email_domains": "example.com"}),
        "email_domains",
        "must be an array",
    );
    refused(
        json!({"email_domains": [""]}),
        "email_domains",
        "entry 0: \"\" is empty",
    );
    refused(
        json!({"email_domains": [3]}),
        "email_domains",
        "entry 0: must be a string",
    );
    refused(
        json!({"email_domains": ["@example.com"]}),
        "email_domains",
        "write the domain alone",
    );
    refused(
        json!({"email_domains": ["*.example.com"]}),
        "email_domains",
        "wildcard",
    );
    refused(
        json!({"email_domains": ["example.com."]}),
        "email_domains",
        "trailing dot",
    );
    refused(
        json!({"email_domains": ["exa mple.com"]}),
        "email_domains",
        "whitespace",
    );
    refused(
        json!({"email_domains": ["localhost"]}),
        "email_domains",
        "has no dot",
    );
    refused(
        json!({"email_domains": ["exa_mple.com"]}),
        "email_domains",
        "not a valid domain",
    );
    refused(
        json!({"require_email_verified": "yes"}),
        "require_email_verified",
        "true or false",
    );
    refused(
        json!({"max_age_seconds": -1}),
        "max_age_seconds",
        "whole number",
    );
    refused(
        json!({"max_age_seconds": 1.5}),
        "max_age_seconds",
        "whole number",
    );
    refused(
        json!({"max_age_seconds": "300"}),
        "max_age_seconds",
        "whole number",
    );
    refused(
        json!({"max_age_seconds": 31_536_001}),
        "max_age_seconds",
        "from 0 to 31536000",
    );
    refused(
        json!({"on_email_conflict": "link"}),
        "on_email_conflict",
        "\"fail\" or \"create_without_email\"",
    );
    refused(
        json!({"on_email_conflict": true}),
        "on_email_conflict",
        "\"fail\" or",
    );
    refused(
        json!({"labels": "staff"}),
        "labels",
        "must be an array of Appwrite labels",
    );
    refused(
        json!({"labels": ["read-only"]}),
        "labels",
        "\"read-only\" is not a valid Appwrite label",
    );
    refused(
        json!({"labels": [""]}),
        "labels",
        "not a valid Appwrite label",
    );
    refused(
        json!({"labels": ["x".repeat(37)]}),
        "labels",
        "not a valid Appwrite label",
    );
    refused(
        json!({"labels": ["idpbridge"]}),
        "labels",
        "reserved for the gateway",
    );
    refused(
        json!({"labels": [format!("l{}", "a".repeat(35))]}),
        "labels",
        "reserved for the gateway",
    );
    refused(
        json!({"label_claims": [""]}),
        "label_claims",
        "entry 0: \"\" is empty",
    );
    refused(
        json!({"label_claims": [true]}),
        "label_claims",
        "must be a string",
    );
    refused(
        json!({"required_claims": ["groups"]}),
        "required_claims",
        "must be a table",
    );
    refused(
        json!({"required_claims": {"groups": "staff"}}),
        "required_claims.\"groups\"",
        "must be an array of strings or booleans",
    );
    refused(
        json!({"required_claims": {"groups": []}}),
        "required_claims.\"groups\"",
        "admits nobody",
    );
    refused(
        json!({"required_claims": {"groups": [""]}}),
        "required_claims.\"groups\"",
        "entry 0 is an empty string",
    );
    refused(
        json!({"required_claims": {"groups": [1]}}),
        "required_claims.\"groups\"",
        "entry 0 must be a string or a boolean, found 1",
    );
    refused(
        json!({"required_claims": {"": ["x"]}}),
        "required_claims.\"\"",
        "the claim name is empty",
    );
}

#[test]
fn too_many_static_labels_are_refused() {
    let labels: Vec<String> = (0..LABELS_MAX).map(|i| format!("x{i}")).collect();
    refused(json!({"labels": labels}), "labels", "at most 999 labels");
    let labels: Vec<String> = (0..LABELS_MAX - 1).map(|i| format!("x{i}")).collect();
    assert!(take(json!({"labels": labels})).1.is_empty());
}
