//! `start`: the first step of a redirect login. The success and failure URLs are checked
//! first, then the other start parameters; the login transaction is stored and bound to the
//! browser, which goes on to the provider. A refusal is a decision (counted and audited); a
//! start that goes on to the provider is not (its callback decides).

use std::borrow::Cow;

use idp_provider_api::{AuthorizationRequest, ProviderError};
use url::Url;

use super::decided::Decided;
use super::policy::{ConfiguredProvider, Flow};
use super::{Login, LoginError, Origin, StartParams, binding, request};
use crate::audit::{EventKind, Known};
use crate::return_urls::{RedirectError, RedirectTarget, ReturnState};
use crate::store::StoreError;
use crate::store::transaction::{LoginTransaction, StateKey};

/// A started login: where to send the browser, and the login whose binding the browser must
/// then hold (for [`Login::transaction_ttl`]). No `Debug`: the location carries `state` and
/// the nonce, the key the state hash.
pub struct Started {
    /// The provider's authorization URL.
    pub location: Url,
    /// The login the browser is bound to.
    pub key: StateKey,
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

    /// The configured rule that refused the login, if one did.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Self::Failed { error, .. } => error.rule(),
            _ => None,
        }
    }
}

impl Login {
    /// Starts a redirect login for the client `origin`. A refusal is a decision (counted and
    /// audited); a start that goes on to the provider is not (the callback decides).
    ///
    /// # Errors
    /// See [`StartError`]; the URLs are checked before anything else happens.
    pub async fn start(
        &self,
        provider_id: &str,
        params: StartParams,
        origin: &Origin,
    ) -> Result<Started, StartError> {
        let registered = self
            .provider(provider_id)
            .ok_or_else(|| StartError::UnknownProvider(provider_id.into()))?;
        registered.metrics.started();
        let started = self
            .start_at(&registered.configured, provider_id, params)
            .await;
        if let Err(error) = &started {
            let decided = Decided {
                event: EventKind::Login,
                provider: provider_id,
                origin,
                known: Known::default(),
                error_type: Some(error.error_type()),
                rule: error.rule(),
            };
            self.record(Some(registered), None, decided);
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
            key,
        })
    }
}
