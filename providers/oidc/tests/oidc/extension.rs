//! The extension surface that provider crates build on (`auth0`, `google`, `entra`): an issuer
//! set, a discovery target, extra authorization parameters, a claims hook and the identity key,
//! with every check of the plain provider still in force.

use std::sync::Arc;

use idp_provider_api::{
    AuthorizationRequest, OpenContext, OutboundTls, ProviderError, ProviderInfo, RedirectFlow,
    Secret,
};
use idp_provider_oidc::verify::Claims;
use idp_provider_oidc::{
    ClaimsHook, DiscoveryTarget, Extension, Issuers, OidcProvider, open_extended,
};
use mock_op::{Behavior, MockOp};
use serde_json::{Value, json};
use url::Url;

use crate::support::{
    Harness, Iss, REDIRECT, obj, op_config, provider_config, ready_through_trait, reason,
};

/// A second issuer the tenant's keys also sign for (an Auth0 custom domain, say).
const CUSTOM: &str = "https://login.example.com/";

fn open(
    op: &MockOp,
    extension: Extension,
) -> Result<Arc<OidcProvider>, idp_provider_api::OpenError> {
    open_with(op, json!({}), extension)
}

fn open_with(
    op: &MockOp,
    keys: Value,
    extension: Extension,
) -> Result<Arc<OidcProvider>, idp_provider_api::OpenError> {
    open_extended(
        ProviderInfo {
            id: "ext".into(),
            kind: "test",
            display_name: "Extended".into(),
        },
        provider_config(op, keys),
        &OpenContext::new(OutboundTls::new(None).expect("tls")),
        extension,
    )
}

async fn harness(extension: Extension) -> Harness {
    let op = MockOp::spawn(op_config()).await;
    let provider = open(&op, extension).expect("extension accepted");
    Harness { op, provider }
}

fn custom_domain(op: &MockOp) -> Extension {
    Extension {
        issuers: Some(Issuers::Exact(vec![op.issuer(), CUSTOM.into()])),
        ..Extension::default()
    }
}

#[tokio::test]
async fn every_issuer_of_the_set_verifies_and_nothing_else() {
    let op = MockOp::spawn(op_config()).await;
    let h = Harness {
        provider: open(&op, custom_domain(&op)).expect("opens"),
        op,
    };
    let id = h.login("alice").await.expect("the configured issuer");
    assert_eq!(id.issuer(), h.op.issuer());

    h.patch_claims(json!({"iss": CUSTOM}));
    let id = h
        .login_with("alice", Iss::Value(CUSTOM.into()))
        .await
        .expect("a custom domain's token");
    assert_eq!(id.issuer(), CUSTOM, "the identity keeps the token's issuer");

    for near_miss in ["https://login.example.com", "https://evil.example/"] {
        h.patch_claims(json!({"iss": near_miss}));
        assert_eq!(
            h.rejection("alice").await,
            "id_token_issuer_mismatch",
            "{near_miss}"
        );
    }
}

#[tokio::test]
async fn the_response_iss_must_name_the_token_issuer() {
    let op = MockOp::spawn(op_config()).await;
    let h = Harness {
        provider: open(&op, custom_domain(&op)).expect("opens"),
        op,
    };
    // A member of the set, but not the issuer of this token (RFC 9207 section 2.4).
    let result = h.login_with("alice", Iss::Value(CUSTOM.into())).await;
    assert_eq!(reason(result), "authorization_response_issuer_mismatch");
    let result = h
        .login_with("alice", Iss::Value("https://evil.example/".into()))
        .await;
    assert_eq!(reason(result), "authorization_response_issuer_mismatch");
    assert_eq!(
        h.op.counters().token,
        1,
        "an unknown iss stops before the code exchange"
    );
}

#[tokio::test]
async fn a_tenant_template_is_filled_from_tid() {
    let op = MockOp::spawn(op_config()).await;
    let template = format!("{}/{{tenantid}}/v2.0", op.base_url());
    let h = Harness {
        provider: open(
            &op,
            Extension {
                issuers: Some(Issuers::TenantTemplate(template)),
                discovery: Some(DiscoveryTarget {
                    url: Url::parse(&format!(
                        "{}/.well-known/openid-configuration",
                        op.base_url()
                    ))
                    .expect("url"),
                    issuers: vec![op.issuer()],
                }),
                ..Extension::default()
            },
        )
        .expect("opens"),
        op,
    };
    let tenant_issuer = |tid: &str| format!("{}/{tid}/v2.0", h.op.base_url());
    h.patch_claims(json!({"iss": tenant_issuer("t-1"), "tid": "t-1"}));
    let id = h
        .login_with("alice", Iss::Value(tenant_issuer("t-1")))
        .await
        .expect("tenant t-1");
    assert_eq!(id.issuer(), tenant_issuer("t-1"));
    h.patch_claims(json!({"iss": tenant_issuer("t-2"), "tid": "t-1"}));
    assert_eq!(
        reason(
            h.login_with("alice", Iss::Value(tenant_issuer("t-2")))
                .await
        ),
        "id_token_issuer_mismatch"
    );
    h.patch_claims(json!({"iss": tenant_issuer("t-1")}));
    assert_eq!(
        reason(
            h.login_with("alice", Iss::Value(tenant_issuer("t-1")))
                .await
        ),
        "id_token_tenant_invalid"
    );
}

