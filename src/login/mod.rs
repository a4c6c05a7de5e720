//! The login pipeline: start a redirect login ([`start`](Login::start)); on callback, take
//! the transaction, check the binding, let the provider read its answer and verify it into an
//! `Identity`, then [`mint`] (policy, Appwrite user, token) and build the redirect. Knows no
//! provider: it sees only the `Provider` traits, the provider's opaque `LoginData`, and
//! `Identity`. [`logout`] is the way back: a provider's back-channel logout ends the identity's
//! Appwrite sessions.
//!
//! Every path that is not a complete success ends without a minted token: the token is minted
//! last, after every check. The one check after minting is of what Appwrite minted (user and
//! length); if it fails, the token is not delivered and simply expires.
//!
//! Every login at a configured provider is counted here, where its outcome is decided: begun
//! (`start`, `exchange`), completed, or failed with the error `type` the app is told (for a
//! plain error page, the name [`CallbackError::error_type`] and [`StartError::error_type`]
//! give it), and the callback and exchange are timed. The same decided outcome is the
//! request's one audit event (`decided`). An unknown provider id is neither counted (labels
//! are configured ids only) nor audited.

pub mod binding;
mod callback;
mod decided;
pub mod email;
pub mod error;
pub mod exchange;
pub mod logout;
pub mod mapping;
mod mint;
pub mod policy;
pub mod request;
mod start;
pub mod user_id;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use idp_provider_api::CallbackParams;
use idp_provider_api::Provider;
use policy::ConfiguredProvider;
use url::Url;

use crate::appwrite::{AppwriteClient, TokenConfig};
use crate::audit::Audit;
pub use crate::audit::Origin;
use crate::clock::Clock;
use crate::metrics::{LoginMetrics, Metrics};
use crate::return_urls::{Delivery, RedirectConfig};
use crate::store::TransactionStore;
/// The hashed `state` that names a login (and its browser binding).
pub use crate::store::transaction::StateKey;
pub use binding::BrowserBinding;
pub use callback::{CallbackError, Finished, LOGIN_BUDGET};
pub use error::{LoginError, PublicError};
pub use exchange::{ExchangeError, ExchangeRequest};
pub use logout::{LoggedOut, LogoutError};
pub use request::StartParams;
pub use start::{StartError, Started};

/// A configured provider with its metrics, resolved when the pipeline is built.
struct Registered {
    configured: ConfiguredProvider,
    metrics: LoginMetrics,
}

/// The login service: everything the pipeline needs, built once at startup.
pub struct Login {
    appwrite: AppwriteClient,
    store: Arc<dyn TransactionStore>,
    providers: BTreeMap<String, Registered>,
    redirect: RedirectConfig,
    token: TokenConfig,
    /// The binding cookie is `Secure` (the public URL is https).
    secure_cookies: bool,
    public_url: Url,
    transaction_ttl: Duration,
    id_key: user_id::IdKey,
    clock: Arc<dyn Clock>,
    audit: Audit,
}

/// The parts of a [`Login`].
pub struct LoginParts {
    /// Appwrite client.
    pub appwrite: AppwriteClient,
    /// Transaction store.
    pub store: Arc<dyn TransactionStore>,
    /// Providers with their policies.
    pub providers: Vec<ConfiguredProvider>,
    /// `[redirect]`.
    pub redirect: RedirectConfig,
    /// `[token]`.
    pub token: TokenConfig,
    /// `[server].public_url`.
    pub public_url: Url,
    /// `[store].transaction_ttl_seconds`.
    pub transaction_ttl: Duration,
    /// `[mapping].id_key`.
    pub id_key: user_id::IdKey,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// The process's metrics (kept across reloads: a rebuilt pipeline adds to the same series).
    pub metrics: Arc<Metrics>,
    /// The audit emitter (`[audit]`).
    pub audit: Audit,
}

impl Login {
    /// Assembles the service.
    pub fn new(parts: LoginParts) -> Self {
        Self {
            appwrite: parts.appwrite,
            store: parts.store,
            providers: parts
                .providers
                .into_iter()
                .map(|configured| {
                    let id = configured.provider.info().id.clone();
                    let metrics = parts.metrics.login(&id);
                    (
                        id,
                        Registered {
                            configured,
                            metrics,
                        },
                    )
                })
                .collect(),
            redirect: parts.redirect,
            token: parts.token,
            secure_cookies: parts.public_url.scheme() == "https",
            public_url: parts.public_url,
            transaction_ttl: parts.transaction_ttl,
            id_key: parts.id_key,
            clock: parts.clock,
            audit: parts.audit,
        }
    }

    /// The configured providers, in id order.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.values().map(|p| &p.configured.provider)
    }

    /// The Appwrite client (readiness).
    pub fn appwrite(&self) -> &AppwriteClient {
        &self.appwrite
    }

    /// The store (readiness).
    pub fn store(&self) -> &dyn TransactionStore {
        self.store.as_ref()
    }

    /// The store itself, for the pipeline a reload builds: the logins in flight live in it, so
    /// every configuration shares the one instance.
    pub fn shared_store(&self) -> Arc<dyn TransactionStore> {
        self.store.clone()
    }

    /// The clock, shared the same way.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Whether the browser-binding cookie is `Secure` (with the `__Host-` prefix): the public
    /// URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    /// How long a started login (and so its binding cookie) lives.
    pub fn transaction_ttl(&self) -> Duration {
        self.transaction_ttl
    }

    /// `[redirect] delivery`: where the token and the app's `state` go, on success and failure.
    pub fn delivery(&self) -> Delivery {
        self.redirect.delivery
    }

    /// `{public_url}/v1/auth/{id}/callback`.
    pub fn callback_url(&self, provider: &str) -> Url {
        callback_url(&self.public_url, provider)
    }

    fn provider(&self, id: &str) -> Option<&Registered> {
        self.providers.get(id)
    }
}

/// `{public_url}/v1/auth/{provider}/callback`: where a provider sends the browser back, the
/// `redirect_uri` every token request of that provider names.
pub fn callback_url(public_url: &Url, provider: &str) -> Url {
    let mut url = public_url.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["v1", "auth", provider, "callback"]);
    }
    url
}
