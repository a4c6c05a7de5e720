//! Several providers in one gateway: an Auth0 tenant (the node IdP shaped like Auth0: issuer
//! with a trailing slash, `connection|id` subjects, `org_id`, `amr`, a namespaced roles claim)
//! beside a plain OIDC provider (mock-op). Auth0's rules refuse with `access_denied` before any
//! Appwrite call, and a login started at one provider never finishes at the other.

use std::sync::Arc;

use idp_provider_api::{
    AuthorizationRequest, CallbackInput, CallbackParams, OpenContext, OutboundTls, ProviderError,
    ProviderInfo, RedirectFlow, Secret,
};
use idp_provider_oidc::OidcProvider;
use mock_op::Behavior;
use serde_json::json;
use url::Url;

use crate::helpers::{
    FAILURE, Options, PROVIDER, SUCCESS, TestApp, assert_refused, browser, error_of,
    gateway_listener, param, without_query,
};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, NodeIdp, follow_until, free_port};

/// The Auth0 provider with organization, connection and MFA rules.
const A0: &str = "a0";
/// A second Auth0 provider at the same tenant that admits organization org_456 only, and
/// (unlike `A0`) is trusted for email: its own policy.
const A0_ORGS: &str = "a0orgs";
/// A callback registered at the tenant for the provider-level test (never visited).
const DIRECT: &str = "direct";

struct Setup {
    app: TestApp,
    /// The tenant's issuer, `http://127.0.0.1:PORT/`.
    issuer: String,
    _tenant: NodeIdp,
}

/// The gateway with `corp` (plain OIDC at mock-op) and two `auth0` providers at one node IdP
/// playing an Auth0 tenant.
async fn setup() -> Setup {
    let (listener, gateway) = gateway_listener().await;
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}/");
    let callbacks = [A0, A0_ORGS, DIRECT].map(|p| format!("{gateway}/v1/auth/{p}/callback"));
    let tenant = NodeIdp::spawn_with_env(
        &callbacks,
        "client_secret_post",
        &[
            ("IDP_PORT", &port.to_string()),
            ("IDP_ISSUER", &issuer),
            ("IDP_PROFILE", "auth0"),
        ],
    )
    .await;
    assert_eq!(
        tenant.issuer, issuer,
        "the tenant's issuer has Auth0's trailing slash"
    );
    let extra_toml = [
        (
            A0,
            r#"organization = "org_123"
allowed_connections = ["auth0", "google-oauth2"]
require_mfa = true"#,
        ),
        (
            A0_ORGS,
            r#"allowed_organizations = ["org_456"]
trusted_for_email = true"#,
        ),
    ]
    .map(|(id, rules)| auth0_table(id, port, rules))
    .join("\n");
    let app = TestApp::spawn_on(
        Options {
            extra_toml,
            ..Options::mock()
        },
        listener,
    )
    .await;
    Setup {
        app,
        issuer,
        _tenant: tenant,
    }
}

/// An `auth0` table for the tenant on `port` (no `token_endpoint_auth_method`: Auth0's
/// default, `client_secret_post`, is what the tenant demands).
fn auth0_table(id: &str, port: u16, rules: &str) -> String {
    format!(
        r#"
[providers.{id}]
type = "auth0"
display_name = "Auth0"
domain = "127.0.0.1:{port}"
allow_insecure_http = true
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
{rules}
"#
    )
}

/// A login at an Auth0 provider: start, the tenant's pages, the callback; where it ends.
async fn login_at(app: &TestApp, provider: &str, user: &str) -> Url {
    let callback = to_callback(app, provider, user).await;
    app.finish(&callback).await
}

/// Starts a login at `provider` and walks the tenant back to the gateway's callback.
async fn to_callback(app: &TestApp, provider: &str, user: &str) -> Url {
    let to_idp = app.start_at(provider, user).await;
    let callback = format!("{}/v1/auth/{provider}/callback", app.gateway);
    follow_until(&app.browser, to_idp, &callback).await
}

#[tokio::test]
async fn an_auth0_tenant_and_a_plain_provider_log_in_side_by_side() {
    let Setup {
        app,
        issuer,
        _tenant,
    } = setup().await;

    let to_idp = app.start_at(A0, "auth0|alice").await;
    assert!(to_idp.as_str().starts_with(&issuer), "{to_idp}");
    assert_eq!(param(&to_idp, "organization").as_deref(), Some("org_123"));

    for user in ["auth0|alice", "google-oauth2|1234"] {
        let landed = login_at(&app, A0, user).await;
        assert_eq!(without_query(&landed), SUCCESS, "{user}: {landed}");
        let user_id = param(&landed, "userId").expect("userId");
        assert_eq!(
            user_id,
            app.id_key.user_id(&issuer, user).as_str().to_string(),
            "keyed on the tenant's issuer (trailing slash) and the full sub"
        );
        let user = app.emulator.user(&user_id).expect("user");
        assert_eq!(
            (&user["email"], &user["emailVerification"]),
            (&json!(""), &json!(false)),
            "a0 is not trusted_for_email: its users get no email"
        );
        let secret = param(&landed, "secret").expect("secret");
        assert_eq!(app.create_session(&user_id, &secret).await.0, 201);
    }

    // The plain provider beside it: its own issuer, its own users, its own keys.
    let landed = app.login("bob").await;
    let corp_bob = param(&landed, "userId").expect("userId");
    assert_eq!(corp_bob, app.user_id("bob").as_str());
    assert_ne!(corp_bob, app.id_key.user_id(&issuer, "auth0|bob").as_str());
    assert_eq!(app.emulator.users_count(), 3);
    let c = app.mock().counters();
    assert_eq!(
        (c.discovery, c.jwks, c.token),
        (1, 1, 1),
        "only corp's login used mock-op: {c:?}"
    );
}

