//! What keeps an anonymous `start` flood from filling a shared Redis (under `noeviction`, a full
//! Redis refuses every write: replay entries too, so every exchange would fail): one budget of
//! open logins for the whole fleet, and a high-water mark on Redis's memory. Both refuse a
//! start *before* anything is written, so the memory above the mark stays for replay entries
//! and callbacks.
//!
//! - **The budget** (`[store] max_open_transactions`): `<prefix>open`, a sorted set of the open
//!   logins, one key for every instance. A member is the first 32 hex characters of a login's
//!   key (128 bits: unique among logins), its score the login's expiry in milliseconds on
//!   Redis's own clock (`TIME`, so instances' clocks do not matter). [`ADMIT`], one Lua script
//!   on that one key (a Redis Cluster runs no script over keys of two slots), drops the expired
//!   members, counts the others and adds the new one only below the budget, atomically. The
//!   login itself is still written with `SET … NX PX`; a callback removes its member with `ZREM`
//!   beside its `GETDEL`. A member whose login was never written or taken (a failed `SET`, a
//!   lost `ZREM`) counts until its expiry: the budget errs on the side of refusing.
//! - **The high-water mark** (`[store] redis_high_water_percent` of `maxmemory`, on every node
//!   of a cluster): read from `INFO memory`, which each instance keeps for up to
//!   [`READING_FRESH`] so that a start costs no extra round trip; one caller at a time takes a
//!   reading (the first one too: a burst of starts right after boot sends one `INFO`, the
//!   others wait for it). What the instance admits
//!   meanwhile is added to the reading, and it reads again once that passes a sixteenth of the
//!   room the reading left: a flood through one instance stops at the mark, and instances
//!   flooded together overshoot it by about a sixteenth of the room each before they see one
//!   another's writes. `maxmemory 0` sets no mark: the budget alone (times the largest login,
//!   about 6 KB in Redis) bounds what logins hold.
//!
//! Must not: hold a login's key or value (only sizes and the member, a prefix of a hash).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::Cmd;

use super::super::StoreError;

/// How long an instance relies on its last `INFO memory` reading (plus its own writes).
pub const READING_FRESH: Duration = Duration::from_secs(1);

/// Admits a login into the fleet's budget: `KEYS[1]` the set of open logins, `ARGV` the
/// member, the login's lifetime in milliseconds and the budget. Returns 1 (admitted) or 0
/// (the budget is spent). The set itself expires with its newest login.
pub const ADMIT: &str = r"
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// What one stored login adds to Redis beyond its key and value: the key's bookkeeping (its
/// entry, object header and expiry) and its member in the open set.
const ENTRY_OVERHEAD_BYTES: u64 = 256;

/// The member of a login in the open set: the first half of its key's hex hash.
pub fn member(state_hex: &str) -> &str {
    state_hex.get(..32).unwrap_or(state_hex)
}

/// `EVAL` of [`ADMIT`] for `member` on `open_key`.
pub fn admit(open_key: &str, member: &str, ttl: Duration, budget: u64) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(ADMIT)
        .arg(1)
        .arg(open_key)
        .arg(member)
        .arg(super::reply::millis(ttl))
        .arg(budget);
    cmd
}

/// `ZREM` of `member` from `open_key`: a taken login leaves the budget.
pub fn release(open_key: &str, member: &str) -> Cmd {
    let mut cmd = redis::cmd("ZREM");
    cmd.arg(open_key).arg(member);
    cmd
}

/// The memory a login of `key_len` and `value_len` bytes is counted for: its bytes, a quarter
/// more for the allocator's size classes, and [`ENTRY_OVERHEAD_BYTES`].
pub fn weight(key_len: usize, value_len: usize) -> u64 {
    let bytes = u64::try_from(key_len.saturating_add(value_len)).unwrap_or(u64::MAX);
    bytes
        .saturating_add(bytes / 4)
        .saturating_add(ENTRY_OVERHEAD_BYTES)
}

/// One node's memory, as `INFO memory` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeMemory {
    /// `used_memory`.
    pub used: u64,
    /// `maxmemory`; 0 is no limit.
    pub max: u64,
}