#[tokio::test]
async fn discovery_at_a_target_must_announce_an_expected_issuer() {
    let op = MockOp::spawn(op_config()).await;
    let target = |issuer: String| DiscoveryTarget {
        url: Url::parse(&format!(
            "{}/tenant/.well-known/openid-configuration",
            op.base_url()
        ))
        .expect("url"),
        issuers: vec![issuer],
    };
    let wrong = open(
        &op,
        Extension {
            discovery: Some(target("https://someone-else.example".into())),
            ..Extension::default()
        },
    )
    .expect("opens");
    match ready_through_trait(&wrong).await {
        Err(ProviderError::Misconfigured(detail)) => {
            assert!(detail.contains("/tenant/"), "{detail}")
        }
        other => panic!("expected Misconfigured, got {other:?}"),
    }
    let right = open(
        &op,
        Extension {
            discovery: Some(target(op.issuer())),
            ..Extension::default()
        },
    )
    .expect("opens");
    ready_through_trait(&right)
        .await
        .expect("the announced issuer is expected");
}

#[tokio::test]
async fn extra_parameters_join_the_authorization_request_but_never_replace_the_flows() {
    let op = MockOp::spawn(op_config()).await;
    let extension = |name: &str| Extension {
        authorization_params: vec![(name.to_string(), "org_123".to_string())],
        ..Extension::default()
    };
    for reserved in [
        "state",
        "nonce",
        "redirect_uri",
        "code_challenge",
        "scope",
        "",
    ] {
        let err = open(&op, extension(reserved)).err().expect("refused");
        assert_eq!(err.problems[0].key, "providers.ext", "{reserved}");
    }
    let h = Harness {
        provider: open(&op, extension("organization")).expect("opens"),
        op,
    };
    let redirect_uri = Url::parse(REDIRECT).expect("url");
    let started = h
        .provider
        .authorization_url(AuthorizationRequest {
            redirect_uri: &redirect_uri,
            state: &Secret::new("s".repeat(32)),
            extra_scopes: &[],
            login_hint: None,
            max_age: None,
        })
        .await
        .expect("url");
    let pairs: Vec<(String, String)> = started.url.query_pairs().into_owned().collect();
    assert!(
        pairs.contains(&("organization".into(), "org_123".into())),
        "{pairs:?}"
    );
    assert_eq!(pairs.iter().filter(|(k, _)| k == "state").count(), 1);
    h.login("alice")
        .await
        .expect("the OP ignores the extra parameter");
}

/// A hook that refuses `bob` and keys users on a claim of their own.
struct ByEmployeeId;
impl ClaimsHook for ByEmployeeId {
    fn check(&self, claims: &Claims) -> Result<(), ProviderError> {
        if claims.subject().as_str() == "bob" {
            return Err(ProviderError::access_denied(
                "employees_only",
                "not an employee",
            ));
        }
        Ok(())
    }

    fn identity_key(&self, claims: &Claims) -> Result<(String, String), ProviderError> {
        let id = claims
            .additional_claims()
            .0
            .get("employee_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProviderError::rejected("id_token_employee_id_missing", "no employee_id")
            })?;
        Ok(("https://hr.example".into(), id.into()))
    }
}

#[tokio::test]
async fn the_claims_hook_refuses_and_keys_identities_after_verification() {
    let h = harness(Extension {
        claims: Some(Arc::new(ByEmployeeId)),
        ..Extension::default()
    })
    .await;
    h.behave(Behavior {
        claims_patch: obj(json!({"employee_id": "e-42"})),
        ..Behavior::default()
    });
    let id = h.login("alice").await.expect("alice is an employee");
    assert_eq!((id.issuer(), id.subject()), ("https://hr.example", "e-42"));
    match h.login("bob").await {
        Err(ProviderError::Rejected(r)) => {
            assert_eq!(
                (r.reason, r.status, r.rule),
                ("access_denied", 403, Some("employees_only"))
            );
        }
        other => panic!("{other:?}"),
    }
    h.patch_claims(json!({}));
    assert_eq!(h.rejection("alice").await, "id_token_employee_id_missing");
    // The hook runs only on verified tokens.
    h.behave(Behavior {
        claims_patch: obj(json!({"employee_id": "e-42"})),
        corrupt_signature: true,
        ..Behavior::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_signature_invalid");
}

#[tokio::test]
async fn an_exchanged_token_the_hook_refuses_is_not_spent() {
    use idp_provider_api::testing::{MemoryReplay, NoDirectory};
    use idp_provider_api::{AssertionInput, Provider};

    let op = MockOp::spawn(op_config()).await;
    let provider = open_with(
        &op,
        json!({"allow_id_token_exchange": true}),
        Extension {
            claims: Some(Arc::new(ByEmployeeId)),
            ..Extension::default()
        },
    )
    .expect("extension accepted");
    let raw = op.sign_id_token(&op.id_token_claims("bob", "n-1"), &Behavior::default());
    let body = json!({"id_token": raw, "nonce": "n-1"}).to_string();
    let replay = MemoryReplay::default();
    let provider: &dyn Provider = provider.as_ref();
    let answer = provider
        .assertion()
        .expect("opted in")
        .exchange(AssertionInput {
            body: body.as_bytes(),
            headers: &http::HeaderMap::new(),
            client_ip: None,
            replay: &replay,
            directory: &NoDirectory,
        })
        .await;
    match answer {
        Err(ProviderError::Rejected(r)) => assert_eq!(r.rule, Some("employees_only")),
        other => panic!("{other:?}"),
    }
    assert!(
        replay.untils().is_empty(),
        "a token the provider's own rules refuse is not used up"
    );
}
