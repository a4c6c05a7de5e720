//! `[store]` as the store needs it (built and validated by `config`): which backend, how long a
//! login may take, and for Redis where it is, how long a command may take, and the sealing keys.

use std::fmt;
use std::time::Duration;

use idp_provider_api::Secret;
use serde::Deserialize;

use super::seal::SealKeys;

/// `[store]`: where login transactions live between start and callback. Compared whole by a
/// reload: the store instance (and the logins in it) outlives reloads, so no key here may
/// change without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Which backend.
    pub backend: StoreBackend,
    /// How long a login may take, at most 10 minutes.
    pub transaction_ttl: Duration,
    /// Cap on open logins, so a flood of `start` cannot exhaust memory: per process in the
    /// memory store, one budget for every instance in a Redis store.
    pub max_open_transactions: u64,
    /// The Redis settings, present exactly when `backend` is [`StoreBackend::Redis`].
    pub redis: Option<RedisSettings>,
}

/// The transaction store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// In-process (one gateway instance).
    #[default]
    Memory,
    /// Redis (or Valkey, or a Redis Cluster), shared by several instances.
    Redis,
}

/// Where Redis is and how the gateway talks to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis_url`.
    pub url: RedisUrl,
    /// `redis_cluster`: `url` is one node of a Redis Cluster, which tells the rest.
    pub cluster: bool,
    /// `key_prefix`: every key the gateway writes starts with it (for ACLs such as
    /// `~idp-bridge:*`).
    pub key_prefix: String,
    /// `redis_timeout_ms`: the most one command may take before the request answers 503.
    pub timeout: Duration,
    /// `encryption_keys`: the first seals, all open.
    pub keys: SealKeys,
    /// `redis_high_water_percent`: no login starts while Redis uses more of its `maxmemory`.
    pub high_water_percent: u8,
}

/// A Redis URL: `redis://`, `rediss://` (TLS), `unix://` or `redis+unix://`, and their `valkey`
/// spellings. It may hold a password, so `Debug` shows only the scheme and the address.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(Secret<String>);

/// Why a `redis_url` is refused. Never holds the URL (it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedisUrlError {
    /// Not a URL at all.
    #[error(
        "is not a URL; use redis://[user:password@]host[:port][/db], rediss://… (TLS) or unix:///path/to/redis.sock"
    )]
    NotUrl,
    /// A scheme Redis clients do not speak.
    #[error("has the scheme {0:?}; use redis://, rediss:// (TLS), unix:// or redis+unix://")]
    Scheme(String),
    /// `rediss://…#insecure`: the Redis client would skip the server's certificate check, and
    /// whoever sits on the path could read the password and answer for Redis (tell a replayed
    /// assertion that it is new). The gateway fails closed instead.
    #[error(
        "has a #fragment, which is not accepted (#insecure would turn off the TLS certificate check); trust the Redis server's CA instead (SSL_CERT_FILE or the system store)"
    )]
    Fragment,
    /// The Redis client refuses it (no host, a bad port or database number...).
    #[error(
        "is not a Redis URL the client accepts ({0}); use redis://[user:password@]host[:port][/db], rediss://… or unix:///path"
    )]
    Invalid(String),
}

impl RedisUrl {
    /// Checks `text` as the Redis client will read it.
    ///
    /// # Errors
    /// See [`RedisUrlError`].
    pub fn parse(text: &str) -> Result<Self, RedisUrlError> {
        let url = url::Url::parse(text).map_err(|_| RedisUrlError::NotUrl)?;
        if !matches!(
            url.scheme(),
            "redis" | "rediss" | "unix" | "redis+unix" | "valkey" | "valkeys"
        ) {
            return Err(RedisUrlError::Scheme(url.scheme().to_string()));
        }
        if url.fragment().is_some() {
            return Err(RedisUrlError::Fragment);
        }
        redis::IntoConnectionInfo::into_connection_info(text)
            // The client's message names the part it refuses, never the password.
            .map_err(|e| RedisUrlError::Invalid(e.to_string()))?;
        Ok(Self(Secret::new(text.to_string())))
    }

    /// The URL, for the Redis client only.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Whether it names a TCP address (`redis://`, `rediss://` and their `valkey` spellings),
    /// as a Redis Cluster node must: cluster nodes tell each other's addresses as host:port.
    pub fn is_tcp(&self) -> bool {
        url::Url::parse(self.0.expose())
            .is_ok_and(|u| matches!(u.scheme(), "redis" | "rediss" | "valkey" | "valkeys"))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(self.0.expose()) {
            Ok(url) => write!(
                f,
                "RedisUrl({}://{}{})",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => f.write_str("RedisUrl([redacted])"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_are_checked_and_their_password_never_prints() {
        for good in [
            "redis://127.0.0.1:6379",
            "redis://:pw-0123456789@cache.internal:6380/2",
            "rediss://cache.example.com",
            "unix:///run/redis/redis.sock",
            "redis+unix:///run/redis/redis.sock",
        ] {
            assert!(RedisUrl::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            RedisUrl::parse("http://cache:6379").err(),
            Some(RedisUrlError::Scheme("http".into()))
        );
        assert_eq!(
            RedisUrl::parse("cache:6379").err(),
            Some(RedisUrlError::Scheme("cache".into()))
        );
        assert_eq!(
            RedisUrl::parse("not a url").err(),
            Some(RedisUrlError::NotUrl)
        );
        // The client reads `#insecure` as "skip the certificate check": refused.
        assert_eq!(
            RedisUrl::parse("rediss://:pw-0123456789@cache.internal:6380#insecure").err(),
            Some(RedisUrlError::Fragment)
        );
        let url = RedisUrl::parse("redis://user:pw-0123456789@cache.internal:6380/2").expect("ok");
        let debug = format!("{url:?}");
        assert_eq!(debug, "RedisUrl(redis://cache.internal:6380)");
    }
}
