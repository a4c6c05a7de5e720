//! Back-channel logout (`POST /v1/auth/{provider}/backchannel-logout`, OpenID Connect
//! Back-Channel Logout 1.0): the provider verifies its logout token, and the identity's Appwrite
//! users lose every session. Knows no provider.
//!
//! In this order, each step failing closed:
//! 1. the provider verifies the token
//!    ([`verify_logout`](idp_provider_api::BackchannelLogout::verify_logout));
//! 2. its `jti` is spent in the replay cache: a token is used once. A logout that fails after
//!    this for a reason that is not the token's (the store or Appwrite unavailable or
//!    refusing, the time budget over) un-spends it, so the provider's retry can succeed;
//! 3. the identity: the token's `sub`, or for a token naming only a session (`sid`) the subject
//!    recorded at that login ([`Login::record_session`], called by `mint`); an unknown session
//!    ends here, with nothing to do;
//! 4. its Appwrite users, found as a login finds them but never created or changed: the user
//!    under the derived id if it carries the gateway's owner label (anyone may have created a
//!    user with that id; only the label, which takes a server key, proves it is the gateway's),
//!    and every user carrying the identity's link label;
//! 5. `DELETE /v1/users/{id}/sessions` for each.
//!
//! No such user is a success with nothing done: the provider's logout is complete as far as
//! this gateway holds sessions. Every logout at a configured provider is counted by result.
//! Must not: create, link or change a user; log a token, a session id or a subject.

use std::borrow::Cow;

use idp_provider_api::{Identity, ProviderError, ReplayKey, Secret};

use super::decided::Decided;
use super::policy::ConfiguredProvider;
use super::user_id::{IdKey, OWNER_LABEL};
use super::{LOGIN_BUDGET, Login};
use crate::appwrite::{AppwriteClient, AppwriteError};
use crate::audit::{EventKind, Known, Origin};
use crate::store::StoreError;
use crate::store::session::SessionKey;

/// What a valid logout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// These Appwrite users lost their sessions.
    SessionsEnded(Vec<String>),
    /// The identity has no Appwrite user here (or the session is unknown): nothing to end.
    NoUser,
}

/// Why a logout ended no session.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// No provider with that id.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The provider does not accept logout tokens (not an `oidc`-family provider, or
    /// `backchannel_logout` is off).
    #[error("provider {0:?} does not accept back-channel logout")]
    NotEnabled(String),
    /// The logout token failed a check.
    #[error("logout token refused: {0}")]
    Invalid(ProviderError),
    /// The logout token was used before.
    #[error("the logout token (jti) was already used")]
    Replayed,
    /// The provider's keys, the store or Appwrite could not answer.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    /// Appwrite refused a call for another reason than an outage (a key without `users.write`).
    #[error(transparent)]
    Appwrite(AppwriteError),
    /// The provider cannot name identities from logout tokens (a misconfiguration).
    #[error("the provider cannot handle logout tokens: {0}")]
    Misconfigured(ProviderError),
}

impl LogoutError {
    /// The `result` label of `idp_bridge_backchannel_logouts_total`.
    pub fn result(&self) -> &'static str {
        match self {
            Self::UnknownProvider(_) | Self::NotEnabled(_) | Self::Invalid(_) => "invalid",
            Self::Replayed => "replayed",
            Self::Unavailable(_) => "unavailable",
            Self::Appwrite(_) | Self::Misconfigured(_) => "error",
        }
    }

    /// The error type its audit event names: the failed check of the token
    /// (`logout_token_*`), or the gateway's own name for the other failures.
    pub fn error_type(&self) -> Cow<'static, str> {
        match self {
            Self::UnknownProvider(_) => Cow::Borrowed("provider_not_found"),
            Self::NotEnabled(_) => Cow::Borrowed("provider_flow_unsupported"),
            Self::Invalid(ProviderError::Rejected(rejection)) => Cow::Borrowed(rejection.reason),
            Self::Invalid(_) => Cow::Borrowed("logout_token_invalid"),
            Self::Replayed => Cow::Borrowed("logout_token_replayed"),
            Self::Unavailable(_) => Cow::Borrowed("logout_unavailable"),
            Self::Appwrite(_) => Cow::Borrowed("appwrite_error"),
            Self::Misconfigured(_) => Cow::Borrowed("provider_misconfigured"),
        }
    }

    fn of_provider(error: ProviderError) -> Self {
        match error {
            ProviderError::Upstream(detail) => Self::Unavailable(detail),
            ProviderError::Service(e) => Self::Unavailable(e.to_string()),
            e @ ProviderError::Misconfigured(_) => Self::Misconfigured(e),
            e => Self::Invalid(e),
        }
    }
}

impl From<StoreError> for LogoutError {
    fn from(error: StoreError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<AppwriteError> for LogoutError {
    fn from(error: AppwriteError) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error.to_string())
        } else {
            Self::Appwrite(error)
        }
    }
}

