//! The login pipeline: start a redirect login; on callback, take the transaction, check the
//! binding, let the provider read its answer and verify it into an `Identity`, then [`mint`]
//! (policy, Appwrite user, token) and build the redirect. Knows no provider: it sees only the
//! `Provider` traits, the provider's opaque `LoginData`, and `Identity`.
//!
//! Every path that is not a complete success ends without a minted token: the token is minted
//! last, after every check. The one check after minting is of what Appwrite minted (user and
//! length); if it fails, the token is not delivered and simply expires.
//!
//! Every login at a configured provider is counted here, where its outcome is decided: begun
//! (`start`, `exchange`), completed, or failed with the error `type` the app is told (for a
//! plain error page, the name [`CallbackError::error_type`] and [`StartError::error_type`]
//! give it), and the callback and exchange are timed. An unknown provider id is not counted:
//! labels are configured ids only.

pub mod binding;
pub mod email;
pub mod error;
pub mod exchange;
pub mod mapping;
mod mint;
pub mod policy;
pub mod request;
pub mod user_id;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::Cookie;
pub use idp_provider_api::CallbackParams;
use idp_provider_api::{AuthorizationRequest, CallbackInput, Provider, ProviderError};
use policy::{ConfiguredProvider, Flow};
use url::Url;

use crate::appwrite::{AppwriteClient, TokenConfig};
use crate::clock::Clock;
use crate::metrics::{LoginMetrics, Metrics, Step};
use crate::redirect::{Delivery, RedirectConfig, RedirectError, RedirectTarget, ReturnState};
use crate::store::transaction::{LoginTransaction, StateKey};
use crate::store::{StoreError, TransactionStore};
use binding::Binding;
pub use error::{LoginError, PublicError};
pub use exchange::{ExchangeError, ExchangeRequest};
pub use request::StartParams;

/// How long the callback's work (code exchange, checks, Appwrite calls) may take: below the HTTP
/// layer's own limit, so a slow upstream still ends at the failure URL rather than in a bare 408.
pub const LOGIN_BUDGET: Duration = Duration::from_secs(25);

/// A started login: where to send the browser and the binding cookie to set. No `Debug`: the
/// location carries `state` and the nonce, the cookie the state hash.
pub struct Started {
    /// The provider's authorization URL.
    pub location: Url,
    /// The browser-binding cookie.
    pub cookie: Cookie<'static>,
}

