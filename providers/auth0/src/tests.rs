//! Unit tests of the Auth0 provider: its keys, the tenant issuer and the rules it adds to a login.

use super::*;
use serde_json::json;

fn open_table(table: Value) -> Result<Arc<OidcProvider>, OpenError> {
    let tls = idp_provider_api::OutboundTls::new(None).expect("tls");
    open_auth0(
        ProviderInfo {
            id: "a0".into(),
            kind: KIND,
            display_name: "Auth0".into(),
        },
        table,
        &OpenContext::new(tls),
    )
}

fn base() -> Value {
    json!({"domain": "tenant.eu.auth0.com", "client_id": "c", "client_secret": "s"})
}

fn problems(table: Value) -> Vec<String> {
    match open_table(table) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_issuer_is_the_domain_with_a_trailing_slash() {
    assert_eq!(
        domain_issuer("tenant.eu.auth0.com", false)
            .expect("ok")
            .as_str(),
        "https://tenant.eu.auth0.com/"
    );
    assert_eq!(
        domain_issuer("127.0.0.1:9000", true).expect("ok").as_str(),
        "http://127.0.0.1:9000/"
    );
    for bad in [
        "https://t.auth0.com",
        "t.auth0.com/",
        "",
        "t auth0.com",
        "user@t.auth0.com",
    ] {
        assert!(domain_issuer(bad, false).is_err(), "{bad}");
    }
    assert!(
        domain_issuer("tenant.auth0.com", true).is_err(),
        "http only on loopback"
    );
    assert!(problems(base()).is_empty());
}

#[test]
fn config_errors_name_the_auth0_keys() {
    let mut v = base();
    v["domain"] = "https://t.auth0.com/".into();
    v["issuer"] = "https://t.auth0.com/".into();
    v["custom_domains"] = json!(["login.example.com", "bad/path"]);
    v["allowed_connections"] = json!(["auth0|x"]);
    v["organization"] = "org_1".into();
    v["allowed_organizations"] = json!(["org_2"]);
    let p = problems(v);
    for key in [
        "domain",
        "issuer",
        "custom_domains",
        "allowed_connections",
        "allowed_organizations",
    ] {
        assert!(
            p.iter()
                .any(|m| m.starts_with(&format!("providers.a0.{key}: "))),
            "{key}: {p:?}"
        );
    }
    let mut v = base();
    v["require_mfa"] = "yes".into();
    assert!(problems(v)[0].starts_with("providers.a0.require_mfa: "));
    let mut v = base();
    v["domian"] = "x".into();
    let p = problems(v);
    assert!(p[0].contains("unknown field `domian`"), "{p:?}");
    // HS256 needs a long client secret, as in `oidc`.
    let mut v = base();
    v["allowed_algs"] = json!(["RS256", "HS256"]);
    assert!(problems(v)[0].starts_with("providers.a0.client_secret: "));
}

#[test]
fn users_are_keyed_on_the_tenant_issuer_whatever_domain_the_token_came_through() {
    let claims: Claims = serde_json::from_value(json!({
        "iss": "https://login.acme.com/", "sub": "auth0|42", "aud": "client",
        "exp": 4_000_000_000_u64, "iat": 1_700_000_000_u64,
    }))
    .expect("claims");
    let tenant = Auth0Rules {
        canonical_issuer: "https://acme.eu.auth0.com/".into(),
        ..Auth0Rules::default()
    };
    assert_eq!(
        tenant.identity_key(&claims).expect("key"),
        (
            "https://acme.eu.auth0.com/".to_string(),
            "auth0|42".to_string()
        )
    );
    // A logout token through the custom domain names the same identity.
    assert_eq!(
        tenant
            .logout_issuer("https://login.acme.com/")
            .expect("issuer"),
        "https://acme.eu.auth0.com/"
    );
}

fn rules() -> Auth0Rules {
    Auth0Rules {
        organization: Some("org_1".into()),
        allowed_organizations: vec![],
        allowed_connections: vec!["auth0".into(), "google-oauth2".into()],
        require_mfa: true,
        canonical_issuer: "https://t.eu.auth0.com/".into(),
    }
}

fn rule_of(result: Result<(), ProviderError>) -> Option<&'static str> {
    match result {
        Ok(()) => None,
        Err(ProviderError::Rejected(r)) => {
            assert_eq!((r.reason, r.status), ("access_denied", 403));
            r.rule
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn each_rule_refuses_by_its_name() {
    let mfa = ["pwd".to_string(), "mfa".to_string()];
    let org = json!("org_1");
    let r = rules();
    assert_eq!(
        rule_of(r.check_values(Some(&org), "auth0|a", Some(&mfa))),
        None
    );
    assert_eq!(
        rule_of(r.check_values(Some(&org), "google-oauth2|1", Some(&mfa))),
        None
    );
    assert_eq!(
        rule_of(r.check_values(Some(&json!("org_2")), "auth0|a", Some(&mfa))),
        Some("organization")
    );
    assert_eq!(
        rule_of(r.check_values(None, "auth0|a", Some(&mfa))),
        Some("organization")
    );
    assert_eq!(
        rule_of(r.check_values(Some(&json!(1)), "auth0|a", Some(&mfa))),
        Some("organization")
    );
    assert_eq!(
        rule_of(r.check_values(Some(&org), "samlp|corp|a", Some(&mfa))),
        Some("allowed_connections")
    );
    assert_eq!(
        rule_of(r.check_values(Some(&org), "no-prefix", Some(&mfa))),
        Some("allowed_connections")
    );
    assert_eq!(
        rule_of(r.check_values(Some(&org), "auth0|a", Some(&["pwd".to_string()]))),
        Some("require_mfa")
    );
    assert_eq!(
        rule_of(r.check_values(Some(&org), "auth0|a", None)),
        Some("require_mfa")
    );

    let allow = Auth0Rules {
        allowed_organizations: vec!["org_1".into(), "org_3".into()],
        ..Auth0Rules::default()
    };
    assert_eq!(
        rule_of(allow.check_values(Some(&json!("org_3")), "x", None)),
        None
    );
    assert_eq!(
        rule_of(allow.check_values(Some(&json!("org_2")), "x", None)),
        Some("allowed_organizations")
    );
    assert_eq!(
        rule_of(allow.check_values(None, "x", None)),
        Some("allowed_organizations")
    );
    assert_eq!(
        rule_of(Auth0Rules::default().check_values(None, "x", None)),
        None
    );
}
