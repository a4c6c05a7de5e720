//! The measurements and their reports.
//!
//! `run`: every target (each gateway binary, the floor on a current-thread and on a
//! multi-thread runtime) gets warm-up logins, then `--rounds` rounds of `--logins` logins each,
//! targets interleaved round by round (ABAB, the order reversed every other round, so a drift of
//! the machine's load spreads over all of them). For each target and the target alone:
//! CPU per login (utime + stime of its process from `/proc/<pid>/stat`, delta over the rounds /
//! logins), p50 and p99 login latency as the browser sees it (start + authorize + callback),
//! logins per second, RSS once ready (before any login: idle), after warm-up, and at its peak
//! (`VmHWM`), and the TCP connections
//! it opened to the OP and Appwrite during the measured rounds (0 when its pools keep them).
//! A run with any failed login is refused: nothing is reported.
//!
//! `--duration`: one gateway, logins for that long, RSS sampled every `--sample` seconds.
//! `flood`: `start` only, with the longest URLs the allow-list accepts, then the gateway's RSS.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::{self, Pace, Round, start_url};
use crate::procs::TICKS_PER_SECOND;
use crate::stack::{Launch, Setup, Target, Upstreams, sibling};
use crate::{Alg, GatewaySpec};

/// `login-bench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A gateway under test, `NAME=PATH[;ENV=VALUE...]`; repeat to compare binaries (e.g. the
    /// one built from an older commit). Default: `after=<target/release>/idp-bridge`.
    #[arg(long = "gateway")]
    gateways: Vec<GatewaySpec>,
    /// Logins per target per round.
    #[arg(long, default_value_t = 2000)]
    logins: usize,
    /// Rounds (each target once per round).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Browsers logging in at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Logins per second (paced; latency counts from when a login was due). Default: each
    /// browser starts its next login when the last ends.
    #[arg(long)]
    rate: Option<f64>,
    /// Logins per target before the measured rounds.
    #[arg(long, default_value_t = 300)]
    warmup: usize,
    /// Leave the floors out.
    #[arg(long)]
    no_floor: bool,
    /// The ID-token algorithm.
    #[arg(long, value_enum, default_value_t = Alg::Rs256)]
    alg: Alg,
    /// Soak: run the first gateway alone for this many seconds, sampling its memory.
    #[arg(long)]
    duration: Option<u64>,
    /// Seconds between memory samples of a soak.
    #[arg(long, default_value_t = 10)]
    sample: u64,
}

