//! `[store]`: where login transactions live between start and callback.

use std::time::Duration;

use serde::Deserialize;

use super::in_range;

/// `[store]`: where login transactions live between start and callback. Compared whole by a
/// reload: the store instance (and the logins in it) outlives reloads, so no key here may change
/// without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Which backend.
    pub backend: StoreBackend,
    /// How long a login may take, at most 10 minutes.
    pub transaction_ttl: Duration,
    /// Cap on open logins, so a flood of `start` cannot exhaust memory.
    pub max_open_transactions: u64,
}

/// The transaction store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// In-process (one gateway instance).
    #[default]
    Memory,
    /// Redis, for several instances behind a load balancer.
    Redis,
}

/// `[store]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStore {
    backend: StoreBackend,
    redis_url: Option<String>,
    transaction_ttl_seconds: i64,
    max_open_transactions: i64,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            redis_url: None,
            transaction_ttl_seconds: 600,
            max_open_transactions: 100_000,
        }
    }
}

impl RawStore {
    /// Checks the backend (only `memory` in this version), the lifetime and the cap,
    /// reporting each problem through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<StoreConfig> {
        if self.backend == StoreBackend::Redis {
            p(
                "store.backend",
                "\"redis\" is not available in this version; use \"memory\"".into(),
            );
        }
        if self.redis_url.is_some() && self.backend != StoreBackend::Redis {
            p(
                "store.redis_url",
                "is set but store.backend is not \"redis\"".into(),
            );
        }
        let ttl = in_range(
            p,
            "store.transaction_ttl_seconds",
            self.transaction_ttl_seconds,
            30,
            600,
        );
        let max_open = in_range(
            p,
            "store.max_open_transactions",
            self.max_open_transactions,
            1,
            10_000_000,
        );
        Some(StoreConfig {
            backend: self.backend,
            transaction_ttl: Duration::from_secs(ttl?),
            max_open_transactions: max_open?,
        })
    }
}
