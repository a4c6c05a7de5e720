//! Unit tests of the per-provider admission rules: each rule admits what it should and
//! refuses with its own rule name.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn identity(claims: Value) -> Identity {
    Identity::verified("corp", "https://idp.example", "alice")
        .with_email(Some("Alice@Example.COM".into()), true)
        .with_claims(claims.as_object().cloned().unwrap_or_default())
        .with_auth_time(Some(NOW))
}

const NOW: i64 = 1_800_000_000;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(NOW as u64)
}

fn rule_of(result: Result<Admission, LoginError>) -> String {
    match result {
        Err(LoginError::AccessDenied { rule, .. }) => rule,
        other => panic!("expected access_denied, got {other:?}"),
    }
}

fn required(name: &str, values: Vec<ClaimValue>) -> ProviderPolicy {
    ProviderPolicy {
        required_claims: vec![RequiredClaim::new(name, values)],
        ..ProviderPolicy::default()
    }
}

fn text(v: &str) -> ClaimValue {
    ClaimValue::Text(v.into())
}

#[test]
fn without_rules_everything_verified_is_admitted() {
    let admission = ProviderPolicy::default()
        .admit(&identity(json!({})), Flow::Redirect, now())
        .expect("admitted");
    assert_eq!(
        admission.email.as_ref().map(Email::as_str),
        Some("alice@example.com")
    );
    assert_eq!(
        admission.labels, None,
        "no label keys: labels are left alone"
    );
}

#[test]
fn email_domains_match_the_normalised_domain_exactly() {
    let policy = ProviderPolicy {
        email_domains: vec!["example.com".into(), "xn--bcher-kva.example".into()],
        ..ProviderPolicy::default()
    };
    let with_email = |email: &str, verified: bool| {
        Identity::verified("corp", "https://idp", "a").with_email(Some(email.into()), verified)
    };
    for ok in ["a@example.com", "a@EXAMPLE.com", "a@bücher.example"] {
        assert!(
            policy
                .admit(&with_email(ok, true), Flow::Redirect, now())
                .is_ok(),
            "{ok}"
        );
    }
    for refused in [
        "a@sub.example.com",
        "a@example.com.evil.test",
        "a@evilexample.com",
        // Cyrillic "е": a look-alike is another domain.
        "a@\u{0435}xample.com",
    ] {
        assert_eq!(
            rule_of(policy.admit(&with_email(refused, true), Flow::Redirect, now())),
            "email_domains",
            "{refused}"
        );
    }
    // An unverified or absent email never matches a non-empty list.
    assert_eq!(
        rule_of(policy.admit(&with_email("a@example.com", false), Flow::Redirect, now())),
        "email_domains"
    );
    let no_email = Identity::verified("corp", "https://idp", "a");
    assert_eq!(
        rule_of(policy.admit(&no_email, Flow::Redirect, now())),
        "email_domains"
    );
}

#[test]
fn require_email_verified_refuses_unverified_and_missing_emails() {
    let policy = ProviderPolicy {
        require_email_verified: true,
        ..ProviderPolicy::default()
    };
    let unverified = Identity::verified("corp", "https://idp", "a")
        .with_email(Some("a@example.com".into()), false);
    assert_eq!(
        rule_of(policy.admit(&unverified, Flow::Redirect, now())),
        "require_email_verified"
    );
    let none = Identity::verified("corp", "https://idp", "a");
    assert_eq!(
        rule_of(policy.admit(&none, Flow::Redirect, now())),
        "require_email_verified"
    );
    assert!(
        policy
            .admit(&identity(json!({})), Flow::Redirect, now())
            .is_ok()
    );
}

#[test]
fn a_string_claim_must_equal_a_listed_value() {
    let policy = required("department", vec![text("eng"), text("ops")]);
    assert!(
        policy
            .admit(
                &identity(json!({"department": "ops"})),
                Flow::Redirect,
                now()
            )
            .is_ok()
    );
    for claims in [
        json!({"department": "sales"}),
        json!({"department": "Eng"}),
        json!({"department": "eng "}),
        json!({"department": null}),
        json!({}),
        json!({"department": {"name": "eng"}}),
        json!({"department": 1}),
        json!({"Department": "eng"}),
    ] {
        assert_eq!(
            rule_of(policy.admit(&identity(claims.clone()), Flow::Redirect, now())),
            "required_claims.\"department\"",
            "{claims}"
        );
    }
}

#[test]
fn an_array_claim_must_contain_a_listed_value() {
    let policy = required("groups", vec![text("admins"), text("staff")]);
    assert!(
        policy
            .admit(
                &identity(json!({"groups": ["users", "staff"]})),
                Flow::Redirect,
                now()
            )
            .is_ok()
    );
    for claims in [
        json!({"groups": []}),
        json!({"groups": ["users"]}),
        json!({"groups": [["staff"]]}),
        json!({"groups": "users"}),
    ] {
        assert_eq!(
            rule_of(policy.admit(&identity(claims.clone()), Flow::Redirect, now())),
            "required_claims.\"groups\"",
            "{claims}"
        );
    }
    // A string claim equal to a listed value matches too.
    assert!(
        policy
            .admit(
                &identity(json!({"groups": "admins"})),
                Flow::Redirect,
                now()
            )
            .is_ok()
    );
}