impl Login {
    /// Verifies `logout_token` with the provider and ends the sessions of its identity's
    /// Appwrite users.
    ///
    /// # Errors
    /// See [`LogoutError`]; no session is ended on any of them (but for an Appwrite failure
    /// between two users of one identity).
    pub async fn backchannel_logout(
        &self,
        provider_id: &str,
        logout_token: &Secret<String>,
        origin: &Origin,
    ) -> Result<LoggedOut, LogoutError> {
        let registered = self
            .provider(provider_id)
            .ok_or_else(|| LogoutError::UnknownProvider(provider_id.into()))?;
        let mut known = Known::default();
        let mut spent = None;
        let logging_out = self.logout_at(
            &registered.configured,
            provider_id,
            logout_token,
            &mut known,
            &mut spent,
        );
        let outcome = tokio::time::timeout(LOGIN_BUDGET, logging_out)
            .await
            .unwrap_or_else(|_| {
                Err(LogoutError::Unavailable(format!(
                    "the logout took longer than {LOGIN_BUDGET:?}"
                )))
            });
        if let (Err(error), Some(key)) = (&outcome, spent) {
            self.unspend(&key, error).await;
        }
        registered.metrics.logout(match &outcome {
            Ok(LoggedOut::SessionsEnded(_)) => "sessions_ended",
            Ok(LoggedOut::NoUser) => "no_user",
            Err(error) => error.result(),
        });
        // Logouts are counted by their own metric (above), not as logins: no `registered`.
        self.record(
            None,
            None,
            Decided {
                event: EventKind::Logout,
                provider: provider_id,
                origin,
                known,
                error_type: outcome.as_ref().err().map(LogoutError::error_type),
                rule: None,
            },
        );
        outcome
    }

    /// Un-spends the token of a logout that failed after spending it: every failure past that
    /// point is a dependency's (the store's, Appwrite's, the time budget), never the token's,
    /// and the provider retries only after such a failure. Fail-safe: a key that cannot be
    /// forgotten stays spent (the retry is refused as a replay), and that is logged.
    async fn unspend(&self, key: &ReplayKey, failure: &LogoutError) {
        if let Err(error) = self.store.forget(key).await {
            tracing::error!(
                %error,
                %failure,
                "a failed back-channel logout could not un-spend its token: the provider's retry will be refused as a replay"
            );
        }
    }

    /// The logout itself; `known` learns the identity and its user as they are found, `spent`
    /// the token's replay key once it is spent.
    async fn logout_at(
        &self,
        configured: &ConfiguredProvider,
        provider_id: &str,
        logout_token: &Secret<String>,
        known: &mut Known,
        spent: &mut Option<ReplayKey>,
    ) -> Result<LoggedOut, LogoutError> {
        let flow = configured
            .provider
            .backchannel_logout()
            .ok_or_else(|| LogoutError::NotEnabled(provider_id.into()))?;
        let logout = flow
            .verify_logout(logout_token)
            .await
            .map_err(LogoutError::of_provider)?;
        // Spent before anything else happens: a replay ends nothing, and costs no Appwrite call.
        let key = logout.replay_key();
        if !self.store.first_use(&key, logout.replay_until()).await? {
            return Err(LogoutError::Replayed);
        }
        *spent = Some(key);
        let subject = match (logout.subject(), logout.session_id()) {
            (Some(subject), _) => subject.to_string(),
            (None, Some(sid)) => {
                let key = SessionKey::of(provider_id, logout.issuer(), sid);
                match self.store.session_subject(&key).await? {
                    Some(subject) => subject,
                    None => return Ok(LoggedOut::NoUser),
                }
            }
            (None, None) => return Ok(LoggedOut::NoUser),
        };
        known.issuer = Some(logout.issuer().to_string());
        known.subject = Some(subject.clone());
        let users = identity_users(&self.appwrite, &self.id_key, logout.issuer(), &subject).await?;
        // The identity's own user (the derived id) comes first; a linked user otherwise.
        known.user_id = users.first().cloned();
        let mut ended = Vec::new();
        for user in users {
            // A user deleted meanwhile has no sessions left to end.
            if self.appwrite.delete_sessions(&user).await? {
                ended.push(user);
            }
        }
        Ok(if ended.is_empty() {
            LoggedOut::NoUser
        } else {
            LoggedOut::SessionsEnded(ended)
        })
    }

    /// Remembers which provider session `identity` logged in with, when its provider accepts
    /// logout tokens and says (`sid`), so that a logout token naming only that session finds
    /// the identity. Kept for the provider's longest session.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot record it: the login then fails closed, since its
    /// session could not be ended by such a token.
    pub(crate) async fn record_session(
        &self,
        configured: &ConfiguredProvider,
        identity: &Identity,
    ) -> Result<(), StoreError> {
        let Some(flow) = configured.provider.backchannel_logout() else {
            return Ok(());
        };
        let Some(sid) = flow.session_id(identity) else {
            return Ok(());
        };
        let key = SessionKey::of(identity.provider(), identity.issuer(), &sid);
        self.store
            .record_session(&key, identity.subject(), flow.session_lifetime())
            .await
    }
}

/// The Appwrite users of (issuer, subject), never created: the user under the derived id when
/// the gateway made it (its owner label), and the users whose labels hold the identity's link
/// label (a list answer is checked against its filter before it is believed).
///
/// # Errors
/// Any failed Appwrite call.
async fn identity_users(
    appwrite: &AppwriteClient,
    key: &IdKey,
    issuer: &str,
    subject: &str,
) -> Result<Vec<String>, AppwriteError> {
    let mut users = Vec::new();
    let id = key.user_id(issuer, subject);
    if let Some(user) = appwrite.get_user(id.as_str()).await? {
        if user.labels.iter().any(|l| l == OWNER_LABEL) {
            users.push(user.id);
        } else {
            // Someone else's user under the identity's id (see `mapping::claim`), or one
            // whose labelling failed, which was never given a token: not the identity's.
            tracing::warn!(
                user_id = user.id.as_str(),
                "a back-channel logout ignores the user under the identity's id: it lacks the gateway's label"
            );
        }
    }
    let link = key.link_label(issuer, subject);
    for user in appwrite.list_users_by_label(link.as_str()).await? {
        if user.labels.iter().any(|l| l == link.as_str()) && !users.contains(&user.id) {
            users.push(user.id);
        }
    }
    Ok(users)
}
