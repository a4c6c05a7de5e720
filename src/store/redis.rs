//! The shared store on Redis (or Valkey, or a Redis Cluster), for several gateway instances: a
//! login started on one finishes on any other, and an assertion used on one is refused by all.
//!
//! Keys, under `key_prefix` (default `idp-bridge:`):
//! - `<prefix>tx:<hex SHA-256 of state>`: a login, written with `SET … NX PX <ttl>` at `start`
//!   and taken with `GETDEL` at `callback` (get and delete in one atomic command: of two
//!   callbacks racing on two instances, exactly one gets it). The value is sealed
//!   ([`super::seal`]) with the Redis key as associated data.
//! - `<prefix>replay:<hex replay key>`: a used assertion, `SET … 1 NX PX <window>`; `OK` the
//!   first time, nil for a replay. The window is [`CLOCK_SKEW_ALLOWANCE`] longer than the
//!   writer's clock asks, for instances whose clocks run behind it.
//! - `<prefix>sid:<hex session key>`: a provider session of back-channel logout
//!   ([`super::session`]), `SET … PX <ttl>` at login (replacing an earlier one), read with
//!   `GET`. The value, the identity's subject, is sealed like a login.
//! - `<prefix>open`: the fleet's open logins, counted against `max_open_transactions`
//!   ([`capacity`]).
//!
//! What a login costs: at `start`, `EVAL` of the budget script and `SET` (two round trips),
//! plus, for the high-water mark, one `INFO memory` per instance about once a second (more
//! often only close to the mark); at `callback`, `GETDEL` and `ZREM`, sent together (one round
//! trip on one server).
//!
//! Failure is closed: every command runs once under `redis_timeout_ms` and is never re-sent (a
//! re-sent `GETDEL` whose first reply was lost would find nothing and turn an outage into "unknown
//! login"). An error or a timeout is `Unavailable` (503, nothing minted); there is no fallback to
//! memory. A value that does not open or read back (tampered, moved, sealed with a key this
//! gateway lacks) is an unknown login (400 page).
//!
//! A used assertion is safe only while Redis keeps its entry until it expires: under any
//! `maxmemory-policy` but `noeviction`, a flood of logins could push replay entries out and let
//! assertions be used again. So the store reads the policy (`INFO memory`, from every primary of
//! a cluster; each must name one) before its first replay entry and at every readiness check, and while it is not
//! `noeviction` refuses assertions (503) and reports not ready.
//!
//! The connection is made lazily, on the first command, and remade after a failure, so the
//! gateway starts and answers not-ready while Redis is away, and recovers without a restart.
//! Must not: log a value, a state or key material; send a command twice.

pub mod capacity;
mod reply;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use idp_provider_api::ReplayKey;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Value};

use self::capacity::{HighWater, NodeMemory};
use self::reply::{Op, eviction_policy, info_texts, millis, set_nx};
use super::seal::SealKeys;
use super::session::SessionKey;
use super::settings::RedisSettings;
use super::{StoreError, TransactionStore, replay_window};
use crate::clock::Clock;
use crate::store::transaction::{LoginTransaction, StateKey};

/// How much longer than its writer's clock asks a replay entry is kept. Every instance judges an
/// assertion by its own clock, but an entry expires on the writer's: if the writer's clock runs
/// ahead of another instance's by more than the window left, that other instance would still
/// accept the assertion after its entry is gone, a replay. Entries are a few bytes; keeping
/// them five minutes longer covers any skew an instance could run with and still verify
/// tokens (their own leeways are a minute or less).
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(300);

