//! The assertion flow (`POST /v1/auth/{provider}/exchange`): the provider verifies one request
//! into an `Identity`, and the same [`mint`](super::mint) as the redirect flow admits it, maps
//! it and mints a token, answered as JSON. Knows no provider.
//!
//! The provider gets the raw body and headers (a signature may cover the exact bytes) and the
//! services it may need for this one request: the store's replay cache and a read-only view of
//! the Appwrite users.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use http::HeaderMap;
use idp_provider_api::{AssertionInput, ProviderError};

use super::decided::Decided;
use super::policy::{ConfiguredProvider, Flow};
use super::{LOGIN_BUDGET, Login, LoginError};
use crate::appwrite::Token;
use crate::audit::{EventKind, Known, Origin};
use crate::metrics::Step;
use crate::store::StoreReplay;

/// One exchange request, as the HTTP edge received it.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    /// The body, byte for byte (at most the body limit).
    pub body: &'a [u8],
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The client address, trusted proxies applied; `None` when a proxy wrote a token instead.
    pub client_ip: Option<IpAddr>,
    /// Who asked, for the exchange's audit event.
    pub origin: &'a Origin,
}

/// Why an exchange minted nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// No provider with that id.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The provider has no assertion flow (a redirect provider, or an `oidc` provider without
    /// `allow_id_token_exchange`).
    #[error("provider {0:?} does not accept assertions at exchange")]
    NoAssertionFlow(String),
    /// The request is not what the provider defines (a missing or malformed field): the app's
    /// mistake, named by field.
    #[error("invalid {param}: {reason}")]
    RequestInvalid {
        /// The field (`body`, `assertion`, `tp`...).
        param: &'static str,
        /// Why, without the value.
        reason: String,
    },
    /// The assertion, the policy, the mapping or Appwrite refused.
    #[error(transparent)]
    Failed(#[from] LoginError),
}

impl ExchangeError {
    /// The error `type` of the JSON answer, which the metrics count the failure under.
    pub fn error_type(&self) -> Cow<'static, str> {
        match self {
            Self::UnknownProvider(_) => Cow::Borrowed("provider_not_found"),
            Self::NoAssertionFlow(_) => Cow::Borrowed("provider_flow_unsupported"),
            Self::RequestInvalid { .. } => Cow::Borrowed("exchange_request_invalid"),
            Self::Failed(error) => Cow::Owned(error.public().kind),
        }
    }

    /// The configured rule that refused the identity, if one did.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Self::Failed(error) => error.rule(),
            _ => None,
        }
    }
}

impl Login {
    /// Verifies an assertion with the provider and mints a token for its user: the
    /// exchange's decision, counted and audited once.
    ///
    /// # Errors
    /// See [`ExchangeError`]; nothing usable is minted on any of them.
    pub async fn exchange(
        &self,
        provider_id: &str,
        request: ExchangeRequest<'_>,
    ) -> Result<Token, ExchangeError> {
        let registered = self
            .provider(provider_id)
            .ok_or_else(|| ExchangeError::UnknownProvider(provider_id.into()))?;
        registered.metrics.started();
        let began = Instant::now();
        let origin = request.origin;
        let mut known = Known::default();
        let exchanged = self
            .exchange_at(&registered.configured, provider_id, request, &mut known)
            .await;
        let (error_type, rule) = match &exchanged {
            Ok(_) => (None, None),
            Err(error) => (Some(error.error_type()), error.rule()),
        };
        let decided = Decided {
            event: EventKind::Exchange,
            provider: provider_id,
            origin,
            known,
            error_type,
            rule,
        };
        self.record(
            Some(registered),
            Some((Step::Exchange, began.elapsed())),
            decided,
        );
        exchanged
    }

    async fn exchange_at(
        &self,
        configured: &ConfiguredProvider,
        provider_id: &str,
        request: ExchangeRequest<'_>,
        known: &mut Known,
    ) -> Result<Token, ExchangeError> {
        let flow = configured
            .provider
            .assertion()
            .ok_or_else(|| ExchangeError::NoAssertionFlow(provider_id.into()))?;
        let replay = StoreReplay(self.store.as_ref());
        let exchanging = async {
            let identity = flow
                .exchange(AssertionInput {
                    body: request.body,
                    headers: request.headers,
                    client_ip: request.client_ip,
                    replay: &replay,
                    directory: &self.appwrite,
                })
                .await
                .map_err(|e: ProviderError| LoginError::Provider(e))?;
            self.mint(configured, &identity, Flow::Assertion, known)
                .await
        };
        match tokio::time::timeout(LOGIN_BUDGET, exchanging)
            .await
            .unwrap_or(Err(LoginError::TimedOut(LOGIN_BUDGET)))
        {
            Ok(token) => Ok(token),
            Err(LoginError::Provider(ProviderError::InvalidRequest { param, reason })) => {
                Err(ExchangeError::RequestInvalid { param, reason })
            }
            Err(error) => Err(ExchangeError::Failed(error)),
        }
    }
}
