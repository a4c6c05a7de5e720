//! Unit tests of the `entra` type: its table checks, its identity key and its email rule.

use super::*;
use serde_json::json;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn open_table(table: Value) -> Vec<String> {
    let tls = idp_provider_api::OutboundTls::new(None).expect("tls");
    match open_entra(
        ProviderInfo {
            id: "ms".into(),
            kind: KIND,
            display_name: "Entra".into(),
        },
        table,
        &OpenContext::new(tls),
    ) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn tenants_and_their_allow_lists_are_checked() {
    let base = |tenant: &str, allowed: Value| json!({"tenant": tenant, "allowed_tenants": allowed, "client_id": "c", "client_secret": "s"});
    assert!(open_table(base("organizations", json!([TID]))).is_empty());
    assert!(open_table(base("common", json!(["*"]))).is_empty());
    assert!(open_table(base(TID, json!([]))).is_empty());
    assert!(open_table(base("consumers", json!([]))).is_empty());
    let refused = [
        (base("organizations", json!([])), "allowed_tenants"),
        (
            base("organizations", json!(["acme.onmicrosoft.com"])),
            "allowed_tenants",
        ),
        (base(TID, json!([TID])), "allowed_tenants"),
        (base("contoso", json!([])), "tenant"),
    ];
    for (table, key) in refused {
        let p = open_table(table.clone());
        assert!(
            p.iter()
                .any(|m| m.starts_with(&format!("providers.ms.{key}: "))),
            "{table}: {p:?}"
        );
    }
    let mut t = base(TID, json!([]));
    t["issuer"] = "https://login.microsoftonline.com/x/v2.0".into();
    assert!(open_table(t)[0].starts_with("providers.ms.issuer: "));
    let mut t = base(TID, json!([]));
    t["authority"] = "http://login.example.com".into();
    assert!(open_table(t)[0].starts_with("providers.ms.authority: "));
}

#[test]
fn entra_may_not_be_trusted_for_email_or_link_by_email() {
    let mut t = json!({"tenant": TID, "client_id": "c", "client_secret": "s",
        "trusted_for_email": true, "link_by_email": true});
    let p = open_table(t.clone());
    for key in ["trusted_for_email", "link_by_email"] {
        assert!(
            p.iter().any(|m| m.starts_with(&format!(
                "providers.ms.{key}: cannot be true on an entra provider: "
            )) && m.contains("xms_edov")),
            "{p:?}"
        );
    }
    // Saying false is saying nothing.
    t["trusted_for_email"] = false.into();
    t["link_by_email"] = false.into();
    assert!(open_table(t).is_empty());
    assert!(keys().contains(&"trusted_for_email") && keys().contains(&"link_by_email"));
}

#[test]
fn only_a_boolean_true_xms_edov_verifies_the_email() {
    assert!(edov_is_true(Some(&json!(true))));
    for other in [
        json!(false),
        json!("true"),
        json!(1),
        json!([true]),
        Value::Null,
    ] {
        assert!(!edov_is_true(Some(&other)), "{other}");
    }
    assert!(!edov_is_true(None));
}

#[test]
fn identity_issuers_are_the_admitted_tenants_issuers() {
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0".to_string();
    let only = EntraRules {
        tenants: Tenants::Only(vec![TID.into(), CONSUMER_TENANT.into()]),
        template: template.clone(),
    };
    assert_eq!(
        only.identity_issuers("ignored"),
        [
            format!("https://login.microsoftonline.com/{TID}/v2.0"),
            format!("https://login.microsoftonline.com/{CONSUMER_TENANT}/v2.0"),
        ]
    );
    let any = EntraRules {
        tenants: Tenants::Any,
        template: template.clone(),
    };
    assert_eq!(any.identity_issuers("ignored"), [template]);
}

#[test]
fn users_are_keyed_on_the_tenant_issuer_and_oid() {
    let rules = EntraRules {
        tenants: Tenants::Only(vec![TID.into()]),
        template: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
    };
    let (issuer, subject) = rules
        .key(
            Some(&json!(TID)),
            Some(&json!("00000000-0000-0000-0000-00000000000a")),
        )
        .expect("key");
    assert_eq!(
        issuer,
        format!("https://login.microsoftonline.com/{TID}/v2.0")
    );
    assert_eq!(subject, "00000000-0000-0000-0000-00000000000a");
    assert!(rules.key(Some(&json!(TID)), None).is_err());
    assert!(rules.key(None, Some(&json!("x"))).is_err());
    assert!(rules.check_tid(Some(&json!(TID))).is_ok());
    match rules.check_tid(Some(&json!(CONSUMER_TENANT))) {
        Err(ProviderError::Rejected(r)) => assert_eq!(r.rule, Some("allowed_tenants")),
        other => panic!("{other:?}"),
    }
    assert!(
        is_guid(TID) && !is_guid("organizations") && !is_guid("72f988bf86f141af91ab2d7cd011db47")
    );
}

#[test]
fn back_channel_logout_is_refused_since_entra_sends_none() {
    let table = |on: bool| json!({"tenant": TID, "client_id": "c", "client_secret": "s", "backchannel_logout": on});
    assert!(open_table(table(false)).is_empty());
    let problems = open_table(table(true));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("providers.ms.backchannel_logout: ")
            && problems[0].contains("front-channel logout only"),
        "{problems:?}"
    );
}

#[test]
fn a_logout_token_cannot_name_an_entra_identity_whatever_the_config_check_lets_through() {
    let rules = EntraRules {
        tenants: Tenants::Any,
        template: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
    };
    let issuer = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let error = rules
        .logout_issuer(&issuer)
        .expect_err("Entra users are keyed on tid + oid, which a logout token does not carry");
    assert!(
        matches!(&error, ProviderError::Misconfigured(text) if text.contains("tid") && text.contains("oid")),
        "{error}"
    );
}
