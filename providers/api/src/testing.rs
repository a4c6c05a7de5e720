//! In-memory stand-ins for the services the gateway lends an assertion flow, for provider
//! crates' own tests (feature `testing`). The gateway's real ones are its store and its
//! Appwrite client.

// Test support: a failed unwrap or expect fails the test that uses it, which is what it is
// for (the workspace lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::{AccountDirectory, AccountUser, ReplayCache, ReplayKey, Secret, ServiceError};

/// A replay cache in memory: remembers every key, records how long each was to be kept, and
/// can be made unavailable.
#[derive(Debug, Default)]
pub struct MemoryReplay {
    seen: Mutex<HashSet<[u8; 32]>>,
    until: Mutex<Vec<SystemTime>>,
    down: AtomicBool,
}

impl MemoryReplay {
    /// One whose every call fails, as a store that is down.
    pub fn down() -> Self {
        let replay = Self::default();
        replay.down.store(true, Ordering::SeqCst);
        replay
    }

    /// The `until` of every call so far, in order.
    ///
    /// # Panics
    /// When a test thread panicked while holding the lock.
    pub fn untils(&self) -> Vec<SystemTime> {
        self.until.lock().expect("replay lock").clone()
    }
}

#[async_trait]
impl ReplayCache for MemoryReplay {
    async fn first_use(&self, key: &ReplayKey, until: SystemTime) -> Result<bool, ServiceError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ServiceError::Store("the test store is down".into()));
        }
        self.until.lock().expect("replay lock").push(until);
        Ok(self
            .seen
            .lock()
            .expect("replay lock")
            .insert(*key.as_bytes()))
    }
}

/// A directory with no users: every lookup answers "nobody".
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDirectory;

#[async_trait]
impl AccountDirectory for NoDirectory {
    async fn user_for_jwt(&self, _: &Secret<String>) -> Result<Option<AccountUser>, ServiceError> {
        Ok(None)
    }

    async fn user_by_email(&self, _: &str) -> Result<Option<AccountUser>, ServiceError> {
        Ok(None)
    }
}
