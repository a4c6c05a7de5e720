//! The login transaction store: put at `start`, take exactly once at `callback`; the replay
//! cache of the assertion flows (`first_use`); and the provider sessions of back-channel
//! logout ([`session`]), so that a shared backend shares all three.
//!
//! Behind a trait so several gateway instances can share a backend: the in-process backend is
//! [`memory::MemoryStore`], the shared one [`redis::RedisStore`] (values sealed by [`seal`]).
//! [`open`] builds the configured one. `take` returns the transaction *by value* and deletes it
//! in one step: single use is ownership, and nothing can read a transaction twice.

pub mod memory;
pub mod redis;
pub mod seal;
pub mod session;
pub mod settings;
pub mod transaction;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use idp_provider_api::{ReplayCache, ReplayKey, ServiceError};

use crate::clock::Clock;
use crate::store::session::SessionKey;
use crate::store::transaction::{LoginTransaction, StateKey};
pub use settings::{RedisSettings, RedisUrl, StoreBackend, StoreConfig};

/// The longest a replay entry is kept. Assertion providers record a used assertion until it
/// could no longer be accepted anyway (minutes); a longer window is a provider bug, refused.
pub const MAX_REPLAY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Why the store could not do its job. Either way the login fails closed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Too many logins are open; refuse new ones rather than exhaust memory.
    #[error("too many open logins ({0}); try again later")]
    Full(u64),
    /// Open logins hold their byte budget; refuse new ones rather than exhaust memory.
    #[error("open logins hold their budget of {0} bytes; try again later")]
    OverBudget(u64),
    /// The shared store is short of memory (above its high-water mark, or out of it): new
    /// logins are refused so that what is left keeps replay entries and callbacks working.
    #[error("Redis is short of memory ({0}); new logins wait until it has room")]
    LowMemory(String),
    /// The backend is unreachable or failed.
    #[error("transaction store unavailable: {0}")]
    Unavailable(String),
}

/// Where login transactions live between `start` and `callback`. Every backend runs the one
/// suite of these promises, tests/integration/store_contract.rs (one line per backend).
#[async_trait]
pub trait TransactionStore: Send + Sync {
    /// Stores a new transaction; it expires after the store's TTL.
    ///
    /// # Errors
    /// `Full` over the cap, `OverBudget` or `LowMemory` short of room, `Unavailable` when the
    /// backend fails.
    async fn put(&self, key: StateKey, transaction: LoginTransaction) -> Result<(), StoreError>;

    /// Removes and returns the transaction; `None` if unknown, already taken or expired.
    /// The success and failure URLs come back as `start` stored them; the login pipeline
    /// checks them against the current `[redirect].allowed`.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails.
    async fn take(&self, key: &StateKey) -> Result<Option<LoginTransaction>, StoreError>;

    /// Records an assertion as used until `until`: `true` the first time, `false` on every later
    /// call (a replay). Atomic across concurrent calls.
    ///
    /// # Errors
    /// `Full` at the cap (an entry is never dropped early, which would permit a replay),
    /// `Unavailable` when the backend fails or `until` is beyond [`MAX_REPLAY_WINDOW`].
    async fn first_use(&self, key: &ReplayKey, until: SystemTime) -> Result<bool, StoreError>;

    /// Un-spends `key`: a later [`first_use`](Self::first_use) of it is a first use again.
    /// Only for a decision that spent its token and then failed for a reason that is not the
    /// token's (a dependency's outage), so that the sender's retry can succeed; unknown keys
    /// are no error.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails: the key then stays spent (the retry is refused
    /// as a replay, which fails closed).
    async fn forget(&self, key: &ReplayKey) -> Result<(), StoreError>;

    /// Remembers that the provider session `key` (a login's `sid`, see [`session`]) belongs to
    /// `subject`, for `ttl`, replacing an earlier record of that session.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails.
    async fn record_session(
        &self,
        key: &SessionKey,
        subject: &str,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// The subject recorded for the provider session `key`; `None` when unknown or expired.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails.
    async fn session_subject(&self, key: &SessionKey) -> Result<Option<String>, StoreError>;

    /// Whether the backend works (readiness).
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// How many login transactions are open (put, not yet taken or expired), for the
    /// `open_transactions` gauge; read at every scrape, so it must be cheap. `None` (the
    /// default) when the backend cannot say cheaply, as a store shared by several instances
    /// cannot: the gauge is then left out.
    fn open_transactions(&self) -> Option<u64> {
        None
    }
}

/// Builds the configured store. A Redis store connects lazily, on its first command, so the
/// gateway starts (and reports not-ready) while Redis is away.
///
/// # Errors
/// `Unavailable` when the Redis client cannot be built from the settings (config validation
/// checks the same, so this is rare), or a Redis backend comes without its settings.
pub fn open(
    config: &StoreConfig,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn TransactionStore>, StoreError> {
    Ok(match (config.backend, &config.redis) {
        (StoreBackend::Memory, _) => Arc::new(memory::MemoryStore::new(
            config.transaction_ttl,
            config.max_open_transactions,
            clock,
        )),
        (StoreBackend::Redis, Some(settings)) => Arc::new(redis::RedisStore::open(
            settings,
            config.transaction_ttl,
            config.max_open_transactions,
            clock,
        )?),
        (StoreBackend::Redis, None) => {
            return Err(StoreError::Unavailable(
                "store.backend is \"redis\" but no Redis settings were given".into(),
            ));
        }
    })
}

/// How long a replay entry recorded at `now` must be kept to cover `until`: at least a second,
/// at most [`MAX_REPLAY_WINDOW`].
///
/// # Errors
/// `Unavailable` for a window beyond [`MAX_REPLAY_WINDOW`] (a provider bug).
pub fn replay_window(until: SystemTime, now: SystemTime) -> Result<Duration, StoreError> {
    let window = until
        .duration_since(now)
        .unwrap_or_default()
        .max(Duration::from_secs(1));
    if window > MAX_REPLAY_WINDOW {
        return Err(StoreError::Unavailable(format!(
            "a replay window of {window:?} is longer than the store keeps entries ({MAX_REPLAY_WINDOW:?})"
        )));
    }
    Ok(window)
}

/// The store as the replay cache lent to assertion providers.
pub struct StoreReplay<'a>(pub &'a dyn TransactionStore);

#[async_trait]
impl ReplayCache for StoreReplay<'_> {
    async fn first_use(&self, key: &ReplayKey, until: SystemTime) -> Result<bool, ServiceError> {
        self.0
            .first_use(key, until)
            .await
            .map_err(|e| ServiceError::Store(e.to_string()))
    }
}