/// Why `start` did not send the browser to the provider.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No provider with that id.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The provider has no redirect flow.
    #[error("provider {0:?} does not support the redirect flow")]
    NoRedirectFlow(String),
    /// A success or failure URL was refused: 400 page, no redirect.
    #[error(transparent)]
    Redirect(#[from] RedirectError),
    /// A `scopes`, `login_hint` or `state` parameter was refused: 400 page, no redirect.
    #[error(transparent)]
    Param(#[from] request::StartParamError),
    /// The transaction store is down or too slow: a 503 page the user can retry from, rather
    /// than the failure URL (the app would show a failed login for an outage of ours).
    #[error(transparent)]
    StoreUnavailable(StoreError),
    /// Could not prepare the login; the failure URL is trusted, so the browser goes there.
    #[error("{error}")]
    Failed {
        /// The checked failure URL.
        failure: RedirectTarget,
        /// The app's `state`, returned beside the error.
        state: Option<ReturnState>,
        /// What went wrong.
        error: LoginError,
    },
}

impl StartError {
    /// The error `type` the metrics count this refusal under: the JSON error's or failure
    /// redirect's own, or, for a plain 400 page (which shows none), `redirect_url_invalid` or
    /// `start_request_invalid`.
    pub fn error_type(&self) -> Cow<'static, str> {
        match self {
            Self::UnknownProvider(_) => Cow::Borrowed("provider_not_found"),
            Self::NoRedirectFlow(_) => Cow::Borrowed("provider_flow_unsupported"),
            Self::Redirect(_) => Cow::Borrowed("redirect_url_invalid"),
            Self::Param(_) => Cow::Borrowed("start_request_invalid"),
            Self::StoreUnavailable(_) => Cow::Borrowed("store_unavailable"),
            Self::Failed { error, .. } => Cow::Owned(error.public().kind),
        }
    }
}

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
        let mut url = self.public_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["v1", "auth", provider, "callback"]);
        }
        url
    }

    /// Starts a redirect login.
    ///
    /// # Errors
    /// See [`StartError`]; the URLs are checked before anything else happens.
    pub async fn start(
        &self,
        provider_id: &str,
        params: StartParams,
    ) -> Result<Started, StartError> {
        let registered = self
            .provider(provider_id)
            .ok_or_else(|| StartError::UnknownProvider(provider_id.into()))?;
        registered.metrics.started();
        let started = self
            .start_at(&registered.configured, provider_id, params)
            .await;
        if let Err(error) = &started {
            registered.metrics.failed(error.error_type());
        }
        started
    }

    async fn start_at(
        &self,
        provider: &ConfiguredProvider,
        provider_id: &str,
        params: StartParams,
    ) -> Result<Started, StartError> {
        let flow = provider
            .provider
            .redirect()
            .ok_or_else(|| StartError::NoRedirectFlow(provider_id.into()))?;
        let allowed = &self.redirect.allowed;
        let success = allowed.check("success", params.success.as_deref())?;
        let failure = allowed.check("failure", params.failure.as_deref())?;
        // The app's own state: from here on, every way back to the app carries it.
        let app_state = request::parse_state(&params)?;
        let fail = |error: LoginError| StartError::Failed {
            failure: failure.clone(),
            state: app_state.clone(),
            error,
        };

        let extra_scopes = request::parse_scopes(&params)?;
        let login_hint = request::parse_login_hint(&params)?;
        let state = binding::new_state();
        let redirect_uri = self.callback_url(provider_id);
        let authorization = flow
            .authorization_url(AuthorizationRequest {
                redirect_uri: &redirect_uri,
                state: &state,
                extra_scopes: &extra_scopes,
                login_hint,
                max_age: provider.policy.max_age(Flow::Redirect),
            })
            .await
            .map_err(|e| match e {
                // The app asked for something the provider cannot express: its mistake, a 400
                // page, as for a bad URL.
                ProviderError::InvalidRequest { param, reason } => {
                    request::StartParamError::Provider { param, reason }.into()
                }
                e => fail(e.into()),
            })?;
        let key = StateKey::of(state.expose());
        let transaction = LoginTransaction {
            provider: provider_id.to_string(),
            data: authorization.data,
            success,
            failure: failure.clone(),
            state: app_state.clone(),
            created_at: self.clock.now(),
        };
        self.store
            .put(key.clone(), transaction)
            .await
            .map_err(|e| match e {
                StoreError::Unavailable(_) => StartError::StoreUnavailable(e),
                // Over capacity: the login itself is refused, at the failure URL.
                e => fail(e.into()),
            })?;
        Ok(Started {
            location: authorization.url,
            cookie: self.binding.cookie(&key, self.transaction_ttl),
        })
    }

    /// Finishes a redirect login.
    ///
    /// # Errors
    /// Only when there is no trusted failure URL to send the browser to; every other failure
    /// is a [`Finished::Failure`].
    pub async fn callback(
        &self,
        provider_id: &str,
        params: CallbackParams,
        cookies: &CookieJar,
    ) -> Result<(Finished, Cookie<'static>), CallbackError> {
        let registered = self.provider(provider_id);
        let began = Instant::now();
        let finished = self
            .callback_at(
                registered.map(|r| &r.configured),
                provider_id,
                params,
                cookies,
            )
            .await;
        // Only configured ids are labels: a callback at an unknown id is not counted.
        if let Some(registered) = registered {
            let failure = match &finished {
                Ok((Finished::Success { .. }, _)) => None,
                Ok((Finished::Failure { error, .. }, _)) => Some(Cow::Owned(error.public().kind)),
                Err(error) => Some(Cow::Borrowed(error.error_type())),
            };
            registered
                .metrics
                .finished(Step::Callback, began.elapsed(), failure);
        }
        finished
    }

    async fn callback_at(
        &self,
        provider: Option<&ConfiguredProvider>,
        provider_id: &str,
        params: CallbackParams,
        cookies: &CookieJar,
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
        let finishing = self.finish(provider, provider_id, &key, transaction, params, cookies);
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
        params: CallbackParams,
        cookies: &CookieJar,
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
        let token = self.mint(configured, &identity, Flow::Redirect).await?;
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
