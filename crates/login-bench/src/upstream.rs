//! The two upstreams as processes of their own: `login-bench op` serves the mock OP and
//! `login-bench appwrite` the Appwrite emulator, each on a free loopback port.
//!
//! Protocol with the driver, one line each way: the process prints `READY <json>` (where it
//! listens) on stdout, then answers commands read from stdin: `stats` prints one JSON line
//! (request counts; for Appwrite, the calls received since the last `stats`, which it then
//! forgets, so the call log never grows over a long run). End of stdin ends the process.

use std::io::{BufRead, Write};

use appwrite_emulator::{Emulator, EmulatorConfig};
use mock_op::{Behavior, MockOp, MockOpConfig, SigningAlg};
use serde_json::{Value, json};

/// Which upstream to serve.
#[derive(Debug, Clone, Copy)]
pub enum Upstream {
    /// The mock OP, signing ID tokens with this algorithm.
    Op(SigningAlg),
    /// The Appwrite emulator.
    Appwrite,
}

/// Serves `upstream` until stdin ends.
///
/// # Errors
/// When the port cannot be bound or stdout is gone.
pub fn serve(upstream: Upstream) -> std::io::Result<()> {
    // One thread: an upstream stub should cost as little as it can, and the same for every
    // variant under test.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _guard = runtime.enter();
    let (ready, stats): (Value, Box<dyn Fn() -> Value>) = match upstream {
        Upstream::Op(alg) => {
            let op = runtime.block_on(MockOp::spawn(MockOpConfig::default()));
            op.set_behavior(Behavior {
                alg: Some(alg),
                ..Default::default()
            });
            let ready = json!({
                "issuer": op.issuer(),
                "client_id": op.config().client_id,
                "client_secret": op.config().client_secret,
            });
            let stats = move || {
                let c = op.counters();
                json!({"authorize": c.authorize, "token": c.token, "jwks": c.jwks, "discovery": c.discovery})
            };
            (ready, Box::new(stats))
        }
        Upstream::Appwrite => {
            let emulator = runtime.block_on(Emulator::try_spawn(EmulatorConfig::default()))?;
            let ready = json!({
                "endpoint": emulator.endpoint(),
                "project": emulator.project(),
                "api_key": emulator.api_key(),
            });
            let stats = move || {
                let calls: Vec<Value> = emulator
                    .calls()
                    .into_iter()
                    .map(|c| json!([c.method, c.path, c.status]))
                    .collect();
                emulator.clear_calls();
                json!({"calls": calls})
            };
            (ready, Box::new(stats))
        }
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "READY {ready}")?;
    stdout.flush()?;
    // The servers run on this runtime while a blocking thread reads the commands.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    runtime.block_on(async {
        while let Some(command) = rx.recv().await {
            let answer = match command.trim() {
                "stats" => stats(),
                other => json!({"error": format!("unknown command {other:?}")}),
            };
            writeln!(stdout, "{answer}")?;
            stdout.flush()?;
        }
        Ok(())
    })
}
