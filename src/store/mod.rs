//! The login transaction store: put at `start`, take exactly once at `callback`.
//!
//! Behind a trait so several gateway instances can share a backend; the in-process backend is
//! [`memory::MemoryStore`]. `take` returns the transaction *by value* and deletes it in one
//! step: single use is ownership, and nothing can read a transaction twice.

pub mod memory;
pub mod transaction;

use async_trait::async_trait;

use crate::store::transaction::{LoginTransaction, StateKey};

/// Why the store could not do its job. Either way the login fails closed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Too many logins are open; refuse new ones rather than exhaust memory.
    #[error("too many open logins ({0}); try again later")]
    Full(u64),
    /// Open logins hold their byte budget; refuse new ones rather than exhaust memory.
    #[error("open logins hold their budget of {0} bytes; try again later")]
    OverBudget(u64),
    /// The backend is unreachable or failed.
    #[error("transaction store unavailable: {0}")]
    Unavailable(String),
}

/// Where login transactions live between `start` and `callback`.
#[async_trait]
pub trait TransactionStore: Send + Sync {
    /// Stores a new transaction; it expires after the store's TTL.
    ///
    /// # Errors
    /// `Full` over the cap, `Unavailable` when the backend fails.
    async fn put(&self, key: StateKey, transaction: LoginTransaction) -> Result<(), StoreError>;

    /// Removes and returns the transaction; `None` if unknown, already taken or expired.
    ///
    /// # Errors
    /// `Unavailable` when the backend fails.
    async fn take(&self, key: &StateKey) -> Result<Option<LoginTransaction>, StoreError>;

    /// Whether the backend works (readiness).
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}
