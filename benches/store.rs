//! What the Redis store costs per login, next to the memory store, in the same run.
//!
//! One login's store work is a `put` at `start` and a `take` at `callback` of a transaction
//! shaped like an OIDC login's (nonce and PKCE verifier as the provider's data, short success
//! and failure URLs). For Redis that is sealing (AES-256-GCM) + `SET NX PX` + `GETDEL` +
//! opening, over a Unix socket to a private `redis-server` (the tests' helper) started here.
//!
//! `cargo bench --bench store`:
//! - criterion: `store/login/{memory,redis}` (put + take, one after the other) and
//!   `store/first_use/{memory,redis}` (the assertion replay cache);
//! - then, because criterion measures wall time and the machine may be busy, a fixed run of
//!   `STORE_BENCH_LOGINS` logins (default 20 000) per store, printing wall time and CPU time per
//!   login: this process's, and (for Redis) the server's, from `/proc/<pid>/stat` (10 ms
//!   ticks: use enough logins). `cargo bench --bench store -- none` runs only this part.

// A benchmark: a failed unwrap or expect ends the run, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use idp_bridge::clock::{Clock, SystemClock};
use idp_bridge::return_urls::AllowList;
use idp_bridge::store::memory::MemoryStore;
use idp_bridge::store::redis::RedisStore;
use idp_bridge::store::seal::{SealKeys, generate};
use idp_bridge::store::transaction::{LoginTransaction, StateKey};
use idp_bridge::store::{RedisSettings, RedisUrl, TransactionStore};
use idp_provider_api::{LoginData, ReplayKey};
use tokio::runtime::Runtime;

// The tests' helper, shared rather than copied; the bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/integration/redis_server.rs"]
mod redis_server;

use redis_server::RedisServer;

const TTL: Duration = Duration::from_secs(600);

fn allowed() -> AllowList {
    AllowList::parse(&["http://127.0.0.1:3000/app/".to_string()]).expect("allow-list")
}

/// A transaction as an OIDC `start` makes it.
fn transaction(allowed: &AllowList) -> LoginTransaction {
    let target = |param, url| allowed.check(param, Some(url)).expect("allowed");
    LoginTransaction {
        provider: "corp".into(),
        data: LoginData::new(format!(
            "{{\"nonce\":\"{}\",\"pkce_verifier\":\"{}\"}}",
            "n".repeat(43),
            "v".repeat(43)
        )),
        success: target("success", "http://127.0.0.1:3000/app/done"),
        failure: target("failure", "http://127.0.0.1:3000/app/failed"),
        state: None,
        created_at: SystemClock.now(),
    }
}

fn redis_store(redis: &RedisServer) -> RedisStore {
    let settings = RedisSettings {
        url: RedisUrl::parse(&redis.url()).expect("url"),
        cluster: false,
        key_prefix: "bench:".into(),
        timeout: Duration::from_millis(500),
        keys: SealKeys::parse(&[generate("k1").expect("key")]).expect("keys"),
        high_water_percent: 80,
    };
    RedisStore::open(&settings, TTL, 100_000, Arc::new(SystemClock)).expect("store")
}

fn memory_store() -> MemoryStore {
    MemoryStore::new(TTL, 1_000_000, Arc::new(SystemClock))
}

/// One login's store work; panics unless the transaction comes back.
async fn login(store: &dyn TransactionStore, template: &LoginTransaction, n: u64) {
    let key = StateKey::of(&format!("state-{n}-{}", uuid::Uuid::new_v4()));
    store.put(key.clone(), template.clone()).await.expect("put");
    assert!(store.take(&key).await.expect("take").is_some());
}

/// CPU time (user + system) of process `pid` (`self` for this one), from `/proc`.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses, from the
    // state letter (field 3) on; some are negative (a tty-less process's tpgid is -1).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 from the state letter.
    let field = |i: usize| -> u64 { fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let ticks = field(11) + field(12);
    // Clock ticks are 100 per second on Linux (USER_HZ).
    Duration::from_millis(ticks * 10)
}

fn benches(c: &mut Criterion) {
    let runtime = Runtime::new().expect("runtime");
    let redis = runtime.block_on(RedisServer::start());
    let allowed = allowed();
    let template = transaction(&allowed);
    let memory = memory_store();
    // The replay cache keeps every entry until its window ends: room for the ~1 s of
    // entries that criterion's millions of iterations hold at once.
    let replay_memory = MemoryStore::new(TTL, 10_000_000, Arc::new(SystemClock));
    let shared = runtime.block_on(async { redis_store(&redis) });
    let stores: [(&str, &dyn TransactionStore); 2] = [("memory", &memory), ("redis", &shared)];
    let replay_stores: [(&str, &dyn TransactionStore); 2] =
        [("memory", &replay_memory), ("redis", &shared)];

    let mut group = c.benchmark_group("store");
    let mut n = 0u64;
    for (name, store) in stores {
        group.bench_function(format!("login/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                n += 1;
                login(store, &template, n)
            });
        });
    }
    for (name, store) in replay_stores {
        group.bench_function(format!("first_use/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                n += 1;
                let key = ReplayKey::new("bench", "jti", &n.to_be_bytes());
                // The shortest window (1 s), so that neither store fills up.
                async move {
                    assert!(
                        store
                            .first_use(&key, SystemTime::now())
                            .await
                            .expect("first use")
                    )
                }
            });
        });
    }
    group.finish();

    let logins: u64 = std::env::var("STORE_BENCH_LOGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let server_pid = redis.pid().map(|p| p.to_string());
    for (name, store) in stores {
        let (cpu_before, server_before) = (
            cpu_time("self"),
            server_pid.as_deref().map(cpu_time).unwrap_or_default(),
        );
        let started = Instant::now();
        runtime.block_on(async {
            for i in 0..logins {
                login(store, &template, i).await;
            }
        });
        let wall = started.elapsed();
        let cpu = cpu_time("self") - cpu_before;
        let server = server_pid.as_deref().map(cpu_time).unwrap_or_default() - server_before;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / logins as f64;
        println!(
            "store {name}: {logins} logins (put + take), one at a time: wall {:.1} µs/login, \
             gateway CPU {:.1} µs/login{}",
            per(wall),
            per(cpu),
            if name == "redis" {
                format!(", redis-server CPU {:.1} µs/login", per(server))
            } else {
                String::new()
            }
        );
    }
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
