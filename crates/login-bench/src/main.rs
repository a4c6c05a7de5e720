//! `login-bench`: what a whole login costs the gateway process, next to a floor that makes the
//! same HTTP calls and checks nothing; and how big a fleet of gateways a login rate needs
//! (`sizing`). Run through `scripts/bench-login`, which builds the release binaries first.
//!
//! Every part is a separate process on loopback: the mock OP (`login-bench op`), the Appwrite
//! emulator (`login-bench appwrite`), each gateway binary under test (`idp-bridge serve`), the
//! floors (`login-floor`, on a current-thread and on a multi-thread runtime) and, for a fleet,
//! `redis-server`. The driver is the browser (and a fleet's load balancer). See [`run`] for the
//! measurement and the report, [`sizing`] for the fleet's.
//!
//! Layout:
//! - [`upstream`]: the `op` and `appwrite` subcommands.
//! - [`procs`]: child processes and what `/proc` says about them.
//! - [`browser`]: one login as a browser makes it, and rounds of logins.
//! - [`stack`]: the upstreams, the gateways and the floors, started and ready.
//! - [`run`]: the interleaved rounds, the soak and the flood, and their reports.
//! - [`count`]: instructions per login, counted by valgrind instead of timed.
//! - [`redis_server`]: the `redis-server` a fleet shares, and its `INFO`.
//! - [`fleet`]: instances with the Redis store behind one address, and what they spend.
//! - [`sizing`]: the open-loop ladder and the floods on fleets, and the sizing report.

mod browser;
mod count;
mod fleet;
mod procs;
mod redis_server;
mod run;
mod sizing;
mod stack;
mod upstream;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mock_op::SigningAlg;

/// Process-level login benchmark of idp-bridge.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure logins: gateways and floors interleaved round by round (or one gateway over a
    /// long soak with `--duration`).
    Run(run::RunArgs),
    /// Open logins without finishing them (`start` only), with the longest URLs the
    /// allow-list accepts, and report the gateway's memory.
    Flood(run::FloodArgs),
    /// Count the instructions a login costs each gateway and floor in user space, under
    /// valgrind's callgrind: exact where `run`'s CPU times are noisy.
    Count(count::CountArgs),
    /// How big a fleet: 1 and 3 instances with the Redis store behind one address, an
    /// open-loop ladder of arrival rates past saturation, and floods of `start`; prints a
    /// Markdown report.
    Sizing(sizing::SizingArgs),
    /// Serve the mock OP (used by `run`).
    Op {
        /// The ID-token signing algorithm.
        #[arg(long, value_enum, default_value_t = Alg::Rs256)]
        alg: Alg,
    },
    /// Serve the Appwrite emulator (used by `run`).
    Appwrite,
}

/// ID-token algorithms the benchmark can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 SHA-256 (2048-bit key).
    Rs256,
    /// RSASSA-PSS SHA-256.
    Ps256,
    /// ECDSA P-256.
    Es256,
    /// Ed25519.
    Eddsa,
}

impl Alg {
    fn signing(self) -> SigningAlg {
        match self {
            Self::Rs256 => SigningAlg::RS256,
            Self::Ps256 => SigningAlg::PS256,
            Self::Es256 => SigningAlg::ES256,
            Self::Eddsa => SigningAlg::EdDSA,
        }
    }

    /// The JOSE name, for the gateway's `allowed_algs`.
    pub fn jose(self) -> &'static str {
        self.signing().as_str()
    }
}

/// `NAME=PATH[;KEY=VALUE...]`: a gateway binary under test, with environment overrides (such
/// as `IDP_BRIDGE_SERVER__WORKER_THREADS=1`).
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    /// Its name in the report.
    pub name: String,
    /// The `idp-bridge` binary.
    pub path: PathBuf,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

impl std::str::FromStr for GatewaySpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = text.split(';');
        let head = parts.next().unwrap_or_default();
        let (name, path) = head
            .split_once('=')
            .filter(|(n, p)| !n.is_empty() && !p.is_empty())
            .ok_or_else(|| format!("{text:?}: expected NAME=PATH[;KEY=VALUE...]"))?;
        let env = parts
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| format!("{kv:?}: expected KEY=VALUE"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: name.to_string(),
            path: PathBuf::from(path),
            env,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Op { alg } => {
            upstream::serve(upstream::Upstream::Op(alg.signing())).map_err(|e| e.to_string())
        }
        Command::Appwrite => {
            upstream::serve(upstream::Upstream::Appwrite).map_err(|e| e.to_string())
        }
        Command::Run(args) => run::run(&args),
        Command::Flood(args) => run::flood(&args),
        Command::Count(args) => count::count(&args),
        Command::Sizing(args) => sizing::sizing(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("login-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_spec_names_a_binary_and_its_environment() {
        let spec: GatewaySpec = "ct=target/release/idp-bridge;IDP_BRIDGE_SERVER__WORKER_THREADS=1"
            .parse()
            .expect("spec");
        assert_eq!(spec.name, "ct");
        assert_eq!(spec.path, PathBuf::from("target/release/idp-bridge"));
        assert_eq!(
            spec.env,
            vec![(
                "IDP_BRIDGE_SERVER__WORKER_THREADS".to_string(),
                "1".to_string()
            )]
        );
        for bad in ["", "name", "=path", "n=p;novalue"] {
            assert!(bad.parse::<GatewaySpec>().is_err(), "{bad}");
        }
    }
}
