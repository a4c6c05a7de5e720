//! Provider sessions remembered for back-channel logout: a login's `sid` (the provider's
//! session id) and the identity's subject, so that a logout token naming only the session
//! finds the user.
//!
//! A record is keyed by [`SessionKey`], a SHA-256 over the provider id, the identity's issuer
//! and the `sid`. In Redis the key is that hash (hex) and the value, the subject, is sealed
//! ([`super::seal`]), so whoever reads Redis learns neither a session id nor a subject. In
//! memory the records are a [`SessionRecords`] cache, capped: when it is full, the least
//! recently used record goes first (a logout token naming only that session then finds
//! nobody; tokens that name the subject are not affected).
//! Must not: log a session id or a subject.

use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use sha2::{Digest, Sha256};

/// Separates session keys from every other hash the gateway makes.
const DOMAIN: &[u8] = b"idp-bridge/provider-session/v1";

/// The key of one provider session: SHA-256 over [`DOMAIN`], the provider id, the identity's
/// issuer and the `sid`, each length-prefixed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// The key of session `sid` of provider `provider`, whose identities `issuer` issues.
    pub fn of(provider: &str, issuer: &str, sid: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [
            DOMAIN,
            provider.as_bytes(),
            issuer.as_bytes(),
            sid.as_bytes(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        Self(hash.finalize().into())
    }

    /// The hash, in lowercase hex (the Redis key's last part).
    pub fn hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKey({}…)", &self.hex()[..8])
    }
}

/// One remembered session.
#[derive(Clone)]
struct Record {
    subject: String,
    /// How long moka keeps it.
    ttl: Duration,
    /// When it ends by the gateway's clock (moka's runs on its own).
    until: SystemTime,
}

/// Each record lives its own TTL.
struct OwnTtl;

impl Expiry<[u8; 32], Record> for OwnTtl {
    fn expire_after_create(&self, _: &[u8; 32], record: &Record, _: Instant) -> Option<Duration> {
        Some(record.ttl)
    }

    fn expire_after_update(
        &self,
        _: &[u8; 32],
        record: &Record,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(record.ttl)
    }
}

/// The memory store's session records: at most `cap` of them.
pub struct SessionRecords {
    cache: Cache<[u8; 32], Record>,
}

impl SessionRecords {
    /// Room for `cap` records; past it the least recently used one is dropped.
    pub fn new(cap: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(cap)
                // LRU rather than moka's default admission policy, which may refuse a new
                // record when full: the newest sessions are the ones still alive.
                .eviction_policy(EvictionPolicy::lru())
                .expire_after(OwnTtl)
                .build(),
        }
    }

    /// Remembers `subject` for `key` until `ttl` after `now`, replacing an earlier record.
    pub async fn record(&self, key: &SessionKey, subject: &str, ttl: Duration, now: SystemTime) {
        let record = Record {
            subject: subject.to_string(),
            ttl,
            until: now + ttl,
        };
        self.cache.insert(key.0, record).await;
    }

    /// The subject remembered for `key`, unless its time is over at `now`.
    pub async fn subject(&self, key: &SessionKey, now: SystemTime) -> Option<String> {
        self.cache
            .get(&key.0)
            .await
            .filter(|record| now < record.until)
            .map(|record| record.subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_separates_its_parts() {
        let key = SessionKey::of("corp", "https://op", "s-1");
        assert_eq!(key, SessionKey::of("corp", "https://op", "s-1"));
        assert_ne!(key, SessionKey::of("corp2", "https://op", "s-1"));
        assert_ne!(key, SessionKey::of("corp", "https://op2", "s-1"));
        assert_ne!(
            SessionKey::of("corp", "ab", "c"),
            SessionKey::of("corp", "a", "bc")
        );
        let shown = format!("{key:?}");
        assert!(shown.len() < 24 && !shown.contains("s-1"), "{shown}");
    }

    #[tokio::test]
    async fn a_record_lives_its_ttl_by_the_gateway_clock() {
        let records = SessionRecords::new(10);
        let key = SessionKey::of("corp", "https://op", "s-1");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        records
            .record(&key, "alice", Duration::from_secs(60), now)
            .await;
        assert_eq!(records.subject(&key, now).await.as_deref(), Some("alice"));
        let later = now + Duration::from_secs(59);
        assert_eq!(records.subject(&key, later).await.as_deref(), Some("alice"));
        assert_eq!(
            records.subject(&key, now + Duration::from_secs(60)).await,
            None
        );
        let other = SessionKey::of("corp", "https://op", "s-2");
        assert_eq!(records.subject(&other, now).await, None);
    }

    #[tokio::test]
    async fn when_full_the_newest_record_stays() {
        let records = SessionRecords::new(2);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let ttl = Duration::from_secs(600);
        for sid in ["s-1", "s-2", "s-3"] {
            records
                .record(&SessionKey::of("corp", "https://op", sid), sid, ttl, now)
                .await;
            records.cache.run_pending_tasks().await;
        }
        let newest = SessionKey::of("corp", "https://op", "s-3");
        assert_eq!(records.subject(&newest, now).await.as_deref(), Some("s-3"));
        assert!(records.cache.entry_count() <= 2);
    }
}