/// `login-bench flood`.
#[derive(Debug, clap::Args)]
pub struct FloodArgs {
    /// The gateway under test, `NAME=PATH[;ENV=VALUE...]`.
    #[arg(long)]
    gateway: Option<GatewaySpec>,
    /// `start` requests to send.
    #[arg(long, default_value_t = 100_000)]
    starts: usize,
    /// Length of the success and failure URLs (2048: the longest the allow-list accepts).
    #[arg(long, default_value_t = 2048)]
    url_len: usize,
    /// `[store] max_open_transactions` (the default cap is 100 000).
    #[arg(long, default_value_t = 100_000)]
    cap: u64,
    /// Browsers sending at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// `given`, or this tree's release gateway (`after`) when none is given.
fn default_gateways(given: &[GatewaySpec]) -> Vec<GatewaySpec> {
    if given.is_empty() {
        vec![GatewaySpec {
            name: "after".into(),
            path: sibling("idp-bridge"),
            env: vec![],
        }]
    } else {
        given.to_vec()
    }
}

/// The one gateway of a mode that takes one: `given`, or this tree's.
pub(crate) fn one_gateway(given: Option<&GatewaySpec>) -> GatewaySpec {
    given
        .cloned()
        .unwrap_or_else(|| default_gateways(&[]).remove(0))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Calls per login: at Appwrite by method and path with the user id written `{id}`, at the OP
/// by endpoint.
type CallsPerLogin = BTreeMap<String, f64>;

fn calls_per_login(stats: &Value, user_id: &str, logins: usize) -> CallsPerLogin {
    let mut calls = CallsPerLogin::new();
    for call in stats
        .get("calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let method = call.get(0).and_then(Value::as_str).unwrap_or("?");
        let path = call.get(1).and_then(Value::as_str).unwrap_or("?");
        let key = format!("{method} {}", path.replace(user_id, "{id}"));
        *calls.entry(key).or_default() += 1.0 / logins.max(1) as f64;
    }
    calls
}

fn describe(calls: &CallsPerLogin) -> String {
    calls
        .iter()
        .map(|(call, n)| format!("{call} ×{n:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The processes of a run, started: the upstreams, the gateways, and the user id of the first
/// login (which created the user; every later login is a returning user's).
pub(crate) struct Started {
    pub upstreams: Upstreams,
    pub targets: Vec<Target>,
    pub first: String,
}

/// Starts the upstreams and each gateway of `given` (this tree's when none), and makes the
/// first login through the first gateway.
///
/// # Errors
/// Any process that does not start, or a first login that fails.
pub(crate) fn start_gateways(
    runtime: &tokio::runtime::Runtime,
    given: &[GatewaySpec],
    alg: Alg,
    launch: Launch,
) -> Result<Started, String> {
    let upstreams = Upstreams::start(alg).map_err(|e| e.to_string())?;
    let mut targets = Vec::new();
    for spec in &default_gateways(given) {
        let target = upstreams.gateway(spec, &Setup::default(), launch);
        targets.push(target.map_err(|e| e.to_string())?);
    }
    let first = runtime
        .block_on(browser::login(
            &browser::browser(),
            &start_url(&targets[0].url, None),
        ))
        .map_err(|e| format!("the first login failed: {e}"))?;
    Ok(Started {
        upstreams,
        targets,
        first,
    })
}

/// Adds the two floors (current-thread, then multi-thread) to `targets`.
///
/// # Errors
/// When one does not start.
pub(crate) fn add_floors(
    upstreams: &Upstreams,
    targets: &mut Vec<Target>,
    user_id: &str,
    launch: Launch,
) -> Result<(), String> {
    for current_thread in [true, false] {
        let floor = upstreams.floor(current_thread, user_id, launch);
        targets.push(floor.map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// The warm-up of each target, and the calls per login of the first (a gateway), which every
/// floor must match.
pub(crate) struct Warm<'a> {
    logins: usize,
    concurrency: usize,
    user_id: &'a str,
    reference: Option<CallsPerLogin>,
}

impl<'a> Warm<'a> {
    /// `logins` at `concurrency` per target, ending with `user_id`.
    pub(crate) fn new(logins: usize, concurrency: usize, user_id: &'a str) -> Self {
        Self {
            logins,
            concurrency,
            user_id,
            reference: None,
        }
    }

    /// Warms `target` up, prints the calls it made per login, and checks that a floor makes
    /// the same calls as the first target.
    ///
    /// # Errors
    /// Failed warm-up logins, or a floor whose calls differ: its figures would not be a floor
    /// of the gateway's.
    pub(crate) fn up(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        target: &Target,
        upstreams: &mut Upstreams,
    ) -> Result<(), String> {
        let calls = runtime.block_on(warm_up(
            target,
            upstreams,
            self.logins,
            self.concurrency,
            self.user_id,
        ))?;
        println!(
            "  {:<10} calls per login: {}",
            target.proc.name,
            describe(&calls)
        );
        match &self.reference {
            None => self.reference = Some(calls),
            Some(gateway) if !target.gateway && *gateway != calls => {
                return Err(format!(
                    "{} makes other calls than the gateway; the floor must match it",
                    target.proc.name
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Refuses a round with any failed login: its figures would not be those of logins.
///
/// # Errors
/// The first failure, and how many there were.
pub(crate) fn all_succeeded(target: &Target, round: &Round, logins: usize) -> Result<(), String> {
    if round.failures == 0 {
        return Ok(());
    }
    Err(format!(
        "{}: {} of {} logins failed (first: {}); refusing to report this run",
        target.proc.name,
        round.failures,
        logins,
        round.first_failure.as_deref().unwrap_or_default()
    ))
}

/// One target's measurements, summed over its rounds.
#[derive(Default)]
struct Tally {
    logins: usize,
    ticks: u64,
    wall: Duration,
    latencies_us: Vec<u32>,
    per_round_ms: Vec<f64>,
    /// Resident memory after the warm-up (pools and caches filled), in KiB.
    warm_rss_kib: u64,
    new_connections: usize,
}

impl Tally {
    fn cpu_ms_per_login(&self) -> f64 {
        self.ticks as f64 * 1000.0 / TICKS_PER_SECOND / self.logins.max(1) as f64
    }
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

/// Runs one measured round on `target`, checking every login.
async fn measured(
    target: &Target,
    upstreams: &Upstreams,
    args: &RunArgs,
    tally: &mut Tally,
) -> Result<(), String> {
    let op_port = upstreams.op_port();
    let appwrite_port = upstreams.appwrite_port();
    let before = (
        target.proc.connections_to(op_port),
        target.proc.connections_to(appwrite_port),
    );
    let url = start_url(&target.url, None);
    let pace = args.rate.map_or(Pace::Closed, Pace::Rate);
    let ticks = target.proc.cpu_ticks();
    let round: Round = browser::round(&url, args.logins, args.concurrency, pace).await;
    let spent = target.proc.cpu_ticks().saturating_sub(ticks);
    all_succeeded(target, &round, args.logins)?;
    let after = (
        target.proc.connections_to(op_port),
        target.proc.connections_to(appwrite_port),
    );
    tally.new_connections += after.0.difference(&before.0).count();
    tally.new_connections += after.1.difference(&before.1).count();
    tally.logins += args.logins;
    tally.ticks += spent;
    tally.wall += round.elapsed;
    tally
        .per_round_ms
        .push(spent as f64 * 1000.0 / TICKS_PER_SECOND / args.logins as f64);
    tally.latencies_us.extend(round.latencies_us);
    Ok(())
}

/// Warm-up logins on `target`, as many at once as the rounds make (so that its connection
/// pools reach their working size); returns the calls they made per login at Appwrite and the OP.
async fn warm_up(
    target: &Target,
    upstreams: &mut Upstreams,
    logins: usize,
    concurrency: usize,
    user_id: &str,
) -> Result<CallsPerLogin, String> {
    upstreams.appwrite.ask("stats").map_err(|e| e.to_string())?;
    let op_before = upstreams.op.ask("stats").map_err(|e| e.to_string())?;
    let round = browser::round(
        &start_url(&target.url, None),
        logins,
        concurrency,
        Pace::Closed,
    )
    .await;
    if round.failures > 0 {
        return Err(format!(
            "{}: warm-up logins failed (first: {})",
            target.proc.name,
            round.first_failure.unwrap_or_default()
        ));
    }
    let stats = upstreams.appwrite.ask("stats").map_err(|e| e.to_string())?;
    let mut calls = calls_per_login(&stats, user_id, logins);
    let op_after = upstreams.op.ask("stats").map_err(|e| e.to_string())?;
    for endpoint in ["discovery", "jwks", "authorize", "token"] {
        let count = |stats: &Value| stats.get(endpoint).and_then(Value::as_u64).unwrap_or(0);
        let made = count(&op_after).saturating_sub(count(&op_before));
        if made > 0 {
            calls.insert(format!("OP {endpoint}"), made as f64 / logins as f64);
        }
    }
    Ok(calls)
}

/// `login-bench run`.
///
/// # Errors
/// Any process that does not start, any failed login, floors whose calls differ from the
/// gateway's.
pub fn run(args: &RunArgs) -> Result<(), String> {
    let runtime = runtime()?;
    let Started {
        mut upstreams,
        mut targets,
        first,
    } = start_gateways(&runtime, &args.gateways, args.alg, Launch::Direct)?;
    if let Some(seconds) = args.duration {
        return soak(&runtime, &targets[0], &mut upstreams, args, seconds, &first);
    }
    if !args.no_floor {
        add_floors(&upstreams, &mut targets, &first, Launch::Direct)?;
    }
    println!(
        "login-bench: {} logins per target per round, {} rounds, {} browsers, {}, {} ID tokens",
        args.logins,
        args.rounds,
        args.concurrency,
        args.rate
            .map_or("closed loop".to_string(), |r| format!("{r} logins/s")),
        args.alg.jose()
    );
    let mut warm = Warm::new(args.warmup, args.concurrency, &first);
    for target in &targets {
        warm.up(&runtime, target, &mut upstreams)?;
    }
    let mut tallies: Vec<Tally> = targets
        .iter()
        .map(|t| Tally {
            warm_rss_kib: t.proc.memory_kib("VmRSS"),
            ..Tally::default()
        })
        .collect();
    for round in 0..args.rounds {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            // Keeps the emulator's call log short.
            upstreams.appwrite.ask("stats").map_err(|e| e.to_string())?;
            runtime.block_on(measured(&targets[i], &upstreams, args, &mut tallies[i]))?;
        }
        eprintln!("  round {} of {} done", round + 1, args.rounds);
    }
    report(&targets, &mut tallies);
    Ok(())
}

fn report(targets: &[Target], tallies: &mut [Tally]) {
    println!();
    println!(
        "| process | CPU/login (ms) | per round (ms) | p50 (ms) | p99 (ms) | logins/s | ready RSS (MiB) | warm RSS (MiB) | peak RSS (MiB) | new upstream conns |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (target, tally) in targets.iter().zip(tallies.iter_mut()) {
        tally.latencies_us.sort_unstable();
        let rounds: Vec<String> = tally
            .per_round_ms
            .iter()
            .map(|ms| format!("{ms:.2}"))
            .collect();
        println!(
            "| {} | {:.3} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} | {} |",
            target.proc.name,
            tally.cpu_ms_per_login(),
            rounds.join(" "),
            percentile(&tally.latencies_us, 0.50),
            percentile(&tally.latencies_us, 0.99),
            tally.logins as f64 / tally.wall.as_secs_f64().max(1e-9),
            target.ready_rss_kib as f64 / 1024.0,
            tally.warm_rss_kib as f64 / 1024.0,
            target.proc.memory_kib("VmHWM") as f64 / 1024.0,
            tally.new_connections,
        );
    }
    let floor = targets
        .iter()
        .zip(tallies.iter())
        .filter(|(t, _)| !t.gateway)
        .map(|(t, tally)| (t.proc.name.as_str(), tally.cpu_ms_per_login()))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((floor_name, floor_ms)) = floor {
        println!();
        for (target, tally) in targets.iter().zip(tallies.iter()) {
            if target.gateway {
                println!(
                    "{}: gateway CPU / floor CPU per login = {:.2} (against {floor_name}, the cheaper floor)",
                    target.proc.name,
                    tally.cpu_ms_per_login() / floor_ms.max(1e-9)
                );
            }
        }
    }
}

/// One gateway for `seconds`, its RSS sampled every `args.sample` seconds.
fn soak(
    runtime: &tokio::runtime::Runtime,
    target: &Target,
    upstreams: &mut Upstreams,
    args: &RunArgs,
    seconds: u64,
    user_id: &str,
) -> Result<(), String> {
    runtime.block_on(warm_up(
        target,
        upstreams,
        args.warmup,
        args.concurrency,
        user_id,
    ))?;
    let pace = args.rate.map_or(Pace::Closed, Pace::Rate);
    let url = start_url(&target.url, None);
    let began = Instant::now();
    let end = began + Duration::from_secs(seconds);
    let sample = Duration::from_secs(args.sample.max(1));
    println!(
        "soak of {} for {seconds} s, {}: seconds, logins, VmRSS (MiB), VmHWM (MiB), CPU/login (ms)",
        target.proc.name,
        args.rate
            .map_or("closed loop".to_string(), |r| format!("{r} logins/s"))
    );
    let mut logins = 0usize;
    let mut series = Vec::new();
    while Instant::now() < end {
        // Logins in slices of one sample period each, so that sampling sees a steady load.
        let batch = args
            .rate
            .map_or(args.concurrency * 50, |r| {
                (r * sample.as_secs_f64()) as usize
            })
            .max(1);
        let ticks = target.proc.cpu_ticks();
        let round = runtime.block_on(browser::round(&url, batch, args.concurrency, pace));
        if round.failures > 0 {
            return Err(format!(
                "{} logins failed during the soak (first: {})",
                round.failures,
                round.first_failure.unwrap_or_default()
            ));
        }
        upstreams.appwrite.ask("stats").map_err(|e| e.to_string())?;
        logins += batch;
        let rss = target.proc.memory_kib("VmRSS") as f64 / 1024.0;
        let cpu = target.proc.cpu_ticks().saturating_sub(ticks) as f64 * 1000.0
            / TICKS_PER_SECOND
            / batch as f64;
        println!(
            "{:>6.0} {:>9} {:>7.1} {:>7.1} {:>6.3}",
            began.elapsed().as_secs_f64(),
            logins,
            rss,
            target.proc.memory_kib("VmHWM") as f64 / 1024.0,
            cpu
        );
        series.push(rss);
    }
    // Growth after the first tenth of the soak (caches and pools warm by then).
    let warm = series.get(series.len() / 10).copied().unwrap_or(0.0);
    let last = series.last().copied().unwrap_or(0.0);
    println!(
        "RSS after warm-up {warm:.1} MiB, at the end {last:.1} MiB ({:+.1} MiB over {logins} logins)",
        last - warm
    );
    Ok(())
}

/// `login-bench flood`.
///
/// # Errors
/// Any process that does not start.
pub fn flood(args: &FloodArgs) -> Result<(), String> {
    let spec = one_gateway(args.gateway.as_ref());
    let runtime = runtime()?;
    let upstreams = Upstreams::start(Alg::Rs256).map_err(|e| e.to_string())?;
    let target = upstreams
        .gateway(
            &spec,
            &Setup {
                max_open: Some(args.cap),
                ..Setup::default()
            },
            Launch::Direct,
        )
        .map_err(|e| e.to_string())?;
    // One whole login first: discovery, keys and pools are loaded, as in a running gateway.
    runtime
        .block_on(browser::login(
            &browser::browser(),
            &start_url(&target.url, None),
        ))
        .map_err(|e| format!("the first login failed: {e}"))?;
    let idle = target.proc.memory_kib("VmRSS");
    let url = start_url(&target.url, Some(args.url_len));
    let (stored, refused) =
        runtime.block_on(browser::starts(&url, None, args.starts, args.concurrency));
    let after = target.proc.memory_kib("VmRSS");
    println!(
        "{}: {} starts with {}-byte success and failure URLs, cap {}: {stored} logins opened, {refused} refused; \
         RSS idle {:.1} MiB, after {:.1} MiB (peak {:.1} MiB), {:.0} bytes per open login",
        spec.name,
        args.starts,
        args.url_len,
        args.cap,
        idle as f64 / 1024.0,
        after as f64 / 1024.0,
        target.proc.memory_kib("VmHWM") as f64 / 1024.0,
        (after.saturating_sub(idle) * 1024) as f64 / stored.max(1) as f64,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_per_login_with_the_user_id_generalised() {
        let stats = serde_json::json!({"calls": [
            ["GET", "/v1/users/u123", 200],
            ["POST", "/v1/users/u123/tokens", 201],
            ["GET", "/v1/users/u123", 200],
            ["POST", "/v1/users/u123/tokens", 201],
        ]});
        let calls = calls_per_login(&stats, "u123", 2);
        assert_eq!(
            describe(&calls),
            "GET /v1/users/{id} ×1.00, POST /v1/users/{id}/tokens ×1.00"
        );
    }

    #[test]
    fn percentiles_are_read_from_the_sorted_latencies() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }
}
