//! The contract between the idp-bridge gateway and its provider plugins.
//!
//! A provider turns a request into a verified [`Identity`]; nothing else crosses the boundary.
//! Everything after that (policy, user mapping, minting, delivery) is gateway code that knows no
//! provider. The shape follows Dex's connectors: the base [`Provider`] trait only says which flows
//! a provider supports, and each flow is a small capability trait of its own.
//!
//! Layout:
//! - [`identity`]: `Identity`, the only thing a provider hands back.
//! - [`flow`]: `Provider`, `RedirectFlow`, `AssertionFlow` and their inputs.
//! - [`logout`]: `BackchannelLogout` and `VerifiedLogout`, a provider's logout tokens.
//! - [`error`]: `ProviderError` and `Rejection`, which the edge tells apart.
//! - [`secret`]: `Secret<T>`, a value that never prints.
//! - [`url_rule`]: the https-or-loopback rule for configured URLs.
//! - [`outbound`]: the trusted CAs and the one builder of outbound HTTP clients.
//! - [`services`]: what the gateway lends an assertion flow (replay cache, Appwrite users).
//! - [`events`]: what a provider may report about its upstream work (key fetches), for metrics.
//! - [`online`]: `OnlineCheck`, what a provider verifies for `check-config --online`.
//! - [`deserialize`]: reading a configuration table with every type error, in plain words.
//! - `testing` (feature `testing`): in-memory stand-ins for those services, for providers' tests.

pub mod deserialize;
pub mod error;
pub mod events;
pub mod flow;
pub mod identity;
pub mod logout;
pub mod online;
pub mod outbound;
pub mod secret;
pub mod services;
#[cfg(feature = "testing")]
pub mod testing;
pub mod url_rule;

pub use error::{ConfigProblem, OpenError, ProviderError, Rejection, error_chain};
pub use events::{EventReporter, KeyFetchCause, KeyFetchResult, NoEvents, ProviderEvents};
pub use flow::{
    AssertionFlow, AssertionInput, Authorization, AuthorizationRequest, CallbackInput,
    CallbackParams, LoginData, Provider, ProviderInfo, RedirectFlow,
};
pub use identity::Identity;
pub use logout::{BackchannelLogout, NobodyLoggedOut, VerifiedLogout};
pub use online::{CheckOutcome, CheckResult, OnlineCheck, OnlineContext};
pub use outbound::{OutboundTls, TlsError};
pub use secret::Secret;
pub use services::{
    AccountDirectory, AccountUser, ReplayCache, ReplayKey, ServiceError, client_bucket,
};

/// What the gateway hands every provider's `open` besides its own `[providers.<id>]` table:
/// settings that are the same for all providers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpenContext {
    /// The TLS settings every outbound HTTP client must use (`[tls]`).
    pub tls: OutboundTls,
    /// The gateway's `[server] public_url`, when it is valid: the default audience of
    /// assertions addressed to this gateway.
    pub public_url: Option<url::Url>,
    /// Where provider events go (the gateway's metrics); [`NoEvents`] unless the gateway
    /// listens. Providers report through [`OpenContext::events`].
    pub event_sink: std::sync::Arc<dyn ProviderEvents>,
}

impl OpenContext {
    /// A context with these TLS settings.
    pub fn new(tls: OutboundTls) -> Self {
        Self {
            tls,
            public_url: None,
            event_sink: std::sync::Arc::new(NoEvents),
        }
    }

    /// The same, knowing the gateway's public URL.
    #[must_use]
    pub fn with_public_url(mut self, public_url: Option<url::Url>) -> Self {
        self.public_url = public_url;
        self
    }

    /// The same, reporting provider events to `sink`.
    #[must_use]
    pub fn with_event_sink(mut self, sink: std::sync::Arc<dyn ProviderEvents>) -> Self {
        self.event_sink = sink;
        self
    }

    /// The reporter for the provider `id` (its own id, from its `ProviderInfo`): what a
    /// provider keeps to report its events. Reporting is optional.
    pub fn events(&self, id: &str) -> EventReporter {
        EventReporter::new(id, self.event_sink.clone())
    }
}
