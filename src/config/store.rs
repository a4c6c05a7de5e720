//! `[store]`: where login transactions live between start and callback. The validated section
//! is the store's own [`StoreConfig`].

use std::time::Duration;

use idp_provider_api::Secret;
use serde::Deserialize;

use super::in_range;
use crate::store::seal::SealKeys;
use crate::store::{RedisSettings, RedisUrl, StoreBackend, StoreConfig};

/// `key_prefix` when none is given.
pub const DEFAULT_KEY_PREFIX: &str = "idp-bridge:";

/// `redis_timeout_ms` when none is given: far above a healthy Redis's sub-millisecond answer,
/// far below a browser's patience.
pub const DEFAULT_REDIS_TIMEOUT_MS: i64 = 500;

/// Longest `key_prefix`.
const MAX_KEY_PREFIX: usize = 64;

/// `redis_high_water_percent` when none is given: a fifth of `maxmemory` stays for replay
/// entries and callbacks whatever a flood of starts does.
pub const DEFAULT_REDIS_HIGH_WATER_PERCENT: i64 = 80;

/// `[store]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStore {
    backend: StoreBackend,
    redis_url: Option<Secret<String>>,
    redis_cluster: Option<bool>,
    key_prefix: Option<String>,
    redis_timeout_ms: Option<i64>,
    redis_high_water_percent: Option<i64>,
    encryption_keys: Option<KeyList>,
    transaction_ttl_seconds: i64,
    max_open_transactions: i64,
    /// Accepts plain `redis://` to a host that is not loopback (otherwise a warning, which
    /// `serve` refuses): for a private network between the gateway and Redis only. Read by
    /// the warnings, from the tree.
    allow_plain_redis: Option<bool>,
}

/// `encryption_keys`: a list, or (from `encryption_keys_file` or an environment variable) one
/// text with a key per line.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyList {
    List(Vec<Secret<String>>),
    Text(Secret<String>),
}

impl KeyList {
    /// The entries; blank lines and `#` comments of a text are skipped.
    fn entries(&self) -> Vec<String> {
        match self {
            Self::List(list) => list.iter().map(|k| k.expose().to_string()).collect(),
            Self::Text(text) => text
                .expose()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
        }
    }
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            redis_url: None,
            redis_cluster: None,
            key_prefix: None,
            redis_timeout_ms: None,
            redis_high_water_percent: None,
            encryption_keys: None,
            transaction_ttl_seconds: 600,
            max_open_transactions: 100_000,
            allow_plain_redis: None,
        }
    }
}

impl RawStore {
    /// Checks the backend and its keys, the lifetime and the cap, reporting each problem
    /// through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<StoreConfig> {
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
        let backend = self.backend;
        let redis = match backend {
            StoreBackend::Memory => {
                self.refuse_redis_keys(p);
                Some(None)
            }
            StoreBackend::Redis => self.redis(p).map(Some),
        };
        Some(StoreConfig {
            backend,
            transaction_ttl: Duration::from_secs(ttl?),
            max_open_transactions: max_open?,
            redis: redis?,
        })
    }

    /// Redis keys with the memory backend: a forgotten `backend = "redis"` would otherwise
    /// leave each instance with its own store, and logins failing across instances.
    fn refuse_redis_keys(&self, p: &mut impl FnMut(&str, String)) {
        let set = [
            ("store.redis_url", self.redis_url.is_some()),
            ("store.redis_cluster", self.redis_cluster.is_some()),
            ("store.key_prefix", self.key_prefix.is_some()),
            ("store.redis_timeout_ms", self.redis_timeout_ms.is_some()),
            (
                "store.redis_high_water_percent",
                self.redis_high_water_percent.is_some(),
            ),
            ("store.encryption_keys", self.encryption_keys.is_some()),
            ("store.allow_plain_redis", self.allow_plain_redis.is_some()),
        ];
        for (key, _) in set.iter().filter(|(_, set)| *set) {
            p(key, "is set but store.backend is not \"redis\"".into());
        }
    }

    fn redis(self, p: &mut impl FnMut(&str, String)) -> Option<RedisSettings> {
        let url = match &self.redis_url {
            None => {
                p(
                    "store.redis_url",
                    "is required with store.backend = \"redis\" (or store.redis_url_file): redis://host:6379, rediss://host:6380 (TLS) or unix:///path/to/redis.sock".into(),
                );
                None
            }
            Some(text) => RedisUrl::parse(text.expose())
                .map_err(|e| p("store.redis_url", e.to_string()))
                .ok(),
        };
        let keys = match self.encryption_keys.as_ref().map(KeyList::entries) {
            None => {
                p(
                    "store.encryption_keys",
                    "is required with store.backend = \"redis\" (or store.encryption_keys_file): [\"<id>:<base64 of 32 random bytes>\"], the first seals, all open; make one with `idp-bridge gen-key`".into(),
                );
                None
            }
            Some(entries) if entries.is_empty() => {
                p(
                    "store.encryption_keys",
                    "lists no key; give at least one \"<id>:<base64 of 32 random bytes>\"".into(),
                );
                None
            }
            Some(entries) => SealKeys::parse(&entries)
                .map_err(|problems| {
                    for (index, problem) in problems {
                        p(
                            &format!("store.encryption_keys[{index}]"),
                            problem.to_string(),
                        );
                    }
                })
                .ok(),
        };
        let key_prefix = self
            .key_prefix
            .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_string());
        let prefix_ok = !key_prefix.is_empty()
            && key_prefix.len() <= MAX_KEY_PREFIX
            && key_prefix.chars().all(|c| c.is_ascii_graphic());
        if !prefix_ok {
            p(
                "store.key_prefix",
                format!(
                    "must be 1 to {MAX_KEY_PREFIX} printable ASCII characters without spaces, e.g. \"{DEFAULT_KEY_PREFIX}\""
                ),
            );
        }
        let timeout = in_range(
            p,
            "store.redis_timeout_ms",
            self.redis_timeout_ms.unwrap_or(DEFAULT_REDIS_TIMEOUT_MS),
            10,
            10_000,
        );
        let high_water = in_range(
            p,
            "store.redis_high_water_percent",
            self.redis_high_water_percent
                .unwrap_or(DEFAULT_REDIS_HIGH_WATER_PERCENT),
            10,
            95,
        );
        let cluster = self.redis_cluster.unwrap_or(false);
        if cluster && url.as_ref().is_some_and(|u| !u.is_tcp()) {
            p(
                "store.redis_cluster",
                "needs a redis:// or rediss:// store.redis_url (one node of the cluster); a Redis Cluster is not reached through a Unix socket".into(),
            );
            return None;
        }
        Some(RedisSettings {
            url: url?,
            cluster,
            key_prefix: prefix_ok.then_some(key_prefix)?,
            timeout: Duration::from_millis(timeout?),
            keys: keys?,
            high_water_percent: u8::try_from(high_water?).ok()?,
        })
    }
}