#[tokio::test]
async fn each_auth0_rule_refuses_by_name_before_any_appwrite_call() {
    let Setup { app, _tenant, .. } = setup().await;
    let cases = [
        (A0, "auth0|bob", "organization"),
        (A0, "auth0|dave", "organization"),
        (A0, "samlp|corp|erin", "allowed_connections"),
        (A0, "google-oauth2|5678", "require_mfa"),
        (A0_ORGS, "auth0|alice", "allowed_organizations"),
        (A0_ORGS, "auth0|dave", "allowed_organizations"),
    ];
    for (provider, user, rule) in cases {
        app.emulator.clear_calls();
        let landed = login_at(&app, provider, user).await;
        assert_refused(&app, &landed, "access_denied", 403, Some(rule));
    }
    // The allow-list admits its organization, and this provider's own policy applies.
    let landed = login_at(&app, A0_ORGS, "auth0|bob").await;
    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    let user_id = param(&landed, "userId").expect("userId");
    assert_eq!(
        app.emulator.user(&user_id).expect("bob")["emailVerification"],
        true,
        "a0orgs is trusted_for_email"
    );
}

#[tokio::test]
async fn a_login_started_at_one_provider_is_refused_at_the_others_callback() {
    let Setup { app, _tenant, .. } = setup().await;

    // Auth0's answer delivered to corp's callback.
    let callback = to_callback(&app, A0, "auth0|alice").await;
    let mut crossed = callback.clone();
    crossed.set_path(&format!("/v1/auth/{PROVIDER}/callback"));
    let landed = app.finish(&crossed).await;
    assert_eq!(without_query(&landed), FAILURE);
    assert_eq!(error_of(&landed)["type"], "login_provider_mismatch");
    // The transaction is gone: the genuine callback cannot use it afterwards.
    let response = app.get(callback.as_str()).await;
    assert_eq!(response.status(), 400, "a taken transaction is single-use");

    // corp's answer delivered to Auth0's callback.
    let to_idp = app.start_at(PROVIDER, "alice").await;
    let authorization = app
        .mock()
        .authorize(to_idp.as_str(), "alice")
        .expect("mock-op authorizes");
    let mut crossed = Url::parse(&authorization.redirect_to).expect("callback");
    crossed.set_path(&format!("/v1/auth/{A0}/callback"));
    let landed = app.finish(&crossed).await;
    assert_eq!(error_of(&landed)["type"], "login_provider_mismatch");

    assert!(
        app.emulator.calls().is_empty(),
        "{:?}",
        app.emulator.calls()
    );
    assert_eq!(
        app.mock().counters().token,
        0,
        "corp's code was never redeemed"
    );
}

/// The provider itself, driven as the gateway drives it: the namespaced claim reaches
/// `Identity::claims()` for the policy, and a token from another issuer never verifies.
#[tokio::test]
async fn namespaced_claims_reach_the_identity_and_foreign_tokens_never_verify() {
    let Setup {
        app,
        issuer,
        _tenant,
    } = setup().await;
    let port = Url::parse(&issuer).expect("issuer").port().expect("port");
    let provider = open_direct(port);
    let redirect_uri =
        Url::parse(&format!("{}/v1/auth/{DIRECT}/callback", app.gateway)).expect("url");
    let state = Secret::new("state-0123456789abcdef".to_string());
    let started = provider
        .authorization_url(AuthorizationRequest {
            redirect_uri: &redirect_uri,
            state: &state,
            extra_scopes: &[],
            login_hint: Some("auth0|alice"),
            max_age: None,
        })
        .await
        .expect("authorization URL");
    let jar = browser();
    let back = follow_until(&jar, started.url, redirect_uri.as_str()).await;
    let params = CallbackParams::new(
        back.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let identity = provider
        .callback(CallbackInput {
            params: &params,
            redirect_uri: &redirect_uri,
            data: started.data,
        })
        .await
        .expect("alice logs in");
    assert_eq!(
        (identity.issuer(), identity.subject()),
        (issuer.as_str(), "auth0|alice")
    );
    assert_eq!(
        identity.claims()["https://example.com/roles"],
        json!(["admin", "staff"])
    );
    assert_eq!(identity.claims()["org_id"], "org_123");

    // A token that mock-op (corp's provider) signed, even one claiming the tenant's issuer
    // and our client id, does not verify here.
    let mock = app.mock();
    let nonce = Secret::new("nonce-0123456789".to_string());
    for iss in [mock.issuer(), issuer.clone()] {
        let mut claims = mock.id_token_claims("alice", nonce.expose());
        claims["iss"] = iss.clone().into();
        let token = mock.sign_id_token(&claims, &Behavior::default());
        match provider.verify(&token, &nonce, None).await {
            Err(ProviderError::Rejected(r)) => {
                assert!(
                    ["id_token_unknown_key", "id_token_issuer_mismatch"].contains(&r.reason),
                    "{iss}: {r:?}"
                );
            }
            other => panic!("{iss}: a foreign token verified: {other:?}"),
        }
    }
}

/// The `auth0` provider for the tenant on `port`, opened as the registry opens it.
fn open_direct(port: u16) -> Arc<OidcProvider> {
    let tls = OutboundTls::new(None).expect("tls");
    idp_provider_auth0::open_auth0(
        ProviderInfo {
            id: DIRECT.into(),
            kind: idp_provider_auth0::KIND,
            display_name: "Auth0".into(),
        },
        json!({
            "domain": format!("127.0.0.1:{port}"),
            "allow_insecure_http": true,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }),
        &OpenContext::new(tls),
    )
    .unwrap_or_else(|e| panic!("auth0 config refused: {e}"))
}
