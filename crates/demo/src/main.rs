//! The local demo: `cargo run -p idp-bridge-demo`, then open the printed URL and click Sign in.
//!
//! Everything runs in this process on 127.0.0.1, with nothing from outside: the Appwrite
//! emulator, the development OpenID provider, the gateway and a small app page that turns the
//! gateway's `userId` + `secret` into an Appwrite session. Ctrl-C stops it.
//!
//! Ports: app 8090, gateway 8091, OpenID provider 8092, Appwrite emulator 8093 (a busy port falls
//! back to a free one); override with `DEMO_APP_PORT`, `DEMO_GATEWAY_PORT`, `DEMO_OP_PORT`,
//! `DEMO_APPWRITE_PORT` (0 = any free port).
//! The log level comes from `RUST_LOG` (default `info`).

mod stack;

use std::process::ExitCode;
use std::time::Duration;

use idp_bridge::config::LogFormat;
use stack::Ports;

#[tokio::main]
async fn main() -> ExitCode {
    idp_bridge::telemetry::init(LogFormat::Pretty);
    let ports = match ports_from_env() {
        Ok(ports) => ports,
        Err(message) => {
            eprintln!("demo: {message}");
            return ExitCode::from(2);
        }
    };

    let stack = stack::start(ports).await;
    if let Err(problem) = stack.wait_ready(Duration::from_secs(10)).await {
        eprintln!("demo: warning: {problem}");
    }
    print_banner(&stack);

    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("demo: cannot listen for Ctrl-C ({error}); stopping");
    }
    println!("\nStopping the demo.");
    stack.stop().await;
    ExitCode::SUCCESS
}

fn print_banner(stack: &stack::Stack) {
    let users: Vec<&str> = stack
        .op
        .config()
        .users
        .iter()
        .map(|u| u.name.as_deref().unwrap_or(&u.sub))
        .collect();
    println!();
    println!("idp-bridge demo is running.");
    println!();
    println!("  Open {} and click Sign in", stack.app_url);
    println!();
    println!("  gateway            {}", stack.gateway_url);
    println!(
        "  OpenID provider    {}  (development only; users: {})",
        stack.op_issuer,
        users.join(", ")
    );
    println!(
        "  Appwrite emulator  {}  (project {})",
        stack.appwrite_endpoint, stack.project
    );
    for note in &stack.notes {
        println!("  note: {note}");
    }
    println!();
    println!("The page's second link signs in and shows userId and secret instead of making the");
    println!("session; then make it by hand (once, within 60 s):");
    println!();
    println!("  {}", session_curl(stack));
    println!();
    println!("Press Ctrl-C to stop.");
    println!();
}

/// The `curl` that turns a minted `userId` + `secret` into a session, as
/// `account.createSession({ userId, secret })` does, against this run's emulator.
fn session_curl(stack: &stack::Stack) -> String {
    format!(
        "curl -s -X POST {}/account/sessions/token -H 'X-Appwrite-Project: {}' \\\n      -H 'Content-Type: application/json' -d '{{\"userId\":\"USER_ID\",\"secret\":\"SECRET\"}}'",
        stack.appwrite_endpoint, stack.project
    )
}

/// Reads `DEMO_APP_PORT`, `DEMO_GATEWAY_PORT`, `DEMO_OP_PORT` and `DEMO_APPWRITE_PORT` over
/// [`Ports::DEFAULT`].
fn ports_from_env() -> Result<Ports, String> {
    let port = |name: &str, default: u16| -> Result<u16, String> {
        match std::env::var(name) {
            Err(std::env::VarError::NotPresent) => Ok(default),
            Err(e) => Err(format!("{name}: {e}")),
            Ok(text) => text
                .trim()
                .parse::<u16>()
                .map_err(|e| format!("{name}={text:?} is not a port number (0..=65535): {e}")),
        }
    };
    Ok(Ports {
        app: port("DEMO_APP_PORT", Ports::DEFAULT.app)?,
        gateway: port("DEMO_GATEWAY_PORT", Ports::DEFAULT.gateway)?,
        op: port("DEMO_OP_PORT", Ports::DEFAULT.op)?,
        appwrite: port("DEMO_APPWRITE_PORT", Ports::DEFAULT.appwrite)?,
    })
}
