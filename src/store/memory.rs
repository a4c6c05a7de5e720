//! In-process store on moka: login transactions (TTL-bounded, capped, atomic take), the
//! replay cache of used assertions (each entry kept until its own deadline, capped) and the
//! provider sessions of back-channel logout ([`SessionRecords`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use idp_provider_api::ReplayKey;
use moka::Expiry;
use moka::future::Cache;

use super::session::{SessionKey, SessionRecords};
use super::{StoreError, TransactionStore, replay_window};
use crate::clock::Clock;
use crate::store::transaction::{LoginTransaction, StateKey};

/// Byte budget of the memory store per allowed open login: the store holds at most
/// `max_open_transactions` logins *and* at most that many times this many bytes (counted with
/// [`LoginTransaction::weight`]). A login with typical URLs weighs under 1 KiB, so the count
/// cap is what binds in normal use; with the longest URLs the budget admits fewer logins.
pub const BUDGET_BYTES_PER_LOGIN: u64 = 2048;

/// The memory store. One per process: logins must come back to the instance that started them.
pub struct MemoryStore {
    cache: Cache<String, LoginTransaction>,
    /// Open logins: +1 on put, -1 when moka removes an entry for any reason. moka's own
    /// `entry_count` lags behind inserts, which would let a burst pass the cap.
    open: Arc<AtomicU64>,
    /// Bytes of the open logins, by the same rule (+weight on put, -weight on removal).
    bytes: Arc<AtomicU64>,
    ttl: Duration,
    cap: u64,
    budget: u64,
    clock: Arc<dyn Clock>,
    /// Used assertions, each kept for its own window (the value).
    used: Cache<[u8; 32], Duration>,
    /// Entries in `used`, counted like `open`.
    used_count: Arc<AtomicU64>,
    /// Provider sessions of back-channel logout, at most `cap` of them.
    sessions: SessionRecords,
}

/// Each replay entry lives for the window it was recorded with.
struct OwnWindow;

impl Expiry<[u8; 32], Duration> for OwnWindow {
    fn expire_after_create(&self, _: &[u8; 32], window: &Duration, _: Instant) -> Option<Duration> {
        Some(*window)
    }
}

impl MemoryStore {
    /// A store whose entries live `ttl`, holding at most `cap` open logins and at most
    /// `cap` × [`BUDGET_BYTES_PER_LOGIN`] bytes of them.
    pub fn new(ttl: Duration, cap: u64, clock: Arc<dyn Clock>) -> Self {
        Self::with_budget(ttl, cap, cap.saturating_mul(BUDGET_BYTES_PER_LOGIN), clock)
    }

    /// A store with an explicit byte budget.
    pub fn with_budget(ttl: Duration, cap: u64, budget: u64, clock: Arc<dyn Clock>) -> Self {
        let open = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (open_on_removal, bytes_on_removal) = (open.clone(), bytes.clone());
        let used_count = Arc::new(AtomicU64::new(0));
        let used_on_removal = used_count.clone();
        Self {
            // The explicit caps in `put` make a flood fail loudly; moka's own capacity (a bit
            // higher) is only a backstop and never evicts real logins in normal operation.
            cache: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(cap.saturating_add(cap / 10))
                .eviction_listener(move |_, transaction: LoginTransaction, _| {
                    release(&open_on_removal, 1);
                    release(&bytes_on_removal, transaction.weight());
                })
                .build(),
            open,
            bytes,
            ttl,
            cap,
            budget,
            clock,
            // Never evicts before the deadline in normal operation: `first_use` refuses at the
            // cap instead (an evicted entry would let its assertion be replayed).
            used: Cache::builder()
                .expire_after(OwnWindow)
                .max_capacity(cap.saturating_add(cap / 10))
                .eviction_listener(move |_, _, _| release(&used_on_removal, 1))
                .build(),
            used_count,
            sessions: SessionRecords::new(cap),
        }
    }

    fn reserve_used(&self) -> bool {
        self.used_count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.cap).then_some(n + 1)
            })
            .is_ok()
    }

    /// Reserves one slot and `weight` bytes atomically, so concurrent starts cannot overshoot
    /// either bound.
    fn reserve(&self, weight: u64) -> Result<(), StoreError> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.cap).then_some(n + 1)
            })
            .map_err(|_| StoreError::Full(self.cap))?;
        let budget = self.budget;
        let bytes = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                n.checked_add(weight).filter(|total| *total <= budget)
            });
        if bytes.is_err() {
            release(&self.open, 1);
            return Err(StoreError::OverBudget(budget));
        }
        Ok(())
    }
}

