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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
pub use idp_provider_api::CallbackParams;
use idp_provider_api::{CallbackInput, Provider, ProviderError};
use policy::{ConfiguredProvider, Flow};
use url::Url;

use crate::appwrite::{AppwriteClient, TokenConfig};
pub use crate::audit::Origin;
use crate::audit::{Audit, EventKind, Known};
use crate::clock::Clock;
use crate::metrics::{LoginMetrics, Metrics, Step};
use crate::return_urls::{Delivery, RedirectConfig, RedirectError, RedirectTarget};
use crate::store::transaction::{LoginTransaction, StateKey};
use crate::store::{StoreError, TransactionStore};
use binding::Binding;
use decided::Decided;
pub use error::{LoginError, PublicError};
pub use exchange::{ExchangeError, ExchangeRequest};
pub use logout::{LoggedOut, LogoutError};
pub use request::StartParams;
pub use start::{StartError, Started};

/// How long the callback's work (code exchange, checks, Appwrite calls) may take: below the HTTP
/// layer's own limit, so a slow upstream still ends at the failure URL rather than in a bare 408.
pub const LOGIN_BUDGET: Duration = Duration::from_secs(25);

/// How a callback ended. `Debug` is written by hand: the success location carries the minted
/// secret.
pub enum Finished {
    /// Token minted: go to the success URL.
    Success {
        /// Success URL with `userId`, `secret` and the app's `state`.
        location: Url,
        /// The Appwrite user id (for the log).
        user_id: String,
    },
    /// Go to the failure URL with `error`.
    Failure {
        /// Failure URL with `error=<JSON>` and the app's `state`.
        location: Url,
        /// Why (for the log).
        error: LoginError,
    },
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Success { user_id, .. } => f
                .debug_struct("Success")
                .field("location", &"[redacted]")
                .field("user_id", user_id)
                .finish(),
            Self::Failure { error, .. } => f.debug_struct("Failure").field("error", error).finish(),
        }
    }
}

