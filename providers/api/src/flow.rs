//! The provider traits: a small base trait and one capability trait per flow.
//!
//! The gateway owns every piece of per-login state (`state`, nonce, PKCE verifier) and passes it
//! in; a provider keeps no login state of its own, so any instance can finish any login.

use async_trait::async_trait;
use url::Url;

use crate::{Identity, ProviderError, Secret};

/// What the gateway shows about a provider (`GET /v1/providers`, logs, spans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The table name under `[providers]`, used in URLs.
    pub id: String,
    /// The `type` from the configuration (`oidc`, `auth0`, ...).
    pub kind: &'static str,
    /// A name for login buttons.
    pub display_name: String,
}

/// A configured identity provider. It says which flows it supports; the gateway asks for the one
/// a route needs and answers 400 when the provider has none.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's id, type and display name.
    fn info(&self) -> &ProviderInfo;

    /// The browser redirect flow (`start` + `callback`), if supported.
    fn redirect(&self) -> Option<&dyn RedirectFlow> {
        None
    }

    /// The one-request assertion flow (`exchange`), if supported.
    fn assertion(&self) -> Option<&dyn AssertionFlow> {
        None
    }

    /// Loads whatever the provider needs from the network (metadata, keys) and reports whether
    /// it can serve logins now. Called at startup, by `/readyz`, and lazily by the flows.
    async fn ready(&self) -> Result<(), ProviderError>;
}

/// What the gateway hands a provider to build the authorization URL.
#[derive(Debug)]
pub struct AuthorizationRequest<'a> {
    /// Where the provider must send the browser back (`{public_url}/v1/auth/{id}/callback`).
    pub redirect_uri: &'a Url,
    /// The `state` parameter, bound to the browser by the gateway.
    pub state: &'a Secret<String>,
    /// The nonce the ID token must carry.
    pub nonce: &'a Secret<String>,
    /// The PKCE S256 challenge of the verifier the gateway keeps.
    pub pkce_challenge: &'a str,
    /// Scopes the app asked for on top of the configured ones.
    pub extra_scopes: &'a [String],
    /// A login hint the app passed through.
    pub login_hint: Option<&'a str>,
}

/// What the provider's callback carried, plus the transaction's secrets.
#[derive(Debug)]
pub struct CallbackInput<'a> {
    /// The authorization code, taken by value because it may be used only once.
    pub code: Secret<String>,
    /// The RFC 9207 `iss` parameter of the authorization response, if present.
    pub iss: Option<&'a str>,
    /// The redirect URI used at `start`, which the token request must repeat.
    pub redirect_uri: &'a Url,
    /// The nonce stored with the transaction.
    pub nonce: &'a Secret<String>,
    /// The PKCE verifier stored with the transaction.
    pub pkce_verifier: Secret<String>,
}

/// Browser login through the provider's authorization endpoint (OIDC code flow and kin).
#[async_trait]
pub trait RedirectFlow: Send + Sync {
    /// The provider URL the browser is sent to.
    ///
    /// # Errors
    /// `Upstream` when metadata cannot be loaded; nothing is sent to the browser then.
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Url, ProviderError>;

    /// Exchanges the code and verifies the result into an `Identity`.
    ///
    /// # Errors
    /// `Rejected` for any failed check; `Upstream` when the provider cannot be reached.
    async fn callback(&self, input: CallbackInput<'_>) -> Result<Identity, ProviderError>;
}

/// Login proven by one request (`POST /v1/auth/{id}/exchange` with a provider-defined JSON body).
#[async_trait]
pub trait AssertionFlow: Send + Sync {
    /// Verifies the body into an `Identity`.
    ///
    /// # Errors
    /// `Rejected` when the assertion is malformed or fails a check.
    async fn exchange(&self, body: serde_json::Value) -> Result<Identity, ProviderError>;
}
