//! Drives an `oidc` provider against mock-op the way the gateway does: `open_oidc`, `ready`,
//! `authorization_url`, the (non-interactive) login at the OP, then `callback`.

use std::sync::Arc;

use idp_provider_api::{
    AuthorizationRequest, CallbackInput, CallbackParams, Identity, Provider, ProviderError,
    ProviderInfo, RedirectFlow, Secret,
};
use idp_provider_oidc::{OidcProvider, open_oidc};
use mock_op::{Behavior, MockOp, MockOpConfig};
use openidconnect::{CsrfToken, Nonce};
use serde_json::{Map, Value, json};
use url::Url;

/// The gateway's callback URL for provider `corp` (mock-op accepts any loopback http URL).
pub const REDIRECT: &str = "http://127.0.0.1:9/v1/auth/corp/callback";

/// mock-op's defaults with a client secret long enough to key HS256 (the provider refuses
/// HS* in `allowed_algs` with a secret shorter than the hash, RFC 7518 section 3.2).
pub fn op_config() -> MockOpConfig {
    MockOpConfig {
        client_secret: "gateway-secret-0123456789abcdef-0123456789".into(),
        ..Default::default()
    }
}

/// Which RFC 9207 `iss` the gateway hands to `callback`.
#[derive(Debug, Clone)]
pub enum Iss {
    /// Whatever the OP put in the redirect.
    AsSent,
    /// This value instead.
    Value(String),
}

/// A JSON object literal as a map (for `claims_patch`, `header_patch`).
pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not a JSON object: {other}"),
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A fresh nonce and alice's standard claims for it, ready for `sign_id_token`.
pub fn alice_claims(op: &MockOp) -> (Secret<String>, Value) {
    let nonce = Nonce::new_random().secret().clone();
    let claims = op.id_token_claims("alice", &nonce);
    (Secret::new(nonce), claims)
}

/// A header patch that sets `kid`.
pub fn with_kid(kid: &str) -> Behavior {
    Behavior {
        header_patch: obj(json!({ "kid": kid })),
        ..Default::default()
    }
}

/// Scripts `behavior` at the OP and expects alice's login to be refused with `reason`.
pub async fn expect_rejection(
    h: &Harness,
    behavior: Behavior,
    reason: &str,
    alg: mock_op::SigningAlg,
) {
    h.behave(behavior);
    assert_eq!(h.rejection("alice").await, reason, "{alg:?}");
}

/// The reason of a `Rejected` error; panics on anything else.
#[track_caller]
pub fn reason<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> &'static str {
    match result {
        Err(ProviderError::Rejected(rejection)) => rejection.reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The asymmetric algorithms, one per key type (RSA PKCS#1, RSA-PSS, EC P-256, Ed25519).
pub const EVERY_KEY_TYPE: [mock_op::SigningAlg; 4] = [
    mock_op::SigningAlg::RS256,
    mock_op::SigningAlg::PS256,
    mock_op::SigningAlg::ES256,
    mock_op::SigningAlg::EdDSA,
];

/// A mock OP and a provider configured for it.
pub struct Harness {
    pub op: MockOp,
    pub provider: Arc<OidcProvider>,
}

impl Harness {
    /// A provider that allows only `alg`, in front of a fresh mock-op.
    pub async fn for_alg(alg: mock_op::SigningAlg) -> Self {
        Self::with(op_config(), json!({ "allowed_algs": [alg.as_str()] })).await
    }

    /// A default mock OP and a provider with the default configuration.
    pub async fn new() -> Self {
        Self::with(op_config(), json!({})).await
    }

    /// A mock OP with `op_config` and a provider whose configuration is the default one with
    /// the keys of `config_patch` replaced (`null` removes a key).
    pub async fn with(op_config: MockOpConfig, config_patch: Value) -> Self {
        let op = MockOp::spawn(op_config).await;
        let provider = open_provider(&op, config_patch);
        Self { op, provider }
    }

    /// Scripts the OP's next answers.
    pub fn behave(&self, behavior: Behavior) {
        self.op.set_behavior(behavior);
    }

    /// Scripts the next ID tokens' claims.
    pub fn patch_claims(&self, patch: Value) {
        self.behave(Behavior {
            claims_patch: obj(patch),
            ..Default::default()
        });
    }

    /// One complete login of `sub`, handing the callback the `iss` the OP sent.
    pub async fn login(&self, sub: &str) -> Result<Identity, ProviderError> {
        self.login_with(sub, Iss::AsSent).await
    }

    /// One complete login of `sub`, as the gateway's `start` and `callback` routes run it.
    pub async fn login_with(&self, sub: &str, iss: Iss) -> Result<Identity, ProviderError> {
        let redirect_uri = Url::parse(REDIRECT).expect("redirect URI");
        let state = Secret::new(CsrfToken::new_random().secret().clone());
        let started = self
            .provider
            .authorization_url(AuthorizationRequest {
                redirect_uri: &redirect_uri,
                state: &state,
                extra_scopes: &[],
                login_hint: None,
                max_age: None,
            })
            .await?;
        let url = started.url;
        let authorization = self
            .op
            .authorize(url.as_str(), sub)
            .unwrap_or_else(|e| panic!("mock-op refused the authorization URL {url}: {e}"));
        assert_eq!(&authorization.state, state.expose(), "state round-trips");
        let iss = match iss {
            Iss::AsSent => authorization.iss.clone(),
            Iss::Value(v) => Some(v),
        };
        let mut pairs = vec![
            ("code".to_string(), authorization.code),
            ("state".to_string(), authorization.state),
        ];
        pairs.extend(iss.map(|iss| ("iss".to_string(), iss)));
        self.provider
            .callback(CallbackInput {
                params: &CallbackParams::new(pairs),
                redirect_uri: &redirect_uri,
                data: started.data,
            })
            .await
    }

    /// Logs `sub` in and returns the rejection reason, checking that userinfo was never called
    /// (the conformance suite's only signal for a code-flow RP).
    pub async fn rejection(&self, sub: &str) -> &'static str {
        let reason = reason(self.login(sub).await);
        self.assert_no_userinfo();
        reason
    }

    /// The gateway never calls userinfo, whatever happened.
    #[track_caller]
    pub fn assert_no_userinfo(&self) {
        assert_eq!(
            self.op.counters().userinfo,
            0,
            "userinfo must never be called"
        );
    }

    /// Makes the provider load metadata and keys.
    pub async fn ready(&self) {
        self.provider.ready().await.expect("provider ready");
    }
}

/// The provider configuration for `op`, with `patch` applied.
pub fn provider_config(op: &MockOp, patch: Value) -> Value {
    let mut config = obj(json!({
        "issuer": op.issuer(),
        "client_id": op.config().client_id,
        "client_secret": op.config().client_secret,
    }));
    for (key, value) in obj(patch) {
        if value.is_null() {
            config.remove(&key);
        } else {
            config.insert(key, value);
        }
    }
    Value::Object(config)
}

/// Opens a provider `corp` for `op`, as the gateway does at startup.
pub fn open_provider(op: &MockOp, patch: Value) -> Arc<OidcProvider> {
    open_oidc(
        ProviderInfo {
            id: "corp".into(),
            kind: "oidc",
            display_name: "Corp".into(),
        },
        provider_config(op, patch),
    )
    .unwrap_or_else(|e| panic!("provider config refused: {e}"))
}

/// Checks that the provider reports itself as ready through the trait object too.
pub async fn ready_through_trait(provider: &Arc<OidcProvider>) -> Result<(), ProviderError> {
    let provider: Arc<dyn Provider> = provider.clone();
    provider.ready().await
}
