//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): a provider that can tell the
//! gateway, server to server, that a user's session at it has ended.
//!
//! The provider verifies the logout token into a [`VerifiedLogout`]: who logged out (the
//! identity's issuer and subject, keyed exactly as a login's [`Identity`]) or which of its
//! sessions ended (`sid`), and the token's `jti` for the gateway's replay cache. The gateway
//! then ends the user's Appwrite sessions. The provider also says which session a login belongs
//! to ([`BackchannelLogout::session_id`]), so that the gateway can remember it for tokens that
//! name only the session.
//!
//! Must not: find, create or change Appwrite users (the gateway does), or keep state of its own.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::{Identity, ProviderError, ReplayKey, Secret};

/// The kind of value a logout token's replay key is made of (see [`VerifiedLogout::replay_key`]).
const REPLAY_KIND: &str = "logout_jti";

/// A logout token that passed every check: whose sessions end. Only a provider's verify step
/// builds one (there is no `Deserialize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogout {
    provider: String,
    issuer: String,
    subject: Option<String>,
    session_id: Option<String>,
    jti: String,
    replay_until: SystemTime,
}

/// Why a [`VerifiedLogout`] cannot be built: the token names neither a subject nor a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a logout names a subject, a session or both")]
pub struct NobodyLoggedOut;

impl VerifiedLogout {
    /// A verified logout at `provider` (its configured id) of the identity `(issuer, subject)`,
    /// keyed as the provider keys a login's [`Identity`], and/or of the provider session
    /// `session_id`; `jti` is the token's, remembered until `replay_until`.
    ///
    /// # Security
    /// Call it only after every check of the logout token passed (signature, `iss`, `aud`,
    /// `iat`, `exp`, `events`, no `nonce`).
    ///
    /// # Errors
    /// [`NobodyLoggedOut`] when both `subject` and `session_id` are `None`.
    pub fn verified(
        provider: impl Into<String>,
        issuer: impl Into<String>,
        subject: Option<String>,
        session_id: Option<String>,
        jti: impl Into<String>,
        replay_until: SystemTime,
    ) -> Result<Self, NobodyLoggedOut> {
        if subject.is_none() && session_id.is_none() {
            return Err(NobodyLoggedOut);
        }
        Ok(Self {
            provider: provider.into(),
            issuer: issuer.into(),
            subject,
            session_id,
            jti: jti.into(),
            replay_until,
        })
    }

    /// The identity's issuer (as in [`Identity::issuer`]).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The identity's subject, when the token names one (as in [`Identity::subject`]).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The provider's session id (`sid`), when the token names one.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The key under which the token's use is remembered: the `jti` within its issuer (which
    /// keeps it unique), whichever provider the token is presented at, so two providers on one
    /// issuer cannot each accept it once. The `jti` is a decoded claim value, so the same token
    /// in another spelling (another signature encoding, other JSON escapes) has the same key.
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey::new(&self.issuer, REPLAY_KIND, self.jti.as_bytes())
    }

    /// Until when the `jti` must be remembered: after that the token is refused anyway
    /// (expired, or older than the provider accepts).
    pub fn replay_until(&self) -> SystemTime {
        self.replay_until
    }
}

/// A provider that accepts logout tokens at `POST /v1/auth/{id}/backchannel-logout`.
#[async_trait]
pub trait BackchannelLogout: Send + Sync {
    /// Verifies a logout token (the form field `logout_token`, as received).
    ///
    /// # Errors
    /// `Rejected` naming the failed check; `Upstream` when the provider's keys cannot be loaded.
    async fn verify_logout(
        &self,
        logout_token: &Secret<String>,
    ) -> Result<VerifiedLogout, ProviderError>;

    /// The provider session (`sid`) a login's identity belongs to, when the provider said, so
    /// that a later logout token naming only that session finds the identity.
    fn session_id(&self, identity: &Identity) -> Option<String>;

    /// How long the gateway remembers a login's session id: the longest a session at the
    /// provider can last (after that no logout token names it).
    fn session_lifetime(&self) -> Duration;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logout(issuer: &str, jti: &str) -> VerifiedLogout {
        VerifiedLogout::verified(
            "corp",
            issuer,
            Some("alice".into()),
            None,
            jti,
            SystemTime::UNIX_EPOCH,
        )
        .expect("names a subject")
    }

    #[test]
    fn a_logout_names_someone() {
        let nobody =
            VerifiedLogout::verified("corp", "https://op", None, None, "j", SystemTime::now());
        assert_eq!(nobody, Err(NobodyLoggedOut));
        let by_session = VerifiedLogout::verified(
            "corp",
            "https://op",
            None,
            Some("s-1".into()),
            "j",
            SystemTime::now(),
        )
        .expect("a session is enough");
        assert_eq!(by_session.session_id(), Some("s-1"));
        assert_eq!(by_session.subject(), None);
    }

    #[test]
    fn the_replay_key_is_the_issuer_and_the_jti() {
        assert_eq!(
            logout("https://op", "j-1").replay_key(),
            logout("https://op", "j-1").replay_key()
        );
        assert_ne!(
            logout("https://op", "j-1").replay_key(),
            logout("https://other", "j-1").replay_key()
        );
        // The issuer's length keeps (`ab`, `c`) and (`a`, `bc`) apart.
        assert_ne!(
            logout("ab", "c").replay_key(),
            logout("a", "bc").replay_key()
        );
        // Presented at another provider on the same issuer, it is the same token.
        let at = |provider: &str| {
            VerifiedLogout::verified(
                provider,
                "https://op",
                Some("alice".into()),
                None,
                "j-1",
                SystemTime::now(),
            )
            .expect("names alice")
            .replay_key()
        };
        assert_eq!(at("corp"), at("corp-too"));
    }
}