/// Subtracts `amount` from a counter, never below zero.
fn release(counter: &AtomicU64, amount: u64) {
    let _ = counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
        Some(n.saturating_sub(amount))
    });
}

#[async_trait]
impl TransactionStore for MemoryStore {
    async fn put(&self, key: StateKey, transaction: LoginTransaction) -> Result<(), StoreError> {
        let weight = transaction.weight();
        if self.reserve(weight).is_err() {
            // Let moka expire what is due (its listener frees slots and bytes), then try once more.
            self.cache.run_pending_tasks().await;
            self.reserve(weight)?;
        }
        self.cache
            .insert(key.as_str().to_string(), transaction)
            .await;
        Ok(())
    }

    async fn take(&self, key: &StateKey) -> Result<Option<LoginTransaction>, StoreError> {
        // `remove` is atomic: of two concurrent callbacks with the same state, one gets it.
        let Some(transaction) = self.cache.remove(key.as_str()).await else {
            return Ok(None);
        };
        // moka's TTL runs on its own clock; the deadline that counts is checked here.
        Ok(transaction
            .is_live(self.clock.now(), self.ttl)
            .then_some(transaction))
    }

    async fn first_use(&self, key: &ReplayKey, until: SystemTime) -> Result<bool, StoreError> {
        let window = replay_window(until, self.clock.now())?;
        if self.used.contains_key(key.as_bytes()) {
            return Ok(false);
        }
        if !self.reserve_used() {
            self.used.run_pending_tasks().await;
            if !self.reserve_used() {
                return Err(StoreError::Full(self.cap));
            }
        }
        // `or_insert` is atomic per key: of two concurrent calls, exactly one inserts.
        let entry = self.used.entry(*key.as_bytes()).or_insert(window).await;
        if !entry.is_fresh() {
            release(&self.used_count, 1);
        }
        Ok(entry.is_fresh())
    }

    async fn forget(&self, key: &ReplayKey) -> Result<(), StoreError> {
        // The eviction listener gives the entry's slot back.
        self.used.invalidate(key.as_bytes()).await;
        Ok(())
    }

    async fn record_session(
        &self,
        key: &SessionKey,
        subject: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.sessions.record(key, subject, ttl, now).await;
        Ok(())
    }

    async fn session_subject(&self, key: &SessionKey) -> Result<Option<String>, StoreError> {
        Ok(self.sessions.subject(key, self.clock.now()).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The store's own count. A login that expired counts until moka sweeps it (on the next
    /// writes, or when the cap is reached), so the gauge may run a little high after a burst.
    fn open_transactions(&self) -> Option<u64> {
        Some(self.open.load(Ordering::Acquire))
    }
}

// What every store promises (single take, expiry, the cap, replay, sessions) is tested once for
// every backend in tests/integration/store_contract.rs; here only what this store does its own way.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::return_urls::AllowList;

    /// Whether `take` returned the transaction of `key`.
    async fn taken(store: &MemoryStore, key: &StateKey) -> bool {
        store.take(key).await.expect("take").is_some()
    }
    use crate::return_urls::RedirectTarget;
    use idp_provider_api::{LoginData, Secret};

    /// A started login: its `state` and the transaction to store.
    struct NewLogin {
        state: Secret<String>,
        transaction: LoginTransaction,
    }

    fn new_login(target: RedirectTarget, clock: &dyn Clock) -> NewLogin {
        NewLogin {
            state: Secret::new(uuid::Uuid::new_v4().to_string()),
            transaction: LoginTransaction {
                provider: "corp".into(),
                // What the OIDC provider keeps: a nonce and a PKCE verifier, as JSON.
                data: LoginData::new(format!(
                    "{{\"nonce\":\"{}\",\"pkce_verifier\":\"{}\"}}",
                    "n".repeat(43),
                    "v".repeat(43)
                )),
                success: target.clone(),
                failure: target,
                state: None,
                created_at: clock.now(),
            },
        }
    }

    fn login(clock: &dyn Clock) -> NewLogin {
        let target = AllowList::parse(&["http://127.0.0.1:3000/".to_string()])
            .expect("list")
            .check("success", Some("http://127.0.0.1:3000/"))
            .expect("allowed");
        new_login(target, clock)
    }

    #[tokio::test]
    async fn the_open_count_follows_puts_and_takes() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(Duration::from_secs(600), 10, clock.clone());
        assert_eq!(store.open_transactions(), Some(0));
        let (first, second) = (login(clock.as_ref()), login(clock.as_ref()));
        let first_key = StateKey::of(first.state.expose());
        store
            .put(first_key.clone(), first.transaction)
            .await
            .expect("put");
        store
            .put(StateKey::of(second.state.expose()), second.transaction)
            .await
            .expect("put");
        assert_eq!(store.open_transactions(), Some(2));
        store.take(&first_key).await.expect("take").expect("found");
        assert_eq!(store.open_transactions(), Some(1));
    }

