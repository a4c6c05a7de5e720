//! Services the gateway lends an assertion flow for one request: the replay cache (backed by the
//! same store as login transactions, so a shared store shares it) and a read-only view of the
//! Appwrite users (for providers that vouch for an existing user, like TypingDNA).
//!
//! A provider never holds them beyond the call, so it keeps no state of its own and any
//! gateway instance can serve any request.

use std::time::SystemTime;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::Secret;

/// Why a gateway service could not answer. Either way the exchange fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The replay cache's store is unreachable, slow or full: nothing may be accepted, since a
    /// replay could not be told apart.
    #[error("replay cache unavailable: {0}")]
    Store(String),
    /// Appwrite did not answer, or answered an error other than "not found".
    #[error("Appwrite unavailable: {0}")]
    Appwrite(String),
}

/// The key of one used assertion: a SHA-256 over the provider id, the kind of value (`jti`,
/// `id_token`, `tp`...) and the value, each length-prefixed. The cache stores only this hash,
/// never the token or pattern itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// The key of `value` of this `kind` at `provider`.
    pub fn new(provider: &str, kind: &str, value: &[u8]) -> Self {
        let mut hash = Sha256::new();
        for part in [provider.as_bytes(), kind.as_bytes(), value] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(hash.finalize().into())
    }

    /// The hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash of a (maybe secret) value: short enough to correlate, useless to replay.
        write!(
            f,
            "ReplayKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// The key a client is rate-limited under: its IPv4 address, or its IPv6 /64 (one subscriber
/// usually holds a whole /64 and could otherwise rotate addresses to dodge a limit). The
/// gateway's own limit and providers' limits count clients the same way.
pub fn client_bucket(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(_) => ip,
        std::net::IpAddr::V6(v6) => {
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64)))
        }
    }
}

/// Remembers which assertions were used, until they could no longer be accepted anyway.
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `key` as used until `until`. `Ok(true)` the first time, `Ok(false)` when it was
    /// already recorded (a replay: refuse). Atomic: of two concurrent calls with one key, exactly
    /// one gets `true`.
    ///
    /// # Errors
    /// `Store` when the cache cannot record it (unreachable, full): refuse, never accept.
    async fn first_use(&self, key: &ReplayKey, until: SystemTime) -> Result<bool, ServiceError>;
}

/// An Appwrite user as an assertion provider sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUser {
    /// The Appwrite user id.
    pub id: String,
    /// The user's email ("" when none).
    pub email: String,
    /// Whether Appwrite holds the email as verified.
    pub email_verified: bool,
    /// The user's name.
    pub name: String,
    /// `false` when the user is blocked.
    pub active: bool,
}

/// A read-only view of the project's Appwrite users.
#[async_trait]
pub trait AccountDirectory: Send + Sync {
    /// The user an Appwrite account JWT belongs to (`GET /v1/account` with `X-Appwrite-JWT`);
    /// `None` when Appwrite refuses the JWT (expired, forged, of another project).
    ///
    /// # Errors
    /// `Appwrite` when Appwrite cannot answer.
    async fn user_for_jwt(&self, jwt: &Secret<String>)
    -> Result<Option<AccountUser>, ServiceError>;

    /// The one user whose email is `email` (compared as Appwrite stores it, lowercase); `None`
    /// when there is none.
    ///
    /// # Errors
    /// `Appwrite` when Appwrite cannot answer.
    async fn user_by_email(&self, email: &str) -> Result<Option<AccountUser>, ServiceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cannot_slide_into_each_other() {
        assert_ne!(
            ReplayKey::new("ab", "c", b"x"),
            ReplayKey::new("a", "bc", b"x")
        );
        assert_eq!(
            ReplayKey::new("a", "jti", b"1"),
            ReplayKey::new("a", "jti", b"1")
        );
    }

    #[test]
    fn debug_shows_only_a_prefix_of_the_hash() {
        let text = format!("{:?}", ReplayKey::new("p", "jti", b"secret-value"));
        assert!(text.starts_with("ReplayKey(") && text.len() < 24, "{text}");
    }
}
