//! `sizing`: how big a fleet. The deployed shape (the Redis store; 1 and 3 instances behind one
//! address, see [`Fleet`]) under an open-loop ladder of arrival rates up to past saturation, and
//! floods of `start` at the default limits; one Markdown report, the machine in its header.
//!
//! Each step of the ladder sends `rate × --seconds` logins on schedule ([`open_round`]: latency
//! counts from the scheduled time, so queueing counts) and reports the logins per second
//! achieved, p50/p99/p99.9 latency, gateway CPU per login and the cores it kept busy (all
//! instances, `/proc/<pid>/stat`), Redis commands and bytes per login (`INFO` deltas), and the
//! peak resident memory of a gateway and of `redis-server` during the step (`VmHWM`, started
//! over at each step). The ladder stops after the first step past saturation.
//!
//! Each flood starts a fresh fleet of the largest size at the default limits, sends
//! `--flood-starts` `start` requests through it as fast as `--flood-concurrency` browsers can,
//! and reports how many logins opened, the memory of a gateway and of Redis, and Redis memory
//! per open login.

use std::fmt::Write as _;
use std::time::Duration;

use crate::browser::{self, Round, open_round};
use crate::fleet::{Fleet, Spent};
use crate::procs::machine;
use crate::run::{one_gateway, percentile, runtime};
use crate::{Alg, GatewaySpec};

/// `login-bench sizing`.
#[derive(Debug, clap::Args)]
pub struct SizingArgs {
    /// The gateway binary, `NAME=PATH[;ENV=VALUE...]`. Default: `after=<target/release>/idp-bridge`.
    #[arg(long)]
    gateway: Option<GatewaySpec>,
    /// Fleet sizes: instances behind one address, sharing one Redis.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    instances: Vec<usize>,
    /// The ladder of arrival rates, in logins per second, lowest first.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "50,100,200,400,600,800,1000,1200,1600,2000,2400,3200"
    )]
    rates: Vec<f64>,
    /// Seconds of arrivals per step.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Logins per fleet before its ladder, at the ladder's first rate.
    #[arg(long, default_value_t = 300)]
    warmup: usize,
    /// The p99 a login may take, in ms: the sizing rule reads the highest rate within it.
    #[arg(long, default_value_t = 100.0)]
    p99_target_ms: f64,
    /// A login not finished after this many seconds fails.
    #[arg(long, default_value_t = 30)]
    login_timeout: u64,
    /// `start` requests per flood (the default `max_open_transactions` is 100 000).
    #[arg(long, default_value_t = 120_000)]
    flood_starts: usize,
    /// Success and failure URL lengths, one flood each; 0: the benchmark's short URLs, 2048: the
    /// longest the allow-list accepts. Empty: no flood.
    #[arg(long, value_delimiter = ',', default_value = "0,2048")]
    flood_url_len: Vec<usize>,
    /// Browsers sending `start` at once in a flood.
    #[arg(long, default_value_t = 32)]
    flood_concurrency: usize,
    /// `redis-server --maxmemory` (e.g. `2gb`). Default: none, as the server ships.
    #[arg(long)]
    redis_maxmemory: Option<String>,
    /// The ID-token algorithm (the mock OP's RSA signing would cap the rate before the gateway).
    #[arg(long, value_enum, default_value_t = Alg::Eddsa)]
    alg: Alg,
}

/// One step of the ladder.
struct Step {
    instances: usize,
    offered: f64,
    round: Round,
    spent: Spent,
}

impl Step {
    fn logins(&self) -> usize {
        self.round.latencies_us.len()
    }

    fn achieved(&self) -> f64 {
        self.logins() as f64 / self.round.elapsed.as_secs_f64().max(1e-9)
    }

    fn p99_ms(&self) -> f64 {
        percentile(&self.round.latencies_us, 0.99)
    }

    /// Past what the fleet can serve: it fell behind the arrivals (finished under 95 % of the
    /// offered rate), logins failed, or they queued far beyond the target (p99 over ten times
    /// it): a queue that grows for as long as the arrivals last.
    fn saturated(&self, target_ms: f64) -> bool {
        self.round.failures > 0
            || self.achieved() < 0.95 * self.offered
            || self.p99_ms() > 10.0 * target_ms
    }
}

/// One flood of `start`.
struct Flood {
    instances: usize,
    url_len: usize,
    opened: usize,
    refused: usize,
    /// The most resident memory of one gateway before the flood, in KiB.
    gateway_before_kib: u64,
    spent: Spent,
}

impl Flood {
    fn redis_bytes_per_open(&self) -> f64 {
        let (before, after) = self.spent.used_memory;
        after.saturating_sub(before) as f64 / self.opened.max(1) as f64
    }
}

