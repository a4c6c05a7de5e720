//! Memory under a flood of `start` requests (issue: "a cap on open login transactions so a
//! flood of `start` requests cannot exhaust memory (measure it: memory after 100 000 `start`
//! calls)").
//!
//! Runs the real gateway in this process against the in-process mock OP and Appwrite emulator,
//! sends N `GET /v1/auth/corp/start` over loopback with 32 concurrent keep-alive connections,
//! and prints the process's resident memory (VmRSS) before and after, for two caps: one above N
//! (every login stored) and one below (the flood hits the cap). A third run uses the longest
//! success and failure URLs the allow-list accepts (2048 bytes each) at the default cap of
//! 100 000, until the store's byte budget refuses: the memory a flood can pin at most. Not a
//! timed assertion: it prints figures. `cargo bench --bench start_flood` (N from FLOOD_STARTS,
//! default 100000; FLOOD_RUNS=long,cap,all picks runs, each best in its own process).

// A benchmark: a failed unwrap or expect ends the run, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// A `start` query with success and failure URLs of exactly `len` bytes under the app prefix.
fn start_query(len: Option<usize>) -> String {
    let url = |page: &str| match len {
        None => format!("{}{page}", common::APP),
        Some(len) => {
            let base = format!("{}{page}/", common::APP);
            format!("{base}{}", "x".repeat(len - base.len()))
        }
    };
    let encode = |u: String| url::form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>();
    format!(
        "success={}&failure={}",
        encode(url("ok")),
        encode(url("fail"))
    )
}

async fn flood(starts: usize, cap: u64, url_len: Option<usize>) {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let gateway = spawn_gateway(&op, &emulator, &["RS256"], cap).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    let url = format!(
        "{}/v1/auth/{PROVIDER}/start?{}",
        gateway.url,
        start_query(url_len)
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
    let urls = url_len.map_or("short URLs".to_string(), |n| format!("{n}-byte URLs"));
    println!(
        "cap {cap:>7}, {urls}: {starts} starts in {:.1} s ({:.0}/s); logins stored {stored}, refused {}; VmRSS {} MiB -> {} MiB (+{} MiB, {} bytes per stored login)",
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
    let runs = std::env::var("FLOOD_RUNS").unwrap_or_else(|_| "long,cap,all".into());
    // Separate processes isolate the runs better (FLOOD_RUNS); in one process the smaller runs
    // go first so a later run's growth is not hidden by memory the allocator already holds.
    for run in runs.split(',') {
        match run.trim() {
            // The longest URLs the allow-list accepts, at the default cap: until the byte
            // budget refuses.
            "long" => runtime.block_on(flood(starts, 100_000, Some(2048))),
            "cap" => runtime.block_on(flood(starts, 10_000, None)),
            "all" => runtime.block_on(flood(starts, (starts as u64) * 2, None)),
            other => eprintln!("unknown run {other:?} (long, cap, all)"),
        }
    }
}
