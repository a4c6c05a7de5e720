//! check-config's online checks of an `oidc` provider against mock-op: a provider set up right
//! passes all four, and each way it can be wrong is named by the check it breaks, with what to
//! fix. Nothing reaches a user: the only token request carries a made-up code.

use idp_provider_api::{CheckOutcome, OnlineContext, Provider};
use mock_op::Behavior;
use serde_json::{Value, json};
use url::Url;

use crate::support::{Harness, REDIRECT, obj, op_config};

/// Each check as (name, "ok" | "FAILED" | "unknown", text).
async fn online(harness: &Harness) -> Vec<(&'static str, &'static str, String)> {
    let redirect_uri = Url::parse(REDIRECT).expect("redirect URI");
    let checks = harness.provider.online().expect("oidc has online checks");
    checks
        .check_online(&OnlineContext::new(&redirect_uri))
        .await
        .into_iter()
        .map(|result| match result.outcome {
            CheckOutcome::Passed(text) => (result.name, "ok", text),
            CheckOutcome::Failed(text) => (result.name, "FAILED", text),
            CheckOutcome::Unknown(text) => (result.name, "unknown", text),
        })
        .collect()
}

#[tokio::test]
async fn a_provider_set_up_right_passes_every_check() {
    let harness = Harness::new().await;
    let found = online(&harness).await;
    let names: Vec<_> = found
        .iter()
        .map(|(name, status, _)| (*name, *status))
        .collect();
    assert_eq!(
        names,
        [
            ("discovery", "ok"),
            ("algorithms", "ok"),
            ("signing keys", "ok"),
            ("client credentials", "ok"),
        ],
        "{found:#?}"
    );
    assert_eq!(harness.op.counters().userinfo, 0);
}

#[tokio::test]
async fn each_mistake_is_named_by_the_check_it_breaks() {
    struct Case {
        what: &'static str,
        config: Value,
        behavior: Behavior,
        check: &'static str,
        status: &'static str,
        says: &'static str,
    }
    let cases = [
        Case {
            what: "the discovery document names another issuer",
            config: json!({}),
            behavior: Behavior {
                discovery_issuer: Some("https://elsewhere.acme.io/".into()),
                ..Default::default()
            },
            check: "discovery",
            status: "FAILED",
            says: "must be equal character for character",
        },
        Case {
            what: "the provider is down",
            config: json!({}),
            behavior: Behavior {
                discovery_error: Some(503),
                ..Default::default()
            },
            check: "discovery",
            status: "FAILED",
            says: "answered HTTP 503; check the provider's issuer",
        },
        Case {
            what: "no algorithm in common",
            config: json!({}),
            behavior: Behavior {
                discovery_patch: obj(json!({"id_token_signing_alg_values_supported": ["ES256"]})),
                ..Default::default()
            },
            check: "algorithms",
            status: "FAILED",
            says: "has none of them; add the one the client is set to",
        },
        Case {
            what: "a JWKS without a key for the allowed algorithm",
            config: json!({}),
            behavior: Behavior {
                jwks_override: Some(json!({"keys": []})),
                ..Default::default()
            },
            check: "signing keys",
            status: "FAILED",
            says: "none for [\"RS256\"]",
        },
        Case {
            what: "a wrong client secret",
            config: json!({"client_secret": "not-the-secret-0123456789"}),
            behavior: Behavior::default(),
            check: "client credentials",
            status: "FAILED",
            says: "refused the client (HTTP 401 invalid_client); check providers.corp.client_id, client_secret",
        },
        Case {
            what: "a wrong secret refused with another error code on a 401",
            config: json!({}),
            behavior: Behavior {
                token_error: Some((401, "access_denied".into())),
                ..Default::default()
            },
            check: "client credentials",
            status: "FAILED",
            says: "HTTP 401 access_denied",
        },
        Case {
            what: "the code grant is not allowed for the client",
            config: json!({}),
            behavior: Behavior {
                token_error: Some((400, "unauthorized_client".into())),
                ..Default::default()
            },
            check: "client credentials",
            status: "FAILED",
            says: "does not let this client use the authorization code grant",
        },
        Case {
            what: "an answer that tells nothing",
            config: json!({}),
            behavior: Behavior {
                token_error: Some((400, "invalid_request".into())),
                ..Default::default()
            },
            check: "client credentials",
            status: "unknown",
            says: "does not tell whether the credentials are right",
        },
    ];
    for case in cases {
        let harness = Harness::with(op_config(), case.config).await;
        harness.behave(case.behavior);
        let found = online(&harness).await;
        let Some((_, status, text)) = found.iter().find(|(name, _, _)| *name == case.check) else {
            panic!("{}: no {} check in {found:#?}", case.what, case.check);
        };
        assert_eq!(*status, case.status, "{}: {text}", case.what);
        assert!(text.contains(case.says), "{}: {text}", case.what);
        assert!(
            !text.contains(&harness.op.config().client_secret) && !text.contains("not-the-secret"),
            "{}: a secret was printed: {text}",
            case.what
        );
    }
}

#[tokio::test]
async fn hmac_only_needs_no_key_and_a_failed_discovery_ends_the_list() {
    let harness = Harness::with(op_config(), json!({"allowed_algs": ["HS256"]})).await;
    let found = online(&harness).await;
    let keys = found.iter().find(|(name, _, _)| *name == "signing keys");
    assert!(
        matches!(keys, Some((_, "ok", text)) if text.contains("only HS*")),
        "{found:#?}"
    );
    harness.behave(Behavior {
        discovery_error: Some(500),
        ..Default::default()
    });
    let tokens = harness.op.counters().token;
    let found = online(&harness).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        harness.op.counters().token,
        tokens,
        "no token request without metadata"
    );
}
