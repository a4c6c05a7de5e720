//! The provider traits: a small base trait and one capability trait per flow.
//!
//! The gateway owns the login transaction: `state` (its browser binding), the app's URLs, and
//! an opaque [`LoginData`] that the provider fills at `authorization_url` (for OIDC: the nonce and
//! the PKCE verifier) and gets back at `callback`, like Dex's `connData`. A provider keeps no
//! login state of its own, so any gateway instance can finish any login.

use std::net::IpAddr;

use async_trait::async_trait;
use url::Url;

use crate::logout::BackchannelLogout;
use crate::online::OnlineCheck;
use crate::services::{AccountDirectory, ReplayCache};
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

    /// The issuers of the identities it hands back ([`Identity::issuer`](crate::Identity::issuer)),
    /// as far as its configuration tells; none by default. The gateway warns when two providers
    /// name the same one (compared exactly): their identities map to the same Appwrite users.
    fn identity_issuers(&self) -> Vec<String> {
        Vec::new()
    }

    /// Back-channel logout (`POST /v1/auth/{id}/backchannel-logout`), if enabled.
    fn backchannel_logout(&self) -> Option<&dyn BackchannelLogout> {
        None
    }

    /// Checks against the provider's upstream for `check-config --online`, if it has any.
    fn online(&self) -> Option<&dyn OnlineCheck> {
        None
    }

    /// Loads whatever the provider needs from the network (metadata, keys) and reports whether
    /// it can serve logins now. Called at startup, by `/readyz`, and lazily by the flows.
    async fn ready(&self) -> Result<(), ProviderError>;
}

/// What a redirect provider keeps with one login between `authorization_url` and `callback`
/// (Dex's `connData`): for OIDC the nonce and PKCE verifier, for others whatever they need, or
/// nothing. The gateway stores it with the transaction (and may seal or serialise it) without
/// reading it, and hands it back unchanged. It holds secrets, so it never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginData(Secret<String>);

impl Default for LoginData {
    /// Nothing kept.
    fn default() -> Self {
        Self::new(String::new())
    }
}

impl LoginData {
    /// Wraps the provider's own encoding (for example JSON).
    pub fn new(encoded: String) -> Self {
        Self(Secret::new(encoded))
    }

    /// The provider's encoding, for the provider that wrote it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Its size in bytes, for the store's memory budget.
    pub fn len(&self) -> usize {
        self.0.expose().len()
    }

    /// Whether the provider keeps nothing.
    pub fn is_empty(&self) -> bool {
        self.0.expose().is_empty()
    }
}

impl std::fmt::Debug for LoginData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginData([redacted])")
    }
}

/// What the gateway hands a provider to build the authorization URL.
#[derive(Debug)]
pub struct AuthorizationRequest<'a> {
    /// Where the provider must send the browser back (`{public_url}/v1/auth/{id}/callback`).
    pub redirect_uri: &'a Url,
    /// The `state` parameter, bound to the browser by the gateway.
    pub state: &'a Secret<String>,
    /// Scopes the app asked for on top of the configured ones, split and de-duplicated by the
    /// gateway; their syntax is the provider's to check (`InvalidRequest { param: "scopes" }`).
    pub extra_scopes: &'a [String],
    /// A login hint the app passed through.
    pub login_hint: Option<&'a str>,
    /// How old the user's authentication may be (the policy's `max_age_seconds`): an OIDC
    /// provider sends it as `max_age` and reports `auth_time` in the identity
    /// ([`Identity::auth_time`]), which the gateway then checks.
    pub max_age: Option<u64>,
}

/// Where to send the browser, and what to keep until the callback.
#[derive(Debug)]
pub struct Authorization {
    /// The provider URL the browser is sent to.
    pub url: Url,
    /// Stored with the transaction and handed back to `callback`.
    pub data: LoginData,
}

/// The parameters of the provider's answer at the callback (query or form), as received.
/// Values are secrets (the code is one): they never print.
#[derive(Debug, Default)]
pub struct CallbackParams(Vec<(String, Secret<String>)>);

impl CallbackParams {
    /// From decoded name/value pairs, in order.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(name, value)| (name, Secret::new(value)))
                .collect(),
        )
    }

    /// The value of `name` when it occurs exactly once; `None` when absent or repeated (a
    /// repeated parameter is ambiguous, and OAuth forbids it).
    pub fn single(&self, name: &str) -> Option<&Secret<String>> {
        let mut found = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        match (found.next(), found.next()) {
            (Some(value), None) => Some(value),
            _ => None,
        }
    }

    /// Whether `name` occurs at all.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// What the provider's callback carried, plus what the provider kept at `authorization_url`.
#[derive(Debug)]
pub struct CallbackInput<'a> {
    /// Every parameter of the answer; the provider reads its own (`code`, `error`, `iss`...).
    pub params: &'a CallbackParams,
    /// The redirect URI used at `start`, which a token request must repeat.
    pub redirect_uri: &'a Url,
    /// What `authorization_url` returned as [`Authorization::data`].
    pub data: LoginData,
}

/// Browser login through the provider's authorization endpoint (OIDC code flow and kin).
#[async_trait]
pub trait RedirectFlow: Send + Sync {
    /// The provider URL the browser is sent to, and what to keep until the callback.
    ///
    /// # Errors
    /// `InvalidRequest` for a request the provider cannot express (a scope that is no scope
    /// token); `Upstream` when metadata cannot be loaded; nothing is sent to the browser then.
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Authorization, ProviderError>;

    /// Reads the provider's answer, exchanges what must be exchanged, and verifies the result
    /// into an `Identity`.
    ///
    /// # Errors
    /// `Denied` when the provider refused the login, `InvalidRequest` for an incomplete answer,
    /// `Rejected` for any failed check, `Upstream` when the provider cannot be reached.
    async fn callback(&self, input: CallbackInput<'_>) -> Result<Identity, ProviderError>;
}

/// One `POST /v1/auth/{id}/exchange` request, as received, and the gateway services the flow
/// may use while it runs. The body is raw so that a signature over its exact bytes can be
/// checked; it is at most the gateway's body limit.
pub struct AssertionInput<'a> {
    /// The request body, byte for byte.
    pub body: &'a [u8],
    /// The request headers (`X-Bridge-Signature`...).
    pub headers: &'a http::HeaderMap,
    /// The client's address, as the gateway determined it (trusted proxies applied).
    pub client_ip: Option<IpAddr>,
    /// Where used assertions are remembered; backed by the gateway's store.
    pub replay: &'a dyn ReplayCache,
    /// The project's Appwrite users, read-only.
    pub directory: &'a dyn AccountDirectory,
}

impl std::fmt::Debug for AssertionInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionInput")
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .field("client_ip", &self.client_ip)
            .finish_non_exhaustive()
    }
}

/// Login proven by one request (`POST /v1/auth/{id}/exchange` with a provider-defined body).
#[async_trait]
pub trait AssertionFlow: Send + Sync {
    /// Verifies the request into an `Identity`. The gateway then applies the same policy,
    /// mapping and minting as for a redirect login.
    ///
    /// # Errors
    /// `InvalidRequest` for a body that is not what the provider defines, `Rejected` for a
    /// failed check (with its own status where one fits), `Upstream` or `Service` when a
    /// dependency is down.
    async fn exchange(&self, input: AssertionInput<'_>) -> Result<Identity, ProviderError>;
}