impl NodeMemory {
    /// Reads `used_memory` and `maxmemory` from one node's `INFO memory` text.
    pub fn parse(text: &str) -> Option<Self> {
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.trim().parse::<u64>().ok())
        };
        Some(Self {
            used: field("used_memory")?,
            max: field("maxmemory")?,
        })
    }

    /// The mark at `percent` of `maxmemory`; `None` without a `maxmemory`.
    fn mark(self, percent: u8) -> Option<u64> {
        (self.max > 0).then(|| {
            let mark = u128::from(self.max) * u128::from(percent) / 100;
            u64::try_from(mark).unwrap_or(u64::MAX)
        })
    }
}

/// The high-water mark of one instance: its last reading of Redis's memory and what it has
/// admitted since.
#[derive(Debug)]
pub struct HighWater {
    percent: u8,
    state: Mutex<State>,
    /// Held by the caller taking the first reading: the callers that come meanwhile wait for
    /// it rather than each send their own `INFO` (a burst of starts right after boot).
    first: tokio::sync::Mutex<()>,
    /// Whether the log has said once that Redis has no `maxmemory`.
    told_unbounded: AtomicBool,
}

/// A caller's claim to take the next reading; dropped (recorded or not, say when `INFO
/// memory` failed or the request went away), it lets the next caller take one.
#[derive(Debug)]
pub struct Renewal<'a> {
    mark: &'a HighWater,
    /// For the first reading, the lock the callers that come meanwhile wait on.
    _first: Option<tokio::sync::MutexGuard<'a, ()>>,
}

impl Drop for Renewal<'_> {
    fn drop(&mut self) {
        self.mark.state().refreshing = false;
    }
}

#[derive(Debug, Default)]
struct State {
    /// The last reading: every node's memory, or `None` when a node did not say.
    reading: Option<Reading>,
    /// Whether a caller is taking a new reading (the others go on with the last one).
    refreshing: bool,
}

#[derive(Debug)]
struct Reading {
    taken: Instant,
    nodes: Option<Vec<NodeMemory>>,
    /// What the reading left below the mark on its fullest node (`u64::MAX`: no mark).
    room: u64,
    /// Bytes admitted by this instance since.
    since: u64,
}

