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

/// The key of one used assertion: a SHA-256 over the scope the value is unique in, the kind of
/// value (`jti`, `tp`...) and the value, each length-prefixed. The cache stores only this hash,
/// never the token or pattern itself.
///
/// A key is about meaning, never spelling: whatever another encoding of the same assertion
/// could change stays out of it. A signed token is keyed by what its signature covers, wherever
/// it is presented ([`ReplayKey::jws`]), a value that only counts for one user by that user too
/// ([`ReplayKey::for_user`]).
///
/// # Security
/// The scope is whoever makes the value unique, never the provider that reads it: a claim such
/// as `jti` is unique per *issuer*, and two providers may read one issuer (two provider ids on
/// one IdP or one backend). Scoped to the provider, one stolen assertion would be accepted once
/// at each of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayKey([u8; 32]);

/// The namespace of every JWS key ([`ReplayKey::jws`]). Its keys hash two parts where every
/// other key hashes three or four, so no other key can collide with one.
const JWS_SCOPE: &[u8] = b"jws";

impl ReplayKey {
    /// The key of `value` of this `kind` within `scope`: the issuer for a claim its issuer keeps
    /// unique (`jti`), a provider's own name only for a value that means something to that
    /// provider alone. `value` must already be in the one spelling that means it (a claim as
    /// decoded from JSON, a canonical form).
    pub fn new(scope: &str, kind: &str, value: &[u8]) -> Self {
        Self::of_parts(&[scope.as_bytes(), kind.as_bytes(), value])
    }

    /// The key of a verified compact JWS (`header.payload.signature`): a hash of its signing
    /// input, `header.payload` exactly as sent, under one fixed namespace. ID tokens are keyed
    /// this way; logout tokens are not: they are keyed by their `jti` within their issuer
    /// ([`ReplayKey::new`], see [`crate::VerifiedLogout::replay_key`]), which the Back-Channel
    /// Logout spec makes unique per issuer.
    ///
    /// # Security
    /// Never key a JWS on its whole text: one signature has several spellings that all verify
    /// (the spare low bits of its last base64url character; ECDSA's `s` and `n - s`), so a
    /// replay in another spelling would look new. The signing input is what the signature
    /// covers: it cannot be spelled differently without breaking the signature.
    ///
    /// Nor is the key scoped to the provider, or to what the token is presented as: a token is
    /// a token wherever it is presented. Two providers on one issuer and client id accept the
    /// same tokens, and one of them must not accept a token the other already used.
    ///
    /// `None` when `compact` is not three segments (it cannot have been verified).
    pub fn jws(compact: &str) -> Option<Self> {
        let (input, _signature) = compact.rsplit_once('.')?;
        (input.matches('.').count() == 1).then(|| Self::of_parts(&[JWS_SCOPE, input.as_bytes()]))
    }

    /// The key of `value` of this `kind` within `scope` (as for [`ReplayKey::new`]), remembered
    /// for the user `user` only: the same value used by another user is another key, so the
    /// cache says nothing about whether that other user exists.
    pub fn for_user(scope: &str, kind: &str, user: &str, value: &[u8]) -> Self {
        Self::of_parts(&[scope.as_bytes(), kind.as_bytes(), user.as_bytes(), value])
    }

    /// SHA-256 over each part, length-prefixed, so no two lists of parts hash alike.
    fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hash = Sha256::new();
        for part in parts {
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
    fn a_jws_is_keyed_by_its_signing_input_only() {
        let key = ReplayKey::jws;
        // Other signature spellings (spare bits, ECDSA n - s): one key.
        assert_eq!(key("eyJh.eyJz.sigQ"), key("eyJh.eyJz.sigR"));
        assert_eq!(key("eyJh.eyJz.sigQ"), key("eyJh.eyJz.other"));
        // Another payload or header: another key.
        assert_ne!(key("eyJh.eyJy.sig"), key("eyJh.eyJz.sig"));
        assert_ne!(key("eyJi.eyJz.sig"), key("eyJh.eyJz.sig"));
        // No key of a scope and kind can be a JWS key, whatever the names.
        let jws = key("eyJh.eyJz.sig");
        assert_ne!(jws, Some(ReplayKey::new("jws", "", b"eyJh.eyJz")));
        assert_ne!(jws, Some(ReplayKey::new("", "jws", b"eyJh.eyJz")));
        // Not a compact JWS: no key.
        for malformed in ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e"] {
            assert_eq!(key(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn a_value_for_one_user_is_not_the_same_value_for_another() {
        let alice = ReplayKey::for_user("typingdna", "tp", "alice", b"1,2");
        assert_ne!(alice, ReplayKey::for_user("typingdna", "tp", "bob", b"1,2"));
        assert_eq!(
            alice,
            ReplayKey::for_user("typingdna", "tp", "alice", b"1,2")
        );
        // The user cannot slide into the value, nor a user-less key match.
        assert_ne!(
            alice,
            ReplayKey::for_user("typingdna", "tp", "alic", b"e1,2")
        );
        assert_ne!(alice, ReplayKey::new("typingdna", "tp", b"1,2"));
    }

    #[test]
    fn debug_shows_only_a_prefix_of_the_hash() {
        let text = format!("{:?}", ReplayKey::new("p", "jti", b"secret-value"));
        assert!(text.starts_with("ReplayKey(") && text.len() < 24, "{text}");
    }
}