    #[tokio::test]
    async fn a_full_replay_cache_refuses_rather_than_forgets() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(Duration::from_secs(600), 2, clock.clone());
        let until = clock.now() + Duration::from_secs(300);
        for n in 0..2u8 {
            let key = ReplayKey::new("p", "jti", &[n]);
            assert!(store.first_use(&key, until).await.expect("room"));
        }
        let third = ReplayKey::new("p", "jti", b"third");
        assert!(matches!(
            store.first_use(&third, until).await,
            Err(StoreError::Full(2))
        ));
        // The first two are still remembered.
        let first = ReplayKey::new("p", "jti", &[0]);
        assert!(!store.first_use(&first, until).await.expect("remembered"));
    }

    fn long_login(clock: &dyn Clock) -> NewLogin {
        let long = format!("http://127.0.0.1:3000/{}", "a".repeat(2000));
        let target = AllowList::parse(&["http://127.0.0.1:3000/".to_string()])
            .expect("list")
            .check("success", Some(&long))
            .expect("allowed");
        new_login(target, clock)
    }

    #[tokio::test]
    async fn the_byte_budget_refuses_and_frees() {
        let clock = Arc::new(ManualClock::default());
        let one = long_login(clock.as_ref()).transaction.weight();
        assert!(one > 4000, "two 2 KB URLs: {one}");
        // Room for two long logins by bytes, ten by count.
        let store = MemoryStore::with_budget(Duration::from_secs(600), 10, 2 * one, clock.clone());
        let mut keys = Vec::new();
        for _ in 0..2 {
            let new = long_login(clock.as_ref());
            let key = StateKey::of(new.state.expose());
            store.put(key.clone(), new.transaction).await.expect("put");
            keys.push(key);
        }
        let new = long_login(clock.as_ref());
        let err = store
            .put(StateKey::of(new.state.expose()), new.transaction)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::OverBudget(b) if b == 2 * one),
            "{err}"
        );
        // The budget is spent: even a short login is refused, though the count cap has room.
        assert!(
            store
                .put(StateKey::of("x"), login(clock.as_ref()).transaction)
                .await
                .is_err()
        );
        // Taking a login gives its bytes back.
        assert!(taken(&store, &keys[0]).await);
        store.cache.run_pending_tasks().await;
        let new = long_login(clock.as_ref());
        store
            .put(StateKey::of(new.state.expose()), new.transaction)
            .await
            .expect("room again");
    }

    #[test]
    fn the_default_budget_follows_the_count_cap() {
        let store = MemoryStore::new(
            Duration::from_secs(600),
            100,
            Arc::new(ManualClock::default()),
        );
        assert_eq!(store.budget, 100 * BUDGET_BYTES_PER_LOGIN);
    }

    #[tokio::test]
    async fn a_forgotten_assertion_is_a_first_use_again_and_frees_its_slot() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(Duration::from_secs(600), 1, clock.clone());
        let until = clock.now() + Duration::from_secs(300);
        let (key, other) = (
            ReplayKey::new("backend", "jti", b"abc"),
            ReplayKey::new("backend", "jti", b"def"),
        );
        assert!(store.first_use(&key, until).await.expect("first"));
        store.forget(&key).await.expect("forget");
        store
            .forget(&other)
            .await
            .expect("an unknown key is no error");
        assert!(store.first_use(&key, until).await.expect("again"));
        assert!(!store.first_use(&key, until).await.expect("spent"));
        store.forget(&key).await.expect("forget");
        // The cap of one counts only what is remembered.
        assert!(store.first_use(&other, until).await.expect("room"));
    }
}