#[test]
fn booleans_match_booleans_only() {
    let policy = required("mfa", vec![ClaimValue::Bool(true)]);
    assert!(
        policy
            .admit(&identity(json!({"mfa": true})), Flow::Redirect, now())
            .is_ok()
    );
    assert!(
        policy
            .admit(
                &identity(json!({"mfa": [false, true]})),
                Flow::Redirect,
                now()
            )
            .is_ok()
    );
    for claims in [
        json!({"mfa": false}),
        json!({"mfa": "true"}),
        json!({"mfa": 1}),
        json!({"mfa": ["true"]}),
    ] {
        assert!(
            policy
                .admit(&identity(claims.clone()), Flow::Redirect, now())
                .is_err(),
            "{claims}"
        );
    }
    // And a listed string never matches a boolean claim.
    let policy = required("mfa", vec![text("true")]);
    assert!(
        policy
            .admit(&identity(json!({"mfa": true})), Flow::Redirect, now())
            .is_err()
    );
}

#[test]
fn namespaced_claim_names_are_plain_keys() {
    let name = "https://example.com/roles";
    let policy = required(name, vec![text("admin")]);
    assert!(
        policy
            .admit(&identity(json!({name: ["admin"]})), Flow::Redirect, now())
            .is_ok()
    );
    // Not a path: nested objects do not match.
    assert_eq!(
        rule_of(policy.admit(
            &identity(json!({"https://example": {"com/roles": ["admin"]}})),
            Flow::Redirect,
            now()
        )),
        "required_claims.\"https://example.com/roles\""
    );
}

#[test]
fn standard_fields_can_be_required_when_the_claims_lack_them() {
    let policy = required("email_verified", vec![ClaimValue::Bool(true)]);
    assert!(
        policy
            .admit(&identity(json!({})), Flow::Redirect, now())
            .is_ok()
    );
    let policy = required("sub", vec![text("alice")]);
    assert!(
        policy
            .admit(&identity(json!({})), Flow::Redirect, now())
            .is_ok()
    );
    let policy = required("sub", vec![text("bob")]);
    assert!(
        policy
            .admit(&identity(json!({})), Flow::Redirect, now())
            .is_err()
    );
}

#[test]
fn every_required_claim_must_hold() {
    let policy = ProviderPolicy {
        required_claims: vec![
            RequiredClaim::new("groups", vec![text("staff")]),
            RequiredClaim::new("tenant", vec![text("t1")]),
        ],
        ..ProviderPolicy::default()
    };
    assert!(
        policy
            .admit(
                &identity(json!({"groups": ["staff"], "tenant": "t1"})),
                Flow::Redirect,
                now()
            )
            .is_ok()
    );
    assert_eq!(
        rule_of(policy.admit(
            &identity(json!({"groups": ["staff"]})),
            Flow::Redirect,
            now()
        )),
        "required_claims.\"tenant\""
    );
}

#[test]
fn max_age_applies_to_redirects_when_set_and_to_assertions_by_default() {
    let aged = |age: i64| identity(json!({})).with_auth_time(Some(NOW - age));
    let none = ProviderPolicy::default();
    assert_eq!(none.max_age(Flow::Redirect), None);
    assert_eq!(
        none.max_age(Flow::Assertion),
        Some(ASSERTION_MAX_AGE_DEFAULT)
    );
    assert!(none.admit(&aged(86_400), Flow::Redirect, now()).is_ok());
    assert!(none.admit(&aged(300), Flow::Assertion, now()).is_ok());
    assert_eq!(
        rule_of(none.admit(&aged(300 + 61), Flow::Assertion, now())),
        "max_age_seconds"
    );
    let set = ProviderPolicy {
        max_age_seconds: Some(600),
        ..ProviderPolicy::default()
    };
    assert!(set.admit(&aged(600 + 60), Flow::Redirect, now()).is_ok());
    assert!(set.admit(&aged(600), Flow::Assertion, now()).is_ok());
    assert_eq!(
        rule_of(set.admit(&aged(600 + 61), Flow::Redirect, now())),
        "max_age_seconds"
    );
    assert_eq!(
        rule_of(set.admit(&aged(-61), Flow::Redirect, now())),
        "max_age_seconds",
        "an authentication in the future"
    );
    let unknown = identity(json!({})).with_auth_time(None);
    assert_eq!(
        rule_of(set.admit(&unknown, Flow::Redirect, now())),
        "max_age_seconds"
    );
    assert_eq!(
        rule_of(none.admit(&unknown, Flow::Assertion, now())),
        "max_age_seconds"
    );
    assert!(none.admit(&unknown, Flow::Redirect, now()).is_ok());
}

#[test]
fn refusals_never_carry_the_claim_value() {
    let policy = required("groups", vec![text("admins")]);
    let error = policy
        .admit(
            &identity(json!({"groups": ["secret-team-name"]})),
            Flow::Redirect,
            now(),
        )
        .expect_err("refused");
    let public = error.public();
    assert_eq!((public.kind.as_str(), public.code), ("access_denied", 403));
    assert!(
        public.message.contains("required_claims.\"groups\""),
        "{public:?}"
    );
    for text in [public.to_json(), error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("secret-team-name"), "{text}");
        assert!(!text.contains("admins"), "{text}");
    }
}

#[test]
fn labels_are_owned_only_with_label_keys() {
    let policy = ProviderPolicy {
        labels: vec!["staff".into()],
        label_claims: vec!["roles".into()],
        ..ProviderPolicy::default()
    };
    let admission = policy
        .admit(
            &identity(json!({"roles": ["admin", "admin", "read-only", "staff"]})),
            Flow::Redirect,
            now(),
        )
        .expect("admitted");
    assert_eq!(
        admission.labels,
        Some(vec!["staff".to_string(), "admin".to_string()]),
        "static first, then valid claim values, each once"
    );
    let only_claims = ProviderPolicy {
        label_claims: vec!["roles".into()],
        ..ProviderPolicy::default()
    };
    assert_eq!(
        only_claims
            .admit(&identity(json!({})), Flow::Redirect, now())
            .expect("admitted")
            .labels,
        Some(vec![]),
        "owning labels with no value left means: only the gateway's own"
    );
}