/// Why a callback cannot even reach a failure URL.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No provider with that id.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The callback has no `state`, or several: there is no trusted failure URL.
    #[error("the callback has no `state` parameter, or more than one")]
    MissingState,
    /// A `state` that is unknown, used or expired: there is no trusted failure URL.
    #[error("the login is unknown, expired or already finished")]
    UnknownTransaction,
    /// The transaction's success or failure URL is no longer in `[redirect].allowed` (a
    /// reload removed it): no token goes there, and its failure URL is no longer trusted.
    #[error(transparent)]
    RedirectNoLongerAllowed(RedirectError),
    /// The store failed while looking the transaction up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CallbackError {
    /// The error `type` the metrics count this under. These end at a plain page (no trusted
    /// failure URL), which shows no type, so the names are the gateway's own.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnknownProvider(_) => "provider_not_found",
            Self::MissingState => "login_state_missing",
            Self::UnknownTransaction => "login_transaction_unknown",
            Self::RedirectNoLongerAllowed(_) => "redirect_url_invalid",
            Self::Store(_) => "store_unavailable",
        }
    }
}

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
    binding: Binding,
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
        let secure = parts.public_url.scheme() == "https";
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
            binding: Binding { secure },
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

    /// `[redirect] delivery`: where the token and the app's `state` go, on success and failure.
    pub fn delivery(&self) -> Delivery {
        self.redirect.delivery
    }

    /// `{public_url}/v1/auth/{id}/callback`.
    pub fn callback_url(&self, provider: &str) -> Url {
        callback_url(&self.public_url, provider)
    }

    /// Finishes a redirect login for the client `origin`: the login's decision.
    ///
    /// # Errors
    /// Only when there is no trusted failure URL to send the browser to; every other failure
    /// is a [`Finished::Failure`].
    pub async fn callback(
        &self,
        provider_id: &str,
        params: CallbackParams,
        cookies: &CookieJar,
        origin: &Origin,
    ) -> Result<(Finished, Cookie<'static>), CallbackError> {
        let registered = self.provider(provider_id);
        let began = Instant::now();
        let mut known = Known::default();
        let finished = self
            .callback_at(
                registered.map(|r| &r.configured),
                provider_id,
                (params, cookies),
                &mut known,
            )
            .await;
        let (error_type, rule) = match &finished {
            // An id that names no provider: no login at a provider to count or audit.
            Err(CallbackError::UnknownProvider(_)) => return finished,
            Ok((Finished::Success { .. }, _)) => (None, None),
            Ok((Finished::Failure { error, .. }, _)) => {
                (Some(Cow::Owned(error.public().kind)), error.rule())
            }
            Err(error) => (Some(Cow::Borrowed(error.error_type())), None),
        };
        let decided = Decided {
            event: EventKind::Login,
            provider: provider_id,
            origin,
            known,
            error_type,
            rule,
        };
        // Counted only at a configured provider; a login whose provider a reload removed is
        // still audited.
        self.record(registered, Some((Step::Callback, began.elapsed())), decided);
        finished
    }

    async fn callback_at(
        &self,
        provider: Option<&ConfiguredProvider>,
        provider_id: &str,
        (params, cookies): (CallbackParams, &CookieJar),
        known: &mut Known,
    ) -> Result<(Finished, Cookie<'static>), CallbackError> {
        let state = params.single("state").ok_or(match provider {
            Some(_) => CallbackError::MissingState,
            None => CallbackError::UnknownProvider(provider_id.into()),
        })?;
        let key = StateKey::of(state.expose());
        // Taken before any other check: whatever happens next, this state is spent.
        let transaction = self.store.take(&key).await?;
        let (provider, transaction) = match (provider, transaction) {
            (Some(provider), Some(transaction)) => (provider, transaction),
            (Some(_), None) => return Err(CallbackError::UnknownTransaction),
            // The login began before a reload removed its provider: its failure URL is still
            // trusted (checked below against the current list), so the app hears why.
            (None, Some(transaction)) if transaction.provider == provider_id => {
                let error = LoginError::ProviderRemoved(transaction.provider.clone());
                let failure = self.still_allowed(&transaction)?;
                let location = failure.with_error(
                    &error.public().to_json(),
                    transaction.state.as_ref(),
                    self.redirect.delivery,
                );
                let finished = Finished::Failure { location, error };
                return Ok((finished, self.binding.removal(&key)));
            }
            // An id that is not a provider, and not the one this login began with: the state
            // is spent all the same.
            (None, _) => return Err(CallbackError::UnknownProvider(provider_id.into())),
        };
        let removal = self.binding.removal(&key);
        let failure = self.still_allowed(&transaction)?;
        let app_state = transaction.state.clone();
        let finishing = self.finish(
            provider,
            provider_id,
            &key,
            transaction,
            (params, cookies),
            known,
        );
        let outcome = tokio::time::timeout(LOGIN_BUDGET, finishing)
            .await
            .unwrap_or(Err(LoginError::TimedOut(LOGIN_BUDGET)));
        let finished = match outcome {
            Ok((location, user_id)) => Finished::Success { location, user_id },
            Err(error) => Finished::Failure {
                location: failure.with_error(
                    &error.public().to_json(),
                    app_state.as_ref(),
                    self.redirect.delivery,
                ),
                error,
            },
        };
        Ok((finished, removal))
    }

    /// The transaction's failure URL, once both its URLs are checked again against the current
    /// `[redirect].allowed`: a reload between start and callback may have removed them, and a
    /// removed URL gets neither a token nor an error.
    fn still_allowed(
        &self,
        transaction: &LoginTransaction,
    ) -> Result<RedirectTarget, CallbackError> {
        let allowed = &self.redirect.allowed;
        for (param, target) in [
            ("success", &transaction.success),
            ("failure", &transaction.failure),
        ] {
            if !allowed.permits(target) {
                return Err(CallbackError::RedirectNoLongerAllowed(
                    RedirectError::NotAllowed(param),
                ));
            }
        }
        Ok(transaction.failure.clone())
    }

    async fn finish(
        &self,
        configured: &ConfiguredProvider,
        provider_id: &str,
        key: &StateKey,
        transaction: LoginTransaction,
        (params, cookies): (CallbackParams, &CookieJar),
        known: &mut Known,
    ) -> Result<(Url, String), LoginError> {
        if transaction.provider != provider_id {
            return Err(LoginError::ProviderMismatch {
                started: transaction.provider,
                called: provider_id.into(),
            });
        }
        if !self.binding.verify(key, cookies) {
            return Err(LoginError::BindingInvalid);
        }
        let flow = configured.provider.redirect().ok_or_else(|| {
            LoginError::Provider(ProviderError::Misconfigured(
                "the provider has no redirect flow".into(),
            ))
        })?;
        let redirect_uri = self.callback_url(provider_id);
        let identity = flow
            .callback(CallbackInput {
                params: &params,
                redirect_uri: &redirect_uri,
                data: transaction.data,
            })
            .await?;
        let token = self
            .mint(configured, &identity, Flow::Redirect, known)
            .await?;
        let location = transaction.success.with_token(
            &token.user_id,
            token.secret.expose(),
            transaction.state.as_ref(),
            self.redirect.delivery,
        );
        Ok((location, token.user_id))
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