impl HighWater {
    /// A mark at `percent` of `maxmemory`, with no reading yet.
    pub fn new(percent: u8) -> Self {
        Self {
            percent,
            state: Mutex::new(State::default()),
            first: tokio::sync::Mutex::new(()),
            told_unbounded: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves only numbers behind: go on with them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some` when the caller must take a new reading now (and [`HighWater::record`] it while
    /// holding the [`Renewal`]): there is none, or the last one is older than
    /// [`READING_FRESH`] or has been spent past a sixteenth of its room, and no other caller
    /// is taking one. With no reading yet and another caller taking the first, waits for it
    /// and goes on with it (`None`; if it failed, [`HighWater::admit`] refuses, as it would
    /// have refused the waiter's own failed reading, without a queue of `INFO`s behind it).
    pub async fn renewal(&self, now: Instant) -> Option<Renewal<'_>> {
        if self.state().reading.is_none() {
            return match self.first.try_lock() {
                Ok(first) => Some(Renewal {
                    mark: self,
                    _first: Some(first),
                }),
                Err(_) => {
                    drop(self.first.lock().await);
                    None
                }
            };
        }
        let mut state = self.state();
        let renew = state.reading.as_ref().is_some_and(|reading| {
            now.saturating_duration_since(reading.taken) >= READING_FRESH
                || reading.since > reading.room / 16
        });
        (renew && !state.refreshing).then(|| {
            state.refreshing = true;
            Renewal {
                mark: self,
                _first: None,
            }
        })
    }

    /// Records a reading taken at `now`: each node's memory (`None` for a node that did not
    /// say).
    pub fn record(&self, nodes: Vec<Option<NodeMemory>>, now: Instant) {
        let nodes: Option<Vec<NodeMemory>> = nodes.into_iter().collect();
        let nodes = nodes.filter(|nodes| !nodes.is_empty());
        let room = nodes.as_ref().map_or(0, |nodes| {
            nodes
                .iter()
                .map(|node| {
                    node.mark(self.percent)
                        .map_or(u64::MAX, |mark| mark.saturating_sub(node.used))
                })
                .min()
                .unwrap_or(0)
        });
        if nodes.iter().flatten().any(|node| node.max == 0)
            && !self.told_unbounded.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "Redis has no maxmemory: only store.max_open_transactions bounds the memory \
                 open logins hold; set maxmemory (with maxmemory-policy noeviction)"
            );
        }
        self.state().reading = Some(Reading {
            taken: now,
            nodes,
            room,
            since: 0,
        });
    }

    /// Counts a login of `weight` bytes against the mark, or refuses it.
    ///
    /// # Errors
    /// `LowMemory` when it would take a node above the mark; `Unavailable` when there is no
    /// usable reading (Redis did not say how much memory it uses).
    pub fn admit(&self, weight: u64) -> Result<(), StoreError> {
        let mut state = self.state();
        let Some(reading) = state.reading.as_mut() else {
            return Err(StoreError::Unavailable(
                "Redis's memory has not been read yet (INFO memory)".into(),
            ));
        };
        let Some(nodes) = &reading.nodes else {
            return Err(StoreError::Unavailable(
                "Redis's INFO memory names no used_memory or maxmemory (on some node); the \
                 gateway needs both to keep room for replay entries"
                    .into(),
            ));
        };
        let planned = reading.since.saturating_add(weight);
        for node in nodes {
            let Some(mark) = node.mark(self.percent) else {
                continue;
            };
            let used = node.used.saturating_add(reading.since);
            if node.used.saturating_add(planned) > mark {
                return Err(StoreError::LowMemory(format!(
                    "about {used} of its {max} bytes of maxmemory are used, and \
                     store.redis_high_water_percent is {percent}",
                    max = node.max,
                    percent = self.percent
                )));
            }
        }
        reading.since = planned;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    /// [`HighWater::renewal`] where no other caller holds the first reading: it never waits.
    fn renewal(mark: &HighWater, at: Instant) -> Option<Renewal<'_>> {
        mark.renewal(at)
            .now_or_never()
            .expect("no other caller takes the first reading")
    }

    const INFO: &str = "# Memory\r\nused_memory:700\r\nused_memory_human:700B\r\n\
                        maxmemory:1000\r\nmaxmemory_human:1000B\r\nmaxmemory_policy:noeviction\r\n";

    fn node(used: u64, max: u64) -> Option<NodeMemory> {
        Some(NodeMemory { used, max })
    }

    /// A mark at 80 % with one reading of `nodes`, taken at `at`.
    fn watching(nodes: Vec<Option<NodeMemory>>, at: Instant) -> HighWater {
        let mark = HighWater::new(80);
        assert!(renewal(&mark, at).is_some(), "no reading yet");
        mark.record(nodes, at);
        mark
    }

    #[test]
    fn info_memory_gives_used_memory_and_maxmemory() {
        assert_eq!(NodeMemory::parse(INFO), node(700, 1000));
        // `used_memory_human` and `maxmemory_policy` are other fields, not these.
        assert_eq!(
            NodeMemory::parse("used_memory_human:1K\r\nmaxmemory_policy:noeviction\r\n"),
            None
        );
        assert_eq!(NodeMemory::parse("used_memory:5\r\n"), None, "no maxmemory");
        assert_eq!(NodeMemory::parse("used_memory:x\r\nmaxmemory:0\r\n"), None);
    }

    #[test]
    fn a_start_is_refused_once_it_would_take_redis_above_the_mark() {
        // 80 % of 1000 bytes: 100 bytes of room above the 700 used.
        let mark = watching(vec![node(700, 1000)], Instant::now());
        assert!(mark.admit(60).is_ok());
        assert!(mark.admit(40).is_ok(), "exactly at the mark");
        let refused = mark.admit(1).expect_err("above the mark");
        assert!(matches!(refused, StoreError::LowMemory(_)), "{refused:?}");
        let message = refused.to_string();
        assert!(message.contains("800 of its 1000 bytes"), "{message}");
        assert!(
            message.contains("store.redis_high_water_percent"),
            "{message}"
        );
        // A refused start spends nothing: a smaller reading admits again.
        mark.record(vec![node(100, 1000)], Instant::now());
        assert!(mark.admit(1).is_ok());
    }

    #[test]
    fn every_node_of_a_cluster_has_its_mark_and_maxmemory_0_has_none() {
        let now = Instant::now();
        let cluster = watching(vec![node(10, 1000), node(799, 1000)], now);
        assert!(cluster.admit(2).is_err(), "the fullest node decides");
        let unbounded = watching(vec![node(u64::MAX / 2, 0)], now);
        assert!(
            unbounded.admit(u64::MAX / 4).is_ok(),
            "no maxmemory, no mark"
        );
        let unreadable = watching(vec![node(10, 1000), None], now);
        let refused = unreadable.admit(1).expect_err("a node did not say");
        assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");
        let empty = watching(vec![], now);
        assert!(matches!(empty.admit(1), Err(StoreError::Unavailable(_))));
        assert!(matches!(
            HighWater::new(80).admit(1),
            Err(StoreError::Unavailable(_))
        ));
    }

    #[test]
    fn a_reading_is_renewed_by_one_caller_when_old_or_spent() {
        let start = Instant::now();
        // Room: 800 - 0 = 800 bytes; a sixteenth is 50.
        let mark = watching(vec![node(0, 1000)], start);
        assert!(renewal(&mark, start).is_none(), "fresh");
        assert!(mark.admit(50).is_ok());
        assert!(
            renewal(&mark, start).is_none(),
            "a sixteenth of the room spent, not more"
        );
        assert!(mark.admit(1).is_ok());
        let renewing = renewal(&mark, start).expect("spent past a sixteenth");
        assert!(
            renewal(&mark, start).is_none(),
            "one caller renews it; the others go on"
        );
        // Not recorded (INFO failed, the request went away): the last reading stays, with
        // what was admitted, and the next caller renews it.
        drop(renewing);
        let renewing = renewal(&mark, start).expect("renewed by the next caller");
        mark.record(vec![node(0, 1000)], start);
        drop(renewing);
        assert!(renewal(&mark, start + READING_FRESH / 2).is_none());
        assert!(renewal(&mark, start + READING_FRESH).is_some(), "old");
    }

    #[tokio::test]
    async fn the_first_reading_is_taken_by_one_caller() {
        let mark = HighWater::new(80);
        let start = Instant::now();
        let first = mark.renewal(start).await.expect("no reading yet");
        let second = mark.renewal(start);
        tokio::pin!(second);
        assert!(
            second.as_mut().now_or_never().is_none(),
            "a second caller sends INFO too while the first reading is under way"
        );
        mark.record(vec![node(0, 1000)], start);
        drop(first);
        assert!(second.await.is_none(), "it goes on with the first reading");
        assert!(mark.admit(10).is_ok());
        // A first reading that failed: the waiter does not take another; the next caller does.
        let mark = HighWater::new(80);
        let first = mark.renewal(start).await.expect("no reading yet");
        let waiter = mark.renewal(start);
        tokio::pin!(waiter);
        assert!(waiter.as_mut().now_or_never().is_none());
        drop(first);
        assert!(waiter.await.is_none());
        assert!(mark.admit(10).is_err(), "no reading: refused");
        assert!(mark.renewal(start).await.is_some(), "the next caller reads");
    }

    #[test]
    fn a_login_is_counted_for_more_than_its_bytes_and_its_member_is_half_its_key() {
        assert_eq!(weight(0, 0), ENTRY_OVERHEAD_BYTES);
        assert_eq!(weight(100, 4000), 4100 + 1025 + ENTRY_OVERHEAD_BYTES);
        let key = "0123456789abcdef".repeat(4);
        assert_eq!(member(&key), &key[..32]);
        assert_eq!(member("short"), "short");
    }
}
