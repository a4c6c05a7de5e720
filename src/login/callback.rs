//! The callback of a redirect login: take the transaction (spent whatever follows), check that
//! the browser holds its binding, let the provider read its answer and verify it into an
//! `Identity`, then mint and build the redirect. Beside [`super::exchange`], the other way a
//! login finishes.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use idp_provider_api::{CallbackInput, ProviderError};
use url::Url;

use super::binding::BrowserBinding;
use super::decided::Decided;
use super::policy::{ConfiguredProvider, Flow};
use super::{CallbackParams, Login, LoginError, Origin};
use crate::audit::{EventKind, Known};
use crate::metrics::Step;
use crate::return_urls::{RedirectError, RedirectTarget};
use crate::store::StoreError;
use crate::store::transaction::{LoginTransaction, StateKey};

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

impl Login {
    /// Finishes a redirect login for the client `origin`: the login's decision. `browser` says
    /// whether the browser holds this login's binding; the [`StateKey`] returned names the
    /// binding, which the caller removes from the browser.
    ///
    /// # Errors
    /// Only when there is no trusted failure URL to send the browser to; every other failure
    /// is a [`Finished::Failure`].
    pub async fn callback(
        &self,
        provider_id: &str,
        params: CallbackParams,
        browser: &dyn BrowserBinding,
        origin: &Origin,
    ) -> Result<(Finished, StateKey), CallbackError> {
        let registered = self.provider(provider_id);
        let began = Instant::now();
        let mut known = Known::default();
        let finished = self
            .callback_at(
                registered.map(|r| &r.configured),
                provider_id,
                (params, browser),
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
        (params, browser): (CallbackParams, &dyn BrowserBinding),
        known: &mut Known,
    ) -> Result<(Finished, StateKey), CallbackError> {
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
                return Ok((finished, key));
            }
            // An id that is not a provider, and not the one this login began with: the state
            // is spent all the same.
            (None, _) => return Err(CallbackError::UnknownProvider(provider_id.into())),
        };
        let failure = self.still_allowed(&transaction)?;
        let app_state = transaction.state.clone();
        let finishing = self.finish(
            provider,
            provider_id,
            &key,
            transaction,
            (params, browser),
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
        Ok((finished, key))
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
        (params, browser): (CallbackParams, &dyn BrowserBinding),
        known: &mut Known,
    ) -> Result<(Url, String), LoginError> {
        if transaction.provider != provider_id {
            return Err(LoginError::ProviderMismatch {
                started: transaction.provider,
                called: provider_id.into(),
            });
        }
        if !browser.holds(key) {
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
}
