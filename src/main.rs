//! The `idp-bridge` command: `serve`, `check-config` and `gen-key`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use idp_bridge::config::Config;
use idp_bridge::login::user_id::IdKey;
use idp_bridge::startup::Application;
use idp_bridge::telemetry;

/// Log Appwrite users in through identity providers Appwrite does not verify itself.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The TOML configuration file.
        #[arg(long, env = "IDP_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Validate a configuration (offline) and explain what is wrong.
    CheckConfig {
        /// The TOML configuration file.
        #[arg(long, env = "IDP_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Print a new random `[mapping] id_key` (32 bytes, base64). Set it once, before the first
    /// user logs in, and never change it: every derived user id depends on it.
    GenKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::GenKey => match IdKey::generate() {
            Ok(key) => {
                println!("{key}");
                ExitCode::SUCCESS
            }
            Err(_) => {
                eprintln!("the operating system's random source failed");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(loaded) => {
                println!("{}: valid", config.display());
                for provider in &loaded.providers {
                    let info = provider.provider.info();
                    println!(
                        "  provider {} (type {}): {}",
                        info.id, info.kind, info.display_name
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{}: {error}", config.display());
                ExitCode::from(2)
            }
        },
        Command::Serve { config } => {
            let loaded = match Config::load(&config) {
                Ok(loaded) => loaded,
                Err(error) => {
                    eprintln!("{}: {error}", config.display());
                    return ExitCode::from(2);
                }
            };
            telemetry::init(loaded.log.format);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(serve(loaded))
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
