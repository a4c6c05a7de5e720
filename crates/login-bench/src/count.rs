//! `count`: the instructions a login costs each process in user space, counted by valgrind's
//! callgrind rather than timed.
//!
//! CPU time per login (`run`) moves by ±15 % from round to round on a shared virtual machine,
//! which hides any change smaller than that. An instruction count does not move: the same
//! binary, inputs and number of logins give the same count within a fraction of a percent,
//! whatever else the machine runs. It leaves out the kernel (loopback TCP, epoll, context
//! switches), which `run`'s CPU time includes, and it weighs every instruction alike (an RSA
//! multiply and a `mov`), so it complements `run` rather than replacing it.
//!
//! Each gateway and floor runs under `valgrind --tool=callgrind` (about 50 times slower); after
//! its warm-up logins, `callgrind_control -e Ir <pid>` reads its instruction counter, the
//! counted logins run, and the counter is read again.

use std::process::Command;

use crate::browser::{self, Pace, start_url};
use crate::run::{Started, Warm, add_floors, all_succeeded, runtime, start_gateways};
use crate::stack::Launch;
use crate::{Alg, GatewaySpec};

/// `login-bench count`.
#[derive(Debug, clap::Args)]
pub struct CountArgs {
    /// A gateway under test, `NAME=PATH[;ENV=VALUE...]`; repeat to compare binaries.
    /// Default: `after=<target/release>/idp-bridge`.
    #[arg(long = "gateway")]
    gateways: Vec<GatewaySpec>,
    /// Logins counted per target.
    #[arg(long, default_value_t = 300)]
    logins: usize,
    /// Logins per target before counting (connection pools, caches and the allocator warm).
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Browsers logging in at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// The ID-token algorithm.
    #[arg(long, value_enum, default_value_t = Alg::Rs256)]
    alg: Alg,
    /// Leave the floors out.
    #[arg(long)]
    no_floor: bool,
}

/// `login-bench count`.
///
/// # Errors
/// valgrind missing, any process that does not start, any failed login, floors whose calls
/// differ from the gateway's.
pub fn count(args: &CountArgs) -> Result<(), String> {
    callgrind_control(&["--version"])
        .map_err(|e| format!("valgrind's callgrind_control is needed ({e})"))?;
    let runtime = runtime()?;
    let Started {
        mut upstreams,
        mut targets,
        first,
    } = start_gateways(&runtime, &args.gateways, args.alg, Launch::Callgrind)?;
    if !args.no_floor {
        add_floors(&upstreams, &mut targets, &first, Launch::Callgrind)?;
    }
    println!(
        "login-bench count: {} logins per target after {} warm-up logins, {} browsers, {} ID \
         tokens; instructions in user space (valgrind --tool=callgrind)",
        args.logins,
        args.warmup,
        args.concurrency,
        args.alg.jose()
    );
    let mut counted = Vec::new();
    let mut warm = Warm::new(args.warmup, args.concurrency, &first);
    for target in &targets {
        warm.up(&runtime, target, &mut upstreams)?;
        let pid = target.proc.pid();
        let before = instructions(pid)?;
        let url = start_url(&target.url, None);
        let round = runtime.block_on(browser::round(
            &url,
            args.logins,
            args.concurrency,
            Pace::Closed,
        ));
        all_succeeded(target, &round, args.logins)?;
        let spent = instructions(pid)?.saturating_sub(before);
        counted.push(Counted {
            name: target.proc.name.clone(),
            gateway: target.gateway,
            per_login: spent as f64 / args.logins.max(1) as f64,
        });
    }
    report(&counted);
    Ok(())
}

struct Counted {
    name: String,
    gateway: bool,
    per_login: f64,
}

fn report(counted: &[Counted]) {
    println!();
    println!("| process | instructions per login (thousands) |");
    println!("|---|---|");
    for c in counted {
        println!("| {} | {:.0} |", c.name, c.per_login / 1000.0);
    }
    let floor = counted
        .iter()
        .filter(|c| !c.gateway)
        .min_by(|a, b| a.per_login.total_cmp(&b.per_login));
    if let Some(floor) = floor {
        println!();
        for c in counted.iter().filter(|c| c.gateway) {
            println!(
                "{}: gateway instructions / floor instructions per login = {:.2} (against {}, \
                 the cheaper floor)",
                c.name,
                c.per_login / floor.per_login.max(1.0),
                floor.name
            );
        }
    }
}

fn callgrind_control(args: &[&str]) -> Result<String, String> {
    let output = Command::new("callgrind_control")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("callgrind_control {} failed", args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The instructions process `pid` has run so far under callgrind, all its threads together.
fn instructions(pid: u32) -> Result<u64, String> {
    let pid = pid.to_string();
    let text = callgrind_control(&["-e", "Ir", &pid])?;
    instructions_in(&text)
        .ok_or_else(|| format!("callgrind_control -e Ir {pid} printed no thread counts: {text:?}"))
}

/// Sums the per-thread lines (`   Th 1  300,110`) of `callgrind_control -e Ir`.
fn instructions_in(text: &str) -> Option<u64> {
    let mut counts = text.lines().filter_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("Th") && words.next()?.parse::<u32>().is_ok())
            .then(|| words.next()?.replace(',', "").parse::<u64>().ok())
            .flatten()
    });
    let first = counts.next()?;
    Some(counts.fold(first, |sum, n| sum + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_are_summed_and_anything_else_is_no_count() {
        let one = "PID 24094: sleep 3\n\n  Totals:     Ir \n   Th 1  300,110 \n\n";
        assert_eq!(instructions_in(one), Some(300_110));
        let two = "PID 7: login-floor\n\n  Totals:     Ir \n   Th 1  1,000 \n   Th 2  2,345,678 \n";
        assert_eq!(instructions_in(two), Some(2_346_678));
        assert_eq!(instructions_in("PID 7: gone\n"), None);
        assert_eq!(instructions_in("   Th x  1,000\n   Th 1  many\n"), None);
    }
}
