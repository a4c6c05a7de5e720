//! In-process transaction store on moka: TTL-bounded, capped, atomic take.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;

use super::{StoreError, TransactionStore};
use crate::clock::Clock;
use crate::login::transaction::{LoginTransaction, StateKey};

/// The memory store. One per process: logins must come back to the instance that started them.
pub struct MemoryStore {
    cache: Cache<String, LoginTransaction>,
    /// Open logins: +1 on put, -1 when moka removes an entry for any reason. moka's own
    /// `entry_count` lags behind inserts, which would let a burst pass the cap.
    open: Arc<AtomicU64>,
    ttl: Duration,
    cap: u64,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    /// A store whose entries live `ttl`, holding at most `cap` open logins.
    pub fn new(ttl: Duration, cap: u64, clock: Arc<dyn Clock>) -> Self {
        let open = Arc::new(AtomicU64::new(0));
        let on_removal = open.clone();
        Self {
            // The explicit cap in `put` makes a flood fail loudly; moka's own capacity (a bit
            // higher) is only a backstop and never evicts real logins in normal operation.
            cache: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(cap.saturating_add(cap / 10))
                .eviction_listener(move |_, _, _| {
                    let _ = on_removal.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(1))
                    });
                })
                .build(),
            open,
            ttl,
            cap,
            clock,
        }
    }
}

#[async_trait]
impl TransactionStore for MemoryStore {
    async fn put(&self, key: StateKey, transaction: LoginTransaction) -> Result<(), StoreError> {
        // Reserve a slot atomically, so concurrent starts cannot overshoot the cap.
        let reserve = || {
            self.open
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.cap).then_some(n + 1)
                })
                .is_ok()
        };
        if !reserve() {
            // Let moka expire what is due (its listener frees slots), then try once more.
            self.cache.run_pending_tasks().await;
            if !reserve() {
                return Err(StoreError::Full(self.cap));
            }
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
        let age = self
            .clock
            .now()
            .duration_since(transaction.created_at)
            .unwrap_or_default();
        Ok((age <= self.ttl).then_some(transaction))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::login::redirect::AllowList;
    use crate::login::transaction::NewLogin;

    fn login(clock: &dyn Clock) -> NewLogin {
        let target = AllowList::parse(&["http://127.0.0.1:3000/".to_string()])
            .expect("list")
            .check("success", Some("http://127.0.0.1:3000/"))
            .expect("allowed");
        NewLogin::generate("corp", target.clone(), target, clock.now())
    }

    #[tokio::test]
    async fn take_is_single_use() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(Duration::from_secs(600), 10, clock.clone());
        let new = login(clock.as_ref());
        let key = StateKey::of(new.state.expose());
        store.put(key.clone(), new.transaction).await.expect("put");
        assert!(store.take(&key).await.expect("take").is_some());
        assert!(store.take(&key).await.expect("take").is_none());
    }

    #[tokio::test]
    async fn expired_transactions_are_gone() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(Duration::from_secs(600), 10, clock.clone());
        let new = login(clock.as_ref());
        let key = StateKey::of(new.state.expose());
        store.put(key.clone(), new.transaction).await.expect("put");
        clock.advance(Duration::from_secs(601));
        assert!(store.take(&key).await.expect("take").is_none());
    }

    #[tokio::test]
    async fn the_cap_refuses_new_logins() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(Duration::from_secs(600), 3, clock.clone());
        for _ in 0..3 {
            let new = login(clock.as_ref());
            store
                .put(StateKey::of(new.state.expose()), new.transaction)
                .await
                .expect("put");
        }
        let new = login(clock.as_ref());
        let err = store
            .put(StateKey::of(new.state.expose()), new.transaction)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Full(3)));
    }
}