/// `login-bench sizing`.
///
/// # Errors
/// Any process that does not start, failed warm-up logins, Redis not answering.
pub fn sizing(args: &SizingArgs) -> Result<(), String> {
    let spec = one_gateway(args.gateway.as_ref());
    let runtime = runtime()?;
    let timeout = Duration::from_secs(args.login_timeout.max(1));
    let first_rate = args.rates.first().copied().unwrap_or(50.0);
    let mut steps = Vec::new();
    let mut redis_version = String::new();
    for &instances in &args.instances {
        let mut fleet = Fleet::start(
            &runtime,
            &spec,
            instances,
            args.alg,
            args.redis_maxmemory.as_deref(),
        )?;
        redis_version = fleet.redis.info().map_err(|e| e.to_string())?.version;
        let url = fleet.start_url(None);
        let warm = runtime.block_on(open_round(
            &url,
            &fleet.balancer,
            args.warmup,
            first_rate,
            timeout,
        ));
        if warm.failures > 0 {
            return Err(format!(
                "{}: {} warm-up logins failed (first: {})",
                plural(instances),
                warm.failures,
                warm.first_failure.unwrap_or_default()
            ));
        }
        for &offered in &args.rates {
            let logins = ((offered * args.seconds as f64).round() as usize).max(1);
            let meter = fleet.meter()?;
            let mut round =
                runtime.block_on(open_round(&url, &fleet.balancer, logins, offered, timeout));
            let spent = fleet.spent(&meter)?;
            round.latencies_us.sort_unstable();
            let step = Step {
                instances,
                offered,
                round,
                spent,
            };
            eprintln!(
                "  {}, {offered} logins/s: {:.0} achieved, p99 {:.1} ms, {} failed, driver up \
                 to {} ms late",
                plural(instances),
                step.achieved(),
                step.p99_ms(),
                step.round.failures,
                step.round.send_lag.as_millis()
            );
            let past = step.saturated(args.p99_target_ms);
            steps.push(step);
            if past {
                break;
            }
        }
    }
    let largest = args.instances.iter().copied().max().unwrap_or(1);
    let mut floods = Vec::new();
    for &url_len in &args.flood_url_len {
        floods.push(flood(&runtime, args, &spec, largest, url_len)?);
    }
    print!("{}", report(args, &spec, &redis_version, &steps, &floods));
    Ok(())
}

/// A fresh fleet of `instances` at the default limits, flooded with `start`.
fn flood(
    runtime: &tokio::runtime::Runtime,
    args: &SizingArgs,
    spec: &GatewaySpec,
    instances: usize,
    url_len: usize,
) -> Result<Flood, String> {
    let mut fleet = Fleet::start(
        runtime,
        spec,
        instances,
        args.alg,
        args.redis_maxmemory.as_deref(),
    )?;
    let url = fleet.start_url((url_len > 0).then_some(url_len));
    let gateway_before_kib = fleet.gateway_kib("VmRSS");
    let meter = fleet.meter()?;
    let (opened, refused) = runtime.block_on(browser::starts(
        &url,
        Some(&fleet.balancer),
        args.flood_starts,
        args.flood_concurrency,
    ));
    let spent = fleet.spent(&meter)?;
    eprintln!(
        "  flood of {}, {} URLs: {opened} opened, {refused} refused",
        plural(instances),
        urls(url_len)
    );
    Ok(Flood {
        instances,
        url_len,
        opened,
        refused,
        gateway_before_kib,
        spent,
    })
}

/// `1 instance`, `3 instances`.
fn plural(instances: usize) -> String {
    match instances {
        1 => "1 instance".into(),
        n => format!("{n} instances"),
    }
}

