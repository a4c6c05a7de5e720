//! The `idp-bridge` command: `serve`, `check-config`, `init` and `gen-key`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use idp_bridge::audit::file::FileStatus;
use idp_bridge::config::Config;
use idp_bridge::init::{self, Preset};
use idp_bridge::login::user_id::IdKey;
use idp_bridge::registry::Registry;
use idp_bridge::reload::{ConfigSource, Hangups};
use idp_bridge::startup::{Application, Stopped};
use idp_bridge::store::seal;
use idp_bridge::telemetry;

/// check-config's exit statuses, in its help.
const CHECK_CONFIG_EXIT: &str = "Exit status: 0 when `serve` would start with this configuration \
(and, with --online, no check failed); 1 when an online check failed; 2 when `serve` would refuse \
it: a problem, or a warning without --development (as `serve` itself exits then).";

/// What `gen-key` and `init` say when no key can be made.
const RANDOM_FAILED: &str = "the operating system's random source failed";

/// The version line: the version and the git commit it was built from (build.rs: the crate
/// version, or the image's `VERSION` build argument).
const VERSION: &str = concat!(
    env!("BUILD_VERSION"),
    " (commit ",
    env!("BUILD_GIT_COMMIT"),
    ")"
);

/// Log Appwrite users in through identity providers Appwrite does not verify itself.
#[derive(Parser)]
#[command(version = VERSION, about)]
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
        /// Start even when check-config warns (placeholders, example domains, plain-text
        /// connections, a `*` in the redirect list...): for local development only.
        #[arg(long, env = "IDP_BRIDGE_DEVELOPMENT")]
        development: bool,
    },
    /// Validate a configuration and explain what is wrong: offline by default; with --online
    /// also against Appwrite and every provider.
    #[command(after_help = CHECK_CONFIG_EXIT)]
    CheckConfig {
        /// The TOML configuration file.
        #[arg(long, env = "IDP_BRIDGE_CONFIG")]
        config: PathBuf,
        /// Also check the configuration against the services it names, one line per check:
        /// Appwrite (endpoint, project, the key's users.read and users.write, without changing
        /// anything) and each provider (discovery and issuer, algorithms, keys, client
        /// credentials; TypingDNA's credentials).
        #[arg(long)]
        online: bool,
        /// Judge the configuration as `serve --development` would: warnings do not fail it.
        #[arg(long, env = "IDP_BRIDGE_DEVELOPMENT")]
        development: bool,
    },
    /// Write a commented configuration for a provider, with its keys generated, and say what
    /// to do next. Refuses to overwrite an existing file.
    Init {
        /// Which provider the file is for.
        #[arg(long, value_enum)]
        provider: Preset,
        /// Where to write it.
        #[arg(long, default_value = "config.toml")]
        output: PathBuf,
    },
    /// Print fresh random keys for every key the configuration needs, as TOML to paste:
    /// `[mapping] id_key` (32 bytes, base64; set it once, before the first user logs in, and
    /// never change it: every derived user id depends on it). With `--raw`, only the key.
    GenKey {
        /// Print only a bare `id_key` value (for scripts: `id_key = "$(idp-bridge gen-key --raw)"`).
        #[arg(long)]
        raw: bool,
    },
    /// Ask the gateway that serves this configuration whether it is alive (`GET /healthz` on
    /// `[server] listen`, loopback when it listens on every interface): exit 0 if it answers
    /// 200, 1 otherwise. For container health checks; the image needs no curl.
    Healthcheck {
        /// The TOML configuration file the gateway was started with.
        #[arg(long, env = "IDP_BRIDGE_CONFIG")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The provider types this program knows: a program that embeds the gateway adds its own
    // here (`Registry::with`), and every load, reloads included, uses them.
    let registry = Registry::default();
    match cli.command {
        Command::Init { provider, output } => write_init(provider, &output),
        Command::GenKey { raw } => {
            let keys = IdKey::generate().and_then(|key| Ok((key, IdKey::generate()?)));
            let sealing = seal::generate("k1");
            match (keys, sealing) {
                (Ok((key, _)), _) if raw => println!("{key}"),
                (Ok((key, salt)), Ok(sealing)) => println!(
                    "# Fresh keys for idp-bridge. Keep them secret (or put each in a file and use\n\
                     # the key's _file form). Never change id_key once users exist.\n\
                     [mapping]\n\
                     id_key = \"{key}\"\n\
                     \n\
                     # For a provider of type typingdna, in its [providers.<id>] table (it keys\n\
                     # the ids TypingDNA sees; never change it once users have enrolled):\n\
                     # id_salt = \"{salt}\"\n\
                     \n\
                     # For [store] backend = \"redis\", in [store], the same on every instance (it\n\
                     # seals the logins kept in Redis; to rotate, add a new key with another id\n\
                     # second, then move it first, then drop the old one after transaction_ttl_seconds):\n\
                     # encryption_keys = [\"{sealing}\"]"
                ),
                _ => {
                    eprintln!("{RANDOM_FAILED}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Healthcheck { config } => healthcheck(&config),
        Command::CheckConfig {
            config,
            online,
            development,
        } => check_config(&config, &registry, online, development),
        Command::Serve {
            config,
            development,
        } => {
            // The runtime [server] worker_threads asks for, read alone first: SIGHUP is claimed
            // in it before the rest of the configuration (secret files, providers) loads.
            let threads = Config::worker_threads_of(&config)
                .unwrap_or(idp_bridge::config::DEFAULT_WORKER_THREADS);
            let runtime = match idp_bridge::startup::runtime(threads) {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            // Before anything else: an unclaimed SIGHUP would end the process while it starts.
            let hangups = match runtime.block_on(async { Hangups::listen() }) {
                Ok(hangups) => hangups,
                Err(error) => {
                    eprintln!("cannot listen for SIGHUP (configuration reloads): {error}");
                    return ExitCode::FAILURE;
                }
            };
            let source = ConfigSource {
                path: config,
                allow_warnings: development,
                registry,
            };
            let (loaded, checksum) = match source.load() {
                Ok(loaded) => loaded,
                Err(error) => {
                    eprintln!("{}: {error}", source.path.display());
                    return ExitCode::from(2);
                }
            };
            if !loaded.warnings.is_empty() && !development {
                eprintln!(
                    "{}: refusing to serve a configuration with warnings (run check-config; --development starts anyway):",
                    source.path.display()
                );
                for warning in &loaded.warnings {
                    eprintln!("  - {warning}");
                }
                return ExitCode::from(2);
            }
            let telemetry = match telemetry::init_with_audit(loaded.log.format, &loaded.audit) {
                Ok(telemetry) => telemetry,
                Err(error) => {
                    eprintln!("{}: audit.file: {error}", source.path.display());
                    return ExitCode::from(2);
                }
            };
            for warning in &loaded.warnings {
                tracing::warn!(
                    key = warning.key,
                    reason = warning.reason,
                    "configuration warning (serving anyway: --development)"
                );
            }
            loaded.log_notices();
            if loaded.server.worker_threads != threads {
                eprintln!(
                    "{}: server.worker_threads changed while the configuration loaded; start again",
                    source.path.display()
                );
                return ExitCode::from(2);
            }
            let audit_file = telemetry.audit_file.clone();
            let code = runtime.block_on(serve(loaded, source, hangups, checksum, audit_file));
            // Connections still open past the shutdown grace are cut here; a reload still
            // loading its file is not waited for.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            // Writes out the audit lines still queued.
            drop(telemetry);
            code
        }
    }
}

/// `check-config`: the problems, or the warnings and the providers; with `online`, the checks
/// against Appwrite and the providers. Exits as [`CHECK_CONFIG_EXIT`] says.
fn check_config(
    path: &std::path::Path,
    registry: &Registry,
    online: bool,
    development: bool,
) -> ExitCode {
    let loaded = match Config::load_with(path, registry) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{}: {error}", path.display());
            return ExitCode::from(2);
        }
    };
    let refused = !loaded.warnings.is_empty() && !development;
    match (loaded.warnings.len(), development) {
        (0, _) => println!("{}: valid", path.display()),
        (count, false) => println!(
            "{}: valid, with {count} warning(s); `serve` refuses to start on them without --development:",
            path.display()
        ),
        (count, true) => println!(
            "{}: valid, with {count} warning(s), allowed by --development:",
            path.display()
        ),
    }
    for warning in &loaded.warnings {
        println!("  - warning: {warning}");
    }
    for notice in &loaded.notices {
        println!("  - warning (serve starts anyway): {notice}");
    }
    for provider in &loaded.providers {
        let info = provider.provider.info();
        println!(
            "  provider {} (type {}): {}",
            info.id, info.kind, info.display_name
        );
    }
    let mut failed = false;
    if online {
        let lines = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(idp_bridge::online::run(&loaded)));
        match lines {
            Ok(lines) => {
                println!("online checks:");
                print!("{}", idp_bridge::online::report(&lines));
                let failures = lines.iter().filter(|l| l.result.is_failure()).count();
                if failures > 0 {
                    println!("{}: {failures} online check(s) failed", path.display());
                    failed = true;
                }
            }
            Err(error) => {
                eprintln!("cannot start the async runtime: {error}");
                failed = true;
            }
        }
    }
    if refused {
        ExitCode::from(2)
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `healthcheck`: reads `[server] listen` alone (file and environment, as `serve` does: no
/// secret file is read, no provider opened) and asks `/healthz` there.
fn healthcheck(config: &std::path::Path) -> ExitCode {
    let listen = match Config::listen_of(config) {
        Ok(listen) => listen,
        Err(error) => {
            eprintln!("{}: {error}", config.display());
            // 1, not 2: Docker reserves a HEALTHCHECK exit status of 2.
            return ExitCode::FAILURE;
        }
    };
    let probed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            runtime
                .block_on(idp_bridge::healthcheck::probe(listen))
                .map_err(|e| e.to_string())
        });
    match probed {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `init`: writes the file (never over an existing one) and prints the next steps.
fn write_init(preset: Preset, output: &std::path::Path) -> ExitCode {
    let Ok(text) = init::config(preset) else {
        eprintln!("{RANDOM_FAILED}");
        return ExitCode::FAILURE;
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output);
    let written = file.and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
    match written {
        Ok(()) => {
            println!(
                "{}",
                init::next_steps(preset, &output.display().to_string())
            );
            ExitCode::SUCCESS
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "{} exists; init never overwrites a file (choose another with --output)",
                output.display()
            );
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("cannot write {}: {error}", output.display());
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGTERM or Ctrl-C, reloading from `source` on SIGHUP (and with `[server]
/// config_watch_seconds`, when the file changes from the one loaded, `checksum`). Exit status 0
/// when every request in flight finished, 1 when the shutdown grace cut some (an operator
/// should see that). The audit file's losses, when there is one, are counted in the metrics.
async fn serve(
    config: Config,
    source: ConfigSource,
    hangups: Hangups,
    checksum: String,
    audit_file: Option<FileStatus>,
) -> ExitCode {
    let app = match Application::build(config).await {
        Ok(app) => app
            .reload_from(source, hangups, checksum)
            .count_audit_file(audit_file),
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(Stopped::Drained) => ExitCode::SUCCESS,
        Ok(Stopped::GraceElapsed) => ExitCode::FAILURE,
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
