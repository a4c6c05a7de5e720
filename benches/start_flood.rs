//! Memory under a flood of `start` requests (issue: "a cap on open login transactions so a
//! flood of `start` requests cannot exhaust memory (measure it: memory after 100 000 `start`
//! calls)").
//!
//! Runs the real gateway in this process against the in-process mock OP and Appwrite emulator,
//! sends N `GET /v1/auth/corp/start` over loopback with 32 concurrent keep-alive connections,
//! and prints the process's resident memory (VmRSS) before and after, for two caps: one above N
//! (every login stored) and one below (the flood hits the cap). Not a timed assertion: it
//! prints figures. `cargo bench --bench start_flood` (N from FLOOD_STARTS, default 100000).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use appwrite_emulator::{Emulator, EmulatorConfig};
use mock_op::{MockOp, MockOpConfig};

mod common;

use common::{PROVIDER, spawn_gateway};

const CONCURRENCY: usize = 32;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn flood(starts: usize, cap: u64) {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let gateway = spawn_gateway(&op, &emulator, &["RS256"], cap).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let url = format!(
        "{}/v1/auth/{PROVIDER}/start?success=http%3A%2F%2F127.0.0.1%3A3000%2Fapp%2Fok&failure=http%3A%2F%2F127.0.0.1%3A3000%2Fapp%2Ffail",
        gateway.url
    );
    // Warm up (discovery, connections), then measure.
    client.get(&url).send().await.expect("warm-up");
    let before = rss_kib();
    let sent = Arc::new(AtomicUsize::new(0));
    let stored = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, sent, stored) =
                (client.clone(), url.clone(), sent.clone(), stored.clone());
            tokio::spawn(async move {
                while sent.fetch_add(1, Ordering::Relaxed) < starts {
                    let response = client.get(&url).send().await.expect("start");
                    let to_provider = response
                        .headers()
                        .get("location")
                        .and_then(|l| l.to_str().ok())
                        .is_some_and(|l| !l.contains("127.0.0.1:3000"));
                    if to_provider {
                        stored.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = began.elapsed();
    let after = rss_kib();
    let stored = stored.load(Ordering::Relaxed);
    println!(
        "cap {cap:>7}: {starts} starts in {:.1} s ({:.0}/s); logins stored {stored}, refused {}; VmRSS {} MiB -> {} MiB (+{} MiB, {} bytes per stored login)",
        elapsed.as_secs_f64(),
        starts as f64 / elapsed.as_secs_f64(),
        starts - stored,
        before / 1024,
        after / 1024,
        after.saturating_sub(before) / 1024,
        (after.saturating_sub(before) * 1024)
            .checked_div(stored as u64)
            .unwrap_or(0),
    );
    drop(gateway);
}

fn main() {
    let starts = std::env::var("FLOOD_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Separate processes would isolate the two runs better; the cap run goes first so the
    // uncapped run's growth is not hidden by memory the allocator already holds.
    runtime.block_on(flood(starts, 10_000));
    runtime.block_on(flood(starts, (starts as u64) * 2));
}