/// A flood's success and failure URLs: `short`, or their length in bytes.
fn urls(len: usize) -> String {
    if len == 0 {
        "short".into()
    } else {
        format!("{len}-byte")
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Calls per login, e.g. `2.00 (getdel 1.00, set 1.00)`.
fn commands_per(spent: &Spent, logins: usize) -> String {
    let per = |n: u64| n as f64 / logins.max(1) as f64;
    let each: Vec<String> = spent
        .usage
        .calls
        .iter()
        .map(|(name, &n)| format!("{name} {:.2}", per(n)))
        .collect();
    format!("{:.2} ({})", per(spent.usage.commands()), each.join(", "))
}

/// The Markdown report: header, ladder, floods and the sizing rule they give.
fn report(
    args: &SizingArgs,
    spec: &GatewaySpec,
    redis_version: &str,
    steps: &[Step],
    floods: &[Flood],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nMachine: {}. redis-server {redis_version}. Gateway `{}` ({}), its configuration's \
         defaults but for the Redis store. {} ID tokens; {} s of open-loop arrivals per step, \
         round robin per request over the instances; latency from the scheduled time.\n",
        machine(),
        spec.name,
        // Relative to the repository (where `scripts/bench-login` runs) when under it.
        std::env::current_dir()
            .ok()
            .and_then(|here| spec.path.strip_prefix(here).ok())
            .unwrap_or(&spec.path)
            .display(),
        args.alg.jose(),
        args.seconds
    );
    let _ = writeln!(
        out,
        "| instances | offered (logins/s) | achieved (logins/s) | logins | failed | p50 (ms) | \
         p99 (ms) | p99.9 (ms) | gateway CPU/login (ms) | gateway cores busy | Redis commands/login \
         | Redis bytes in / out per login | redis-server CPU/login (µs) | peak RSS of a gateway \
         (MiB) | redis-server peak RSS (MiB) |"
    );
    let _ = writeln!(out, "|{}", "---|".repeat(15));
    for s in steps {
        let logins = s.logins();
        let lat = &s.round.latencies_us;
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {logins} | {} | {:.2} | {:.2} | {:.2} | {:.3} | {:.2} | {} | \
             {:.0} / {:.0} | {:.0} | {:.1} | {:.1} |",
            s.instances,
            s.offered,
            s.achieved(),
            s.round.failures,
            percentile(lat, 0.50),
            percentile(lat, 0.99),
            percentile(lat, 0.999),
            s.spent.gateway_ms_per(logins),
            s.spent.gateway_cores(),
            commands_per(&s.spent, logins),
            s.spent.usage.net_in as f64 / logins.max(1) as f64,
            s.spent.usage.net_out as f64 / logins.max(1) as f64,
            s.spent.redis_us_per(logins),
            mib(s.spent.gateway_peak_kib),
            mib(s.spent.redis_peak_kib),
        );
    }
    for s in steps.iter().filter(|s| s.round.failures > 0) {
        let _ = writeln!(
            out,
            "\n{} at {:.0} logins/s: {} logins failed; the first: {}",
            plural(s.instances),
            s.offered,
            s.round.failures,
            s.round.first_failure.as_deref().unwrap_or_default()
        );
    }
    if !floods.is_empty() {
        let _ = writeln!(
            out,
            "\n| flood: instances | starts | success/failure URLs | logins opened | \
             refused | RSS of a gateway before → peak (MiB) | Redis used_memory before → after \
             (MiB) | redis-server peak RSS (MiB) | Redis memory per open login (bytes) | Redis \
             commands per start |"
        );
        let _ = writeln!(out, "|{}", "---|".repeat(10));
    }
    for f in floods {
        let starts = f.opened + f.refused;
        let (before, after) = f.spent.used_memory;
        let _ = writeln!(
            out,
            "| {} | {starts} | {} | {} | {} | {:.1} → {:.1} | {:.1} → {:.1} | {:.1} | {:.0} | {} |",
            f.instances,
            urls(f.url_len),
            f.opened,
            f.refused,
            mib(f.gateway_before_kib),
            mib(f.spent.gateway_peak_kib),
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            mib(f.spent.redis_peak_kib),
            f.redis_bytes_per_open(),
            commands_per(&f.spent, starts),
        );
    }
    out + &rule(args, steps, floods)
}

/// The sizing rule the figures give.
fn rule(args: &SizingArgs, steps: &[Step], floods: &[Flood]) -> String {
    let target = args.p99_target_ms;
    let mut out = format!("\nSizing rule (p99 within {target:.0} ms):\n");
    for &instances in &args.instances {
        let best = steps
            .iter()
            .filter(|s| s.instances == instances && !s.saturated(target) && s.p99_ms() <= target)
            .max_by(|a, b| a.offered.total_cmp(&b.offered));
        let _ = match best {
            Some(s) => {
                let cpu = s.spent.gateway_ms_per(s.logins());
                writeln!(
                    out,
                    "- {}: {:.0} logins/s at p99 {:.1} ms, the gateways {:.2} cores busy; \
                     {cpu:.3} ms of gateway CPU per login, so {:.0} logins/s per fully busy core.",
                    plural(instances),
                    s.achieved(),
                    s.p99_ms(),
                    s.spent.gateway_cores(),
                    1000.0 / cpu.max(1e-9)
                )
            }
            None => writeln!(out, "- {}: no step within the target.", plural(instances)),
        };
    }
    let steady = steps.iter().filter(|s| !s.saturated(target));
    if let Some(s) = steady.max_by(|a, b| a.offered.total_cmp(&b.offered)) {
        let logins = s.logins();
        let _ = writeln!(
            out,
            "- Redis per login: commands {}, {:.0} bytes in and {:.0} bytes out, {:.0} µs of \
             redis-server CPU.",
            commands_per(&s.spent, logins),
            s.spent.usage.net_in as f64 / logins.max(1) as f64,
            s.spent.usage.net_out as f64 / logins.max(1) as f64,
            s.spent.redis_us_per(logins)
        );
    }
    for f in floods.iter().filter(|f| f.opened > 0) {
        let per = f.redis_bytes_per_open();
        let _ = writeln!(
            out,
            "- Redis memory per open login ({} URLs): {per:.0} bytes; 100 000 open logins \
             (the default max_open_transactions): {:.0} MiB.",
            urls(f.url_len),
            per * 100_000.0 / 1048576.0
        );
    }
    out
}