/// The Redis store.
pub struct RedisStore {
    connection: Connection,
    prefix: String,
    timeout: Duration,
    ttl: Duration,
    /// `max_open_transactions`: open logins across every instance.
    budget: u64,
    keys: SealKeys,
    clock: Arc<dyn Clock>,
    /// Whether Redis was last seen with `maxmemory-policy noeviction` (see the module docs).
    keeps_keys: AtomicBool,
    /// `redis_high_water_percent` of `maxmemory`, and this instance's reading of it.
    high_water: HighWater,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// One server (a multiplexed connection that reconnects itself) or a cluster.
enum Connection {
    Single(ConnectionManager),
    /// Boxed: the cluster client is large, and the single-server case is the common one.
    Cluster(Box<LazyCluster>),
}

/// A cluster connection made on first use. The cluster client connects eagerly, which would
/// hold up startup while Redis is away; a failed attempt leaves the cell empty for the next
/// command to try again.
struct LazyCluster {
    client: ClusterClient,
    connection: tokio::sync::OnceCell<ClusterConnection>,
}

impl LazyCluster {
    async fn get(&self) -> redis::RedisResult<ClusterConnection> {
        self.connection
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

impl RedisStore {
    /// A store on `settings`, whose logins live `ttl`, at most `budget` of them open across
    /// every instance. Connects on the first command, not here.
    ///
    /// # Errors
    /// `Unavailable` when the client cannot be built from the URL.
    pub fn open(
        settings: &RedisSettings,
        ttl: Duration,
        budget: u64,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        // redis builds its TLS (rediss://) configuration with the process's default rustls
        // provider; make it ring, the crate's one crypto family. An error means a provider is
        // installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let unusable = |e: redis::RedisError| {
            StoreError::Unavailable(format!("store.redis_url cannot be used: {e}"))
        };
        let timeout = settings.timeout;
        let connection = if settings.cluster {
            let client = ClusterClient::builder([settings.url.expose()])
                // Never re-send a command (see the module docs).
                .retries(0)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .build()
                .map_err(unusable)?;
            Connection::Cluster(Box::new(LazyCluster {
                client,
                connection: tokio::sync::OnceCell::new(),
            }))
        } else {
            let client = redis::Client::open(settings.url.expose()).map_err(unusable)?;
            // A failed command is returned, never re-sent; the manager reconnects in the
            // background. One quick retry of the connection itself, inside the command's budget.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_min_delay(Duration::from_millis(50))
                .set_max_delay(Duration::from_secs(1));
            Connection::Single(
                ConnectionManager::new_lazy_with_config(client, config).map_err(unusable)?,
            )
        };
        Ok(Self {
            connection,
            prefix: settings.key_prefix.clone(),
            timeout,
            ttl,
            budget,
            keys: settings.keys.clone(),
            clock,
            keeps_keys: AtomicBool::new(false),
            high_water: HighWater::new(settings.high_water_percent),
        })
    }

    /// The Redis key of a login.
    fn transaction_key(&self, key: &StateKey) -> String {
        format!("{}tx:{}", self.prefix, key.as_str())
    }

    /// The Redis key of the fleet's open logins.
    fn open_key(&self) -> String {
        format!("{}open", self.prefix)
    }

    /// The Redis key of a used assertion.
    pub fn replay_key(&self, key: &ReplayKey) -> String {
        format!(
            "{}replay:{}",
            self.prefix,
            data_encoding::HEXLOWER.encode(key.as_bytes())
        )
    }

    /// The Redis key of a provider session.
    fn session_key(&self, key: &SessionKey) -> String {
        format!("{}sid:{}", self.prefix, key.hex())
    }

    /// The value `command` (`GET` or `GETDEL`) reads at `redis_key`; `None` when there is none.
    async fn value(
        &self,
        op: Op,
        command: &str,
        redis_key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd(command);
        cmd.arg(redis_key);
        self.run::<Option<Vec<u8>>>(op, &cmd).await
    }

    /// Runs `cmd` once, within the timeout.
    async fn run<T: FromRedisValue>(&self, op: Op, cmd: &Cmd) -> Result<T, StoreError> {
        let command = async {
            match &self.connection {
                Connection::Single(manager) => cmd.query_async(&mut manager.clone()).await,
                Connection::Cluster(cluster) => cmd.query_async(&mut cluster.get().await?).await,
            }
        };
        match tokio::time::timeout(self.timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            // Out of memory (`noeviction`): no room, rather than an outage. Only a new login
            // is refused for it; everywhere else it fails closed like any error.
            Ok(Err(error)) if error.code() == Some("OOM") => Err(StoreError::LowMemory(format!(
                "Redis refused {op}: maxmemory reached"
            ))),
            Ok(Err(error)) => Err(StoreError::Unavailable(format!(
                "Redis {op} failed: {error}"
            ))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "Redis {op} took longer than store.redis_timeout_ms ({} ms)",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Reads `INFO memory` (every node's, for a cluster) and records it as the high-water
    /// mark's reading; each node's text.
    ///
    /// # Errors
    /// `Unavailable` when Redis does not answer.
    async fn read_memory(&self) -> Result<Vec<Option<String>>, StoreError> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("memory");
        let info = self.run::<Value>(Op::Info, &cmd).await?;
        let mut texts = Vec::new();
        info_texts(&info, &mut texts);
        let memory = texts
            .iter()
            .map(|text| text.as_deref().and_then(NodeMemory::parse))
            .collect();
        self.high_water.record(memory, Instant::now());
        Ok(texts)
    }

    /// Reads Redis's `maxmemory-policy` (every node's, for a cluster) and remembers whether it
    /// keeps every key until it expires; the reading serves the high-water mark too.
    ///
    /// # Errors
    /// `Unavailable` when Redis cannot say, or evicts keys.
    async fn check_eviction(&self) -> Result<(), StoreError> {
        let texts = self.read_memory().await?;
        let policies: Vec<Option<String>> = texts
            .iter()
            .map(|text| text.as_deref().and_then(eviction_policy))
            .collect();
        let evicting = policies
            .iter()
            .flatten()
            .find(|p| p.as_str() != "noeviction");
        let verdict = if policies.is_empty() || policies.contains(&None) {
            Err(StoreError::Unavailable(
                "Redis's INFO memory names no maxmemory_policy (on some node); the replay cache needs maxmemory-policy noeviction".into(),
            ))
        } else if let Some(policy) = evicting {
            Err(StoreError::Unavailable(format!(
                "Redis evicts keys under memory pressure (maxmemory-policy {policy}), which would let a used assertion be used again; set maxmemory-policy noeviction"
            )))
        } else {
            Ok(())
        };
        self.keeps_keys.store(verdict.is_ok(), Ordering::Release);
        verdict
    }

    /// Opens and reads a taken value; `None` (logged) when it is not a login this gateway may
    /// finish.
    fn read(&self, redis_key: &str, sealed: &[u8]) -> Option<LoginTransaction> {
        let read = self
            .keys
            .open(redis_key, sealed)
            .map_err(|e| e.to_string())
            .and_then(|plain| LoginTransaction::from_stored(&plain).map_err(|e| e.to_string()));
        match read {
            Ok(transaction) => Some(transaction),
            Err(reason) => {
                tracing::warn!(%reason, "a stored login does not open; treated as unknown");
                None
            }
        }
    }
}

#[async_trait]
impl TransactionStore for RedisStore {
    async fn put(&self, key: StateKey, transaction: LoginTransaction) -> Result<(), StoreError> {
        let redis_key = self.transaction_key(&key);
        let sealed = transaction
            .to_stored()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
            .and_then(|plain| {
                self.keys
                    .seal(&redis_key, &plain)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))
            })?;
        // Room first: a refused login writes nothing (see `capacity`).
        if let Some(_renewal) = self.high_water.renewal(Instant::now()).await {
            self.read_memory().await?;
        }
        self.high_water
            .admit(capacity::weight(redis_key.len(), sealed.len()))?;
        let member = capacity::member(key.as_str());
        let admit = capacity::admit(&self.open_key(), member, self.ttl, self.budget);
        if self.run::<i64>(Op::Admit, &admit).await? != 1 {
            return Err(StoreError::Full(self.budget));
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(&redis_key)
            .arg(sealed)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.ttl));
        if set_nx(self.run::<Value>(Op::Put, &cmd).await?)? {
            Ok(())
        } else {
            // A 256-bit random state never repeats; if it did, the first login keeps its key.
            Err(StoreError::Unavailable(
                "a login with this state exists already".into(),
            ))
        }
    }

    async fn take(&self, key: &StateKey) -> Result<Option<LoginTransaction>, StoreError> {
        let redis_key = self.transaction_key(key);
        let release = capacity::release(&self.open_key(), capacity::member(key.as_str()));
        // Sent together: one round trip on one server (the connection pipelines them), one to
        // each node on a cluster. A failed ZREM only leaves the member to its expiry.
        let (taken, released) = tokio::join!(
            self.value(Op::Take, "GETDEL", &redis_key),
            self.run::<i64>(Op::Release, &release)
        );
        if let Err(error) = released {
            tracing::debug!(%error, "a taken login stays in the budget until it expires");
        }
        let Some(sealed) = taken? else {
            return Ok(None);
        };
        Ok(self
            .read(&redis_key, &sealed)
            .filter(|transaction| transaction.is_live(self.clock.now(), self.ttl)))
    }

    async fn first_use(&self, key: &ReplayKey, until: SystemTime) -> Result<bool, StoreError> {
        let window = replay_window(until, self.clock.now())? + CLOCK_SKEW_ALLOWANCE;
        if !self.keeps_keys.load(Ordering::Acquire) {
            self.check_eviction().await?;
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.replay_key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(window));
        set_nx(self.run::<Value>(Op::FirstUse, &cmd).await?)
    }

    async fn forget(&self, key: &ReplayKey) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.replay_key(key));
        // The count of keys removed: 0 for a key already gone, which is no error.
        self.run::<u64>(Op::Forget, &cmd).await.map(drop)
    }

    async fn record_session(
        &self,
        key: &SessionKey,
        subject: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let redis_key = self.session_key(key);
        let sealed = self
            .keys
            .seal(&redis_key, subject.as_bytes())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(&redis_key).arg(sealed).arg("PX").arg(millis(ttl));
        // Without NX a SET always writes: only `OK` is a success (nil is not one here).
        match set_nx(self.run::<Value>(Op::RecordSession, &cmd).await?)? {
            true => Ok(()),
            false => Err(StoreError::Unavailable("a nil reply to SET".into())),
        }
    }

    async fn session_subject(&self, key: &SessionKey) -> Result<Option<String>, StoreError> {
        let redis_key = self.session_key(key);
        let Some(sealed) = self.value(Op::FindSession, "GET", &redis_key).await? else {
            return Ok(None);
        };
        // A value that does not open is no session this gateway recorded.
        match self.keys.open(&redis_key, &sealed).map(String::from_utf8) {
            Ok(Ok(subject)) => Ok(Some(subject)),
            _ => {
                tracing::warn!("a stored provider session does not open; treated as unknown");
                Ok(None)
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run::<String>(Op::Ping, &redis::cmd("PING")).await?;
        self.check_eviction().await
    }
}
