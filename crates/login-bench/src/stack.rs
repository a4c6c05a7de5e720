//! The processes of a benchmark, started and ready: the two upstreams, each gateway under test
//! (its configuration written to a temporary file) and the floors.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::browser::{APP, PROVIDER};
use crate::procs::{Proc, ProcError, free_port};
use crate::{Alg, GatewaySpec};

/// What can go wrong while setting up.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A process failed.
    #[error(transparent)]
    Proc(#[from] ProcError),
    /// Files or ports.
    #[error("{0}")]
    Io(String),
}

fn io(what: &str) -> impl Fn(std::io::Error) -> StackError + '_ {
    move |e| StackError::Io(format!("{what}: {e}"))
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// How a process under test is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launch {
    /// As itself.
    Direct,
    /// Under valgrind's callgrind, which counts the instructions it runs in user space
    /// (`login-bench count`). Nothing is written when it ends: the counts are read while it runs.
    Callgrind,
}

impl Launch {
    fn command(self, program: &Path) -> Command {
        match self {
            Self::Direct => Command::new(program),
            Self::Callgrind => {
                let mut command = Command::new("valgrind");
                command
                    .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
                    .arg(program);
                command
            }
        }
    }
}

/// A process under test that serves logins.
pub struct Target {
    /// The process.
    pub proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A gateway (as opposed to a floor).
    pub gateway: bool,
    /// Resident memory once ready, before any login, in KiB.
    pub ready_rss_kib: u64,
}

/// How a gateway under test is configured beyond its upstreams (the defaults: the memory
/// store at its default cap, reached at its own address).
#[derive(Debug, Default, Clone, Copy)]
pub struct Setup<'a> {
    /// `[store] max_open_transactions`, when not the default.
    pub max_open: Option<u64>,
    /// `[store] backend = "redis"` at this `redis_url`, sealed with the run's key.
    pub redis_url: Option<&'a str>,
    /// `[server] public_url`: the one address of several instances behind a balancer.
    pub public_url: Option<&'a str>,
}

impl Setup<'_> {
    /// The `[store]` table, empty for the defaults.
    fn store(&self, seal_key: &str) -> String {
        let mut store = String::new();
        if let Some(url) = self.redis_url {
            store += &format!(
                "backend = \"redis\"\nredis_url = \"{url}\"\nencryption_keys = [\"bench:{seal_key}\"]\n"
            );
        }
        if let Some(cap) = self.max_open {
            store += &format!("max_open_transactions = {cap}\n");
        }
        if store.is_empty() {
            store
        } else {
            format!("[store]\n{store}")
        }
    }
}

/// The upstreams, running.
pub struct Upstreams {
    /// The mock OP.
    pub op: Proc,
    /// The Appwrite emulator.
    pub appwrite: Proc,
    op_ready: Value,
    appwrite_ready: Value,
    /// Where temporary files go (gateway configurations).
    dir: PathBuf,
    /// The gateways' `[mapping] id_key`, the same for all, so every gateway derives the same
    /// user id and the floor can use it.
    id_key: String,
    /// The gateways' Redis sealing key (one for all, as a fleet needs).
    seal_key: String,
    alg: Alg,
}

impl Upstreams {
    /// Starts the OP (signing with `alg`) and the emulator, as `login-bench` subcommands.
    ///
    /// # Errors
    /// When either does not start.
    pub fn start(alg: Alg) -> Result<Self, StackError> {
        let me = std::env::current_exe().map_err(io("this program's path"))?;
        let mut op_command = Command::new(&me);
        let alg_name = clap::ValueEnum::to_possible_value(&alg)
            .map(|value| value.get_name().to_string())
            .unwrap_or_default();
        op_command.args(["op", "--alg", &alg_name]);
        let mut op = Proc::spawn("mock OP", op_command, false)?;
        let op_ready = op.ready()?;
        let mut appwrite_command = Command::new(&me);
        appwrite_command.arg("appwrite");
        let mut appwrite = Proc::spawn("Appwrite emulator", appwrite_command, false)?;
        let appwrite_ready = appwrite.ready()?;
        let dir = std::env::temp_dir().join(format!("login-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io("temporary folder"))?;
        let random_key = || {
            let mut key = [0u8; 32];
            rand::Rng::fill(&mut rand::thread_rng(), &mut key);
            base64::engine::general_purpose::STANDARD.encode(key)
        };
        Ok(Self {
            op,
            appwrite,
            op_ready,
            appwrite_ready,
            dir,
            id_key: random_key(),
            seal_key: random_key(),
            alg,
        })
    }

    /// The run's temporary folder (gateway configurations, a Redis socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The OP's port.
    pub fn op_port(&self) -> u16 {
        port_of(&text(&self.op_ready, "issuer"))
    }

    /// The emulator's port.
    pub fn appwrite_port(&self) -> u16 {
        port_of(&text(&self.appwrite_ready, "endpoint"))
    }

    /// Starts a gateway binary with a configuration for these upstreams and `setup`, and waits
    /// until its `/readyz` answers 200.
    ///
    /// # Errors
    /// When it does not start or never gets ready.
    pub fn gateway(
        &self,
        spec: &GatewaySpec,
        setup: &Setup<'_>,
        launch: Launch,
    ) -> Result<Target, StackError> {
        let port = free_port().map_err(io("a free port"))?;
        let url = format!("http://127.0.0.1:{port}");
        let store = setup.store(&self.seal_key);
        let config = format!(
            r#"[server]
listen = "127.0.0.1:{port}"
public_url = "{public_url}"
[appwrite]
endpoint = "{endpoint}"
project = "{project}"
api_key = "{api_key}"
[mapping]
id_key = "{id_key}"
[redirect]
allowed = ["{APP}"]
{store}[rate_limit]
per_ip_per_minute = 0
[providers.{PROVIDER}]
type = "oidc"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{client_secret}"
allowed_algs = ["{alg}"]
"#,
            public_url = setup.public_url.unwrap_or(&url),
            endpoint = text(&self.appwrite_ready, "endpoint"),
            project = text(&self.appwrite_ready, "project"),
            api_key = text(&self.appwrite_ready, "api_key"),
            id_key = self.id_key,
            issuer = text(&self.op_ready, "issuer"),
            client_id = text(&self.op_ready, "client_id"),
            client_secret = text(&self.op_ready, "client_secret"),
            alg = self.alg.jose(),
        );
        let file = self.dir.join(format!("{}.toml", spec.name));
        std::fs::write(&file, config).map_err(io("the gateway configuration"))?;
        let mut command = launch.command(&spec.path);
        command
            .arg("serve")
            .arg("--config")
            .arg(&file)
            .arg("--development")
            // The production default; the caller's RUST_LOG must not change what is measured.
            .env("RUST_LOG", "info")
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        let proc = Proc::spawn(&spec.name, command, true)?;
        wait_ready(&format!("{url}/readyz"), &spec.name)?;
        Ok(Target {
            ready_rss_kib: proc.memory_kib("VmRSS"),
            proc,
            url,
            gateway: true,
        })
    }

    /// Starts the floor next to `this` program, on a current-thread runtime or not, ending
    /// every login with `user_id`.
    ///
    /// # Errors
    /// When it does not start.
    pub fn floor(
        &self,
        current_thread: bool,
        user_id: &str,
        launch: Launch,
    ) -> Result<Target, StackError> {
        let floor = sibling("login-floor");
        let mut command = launch.command(&floor);
        let (op, appwrite) = (&self.op_ready, &self.appwrite_ready);
        for (flag, value) in [
            ("--op", text(op, "issuer")),
            ("--client-id", text(op, "client_id")),
            ("--client-secret", text(op, "client_secret")),
            ("--appwrite", text(appwrite, "endpoint")),
            ("--project", text(appwrite, "project")),
            ("--api-key", text(appwrite, "api_key")),
            ("--user-id", user_id.to_string()),
        ] {
            command.arg(flag).arg(value);
        }
        if current_thread {
            command.arg("--current-thread");
        }
        let name = if current_thread {
            "floor-ct"
        } else {
            "floor-mt"
        };
        let mut proc = Proc::spawn(name, command, false)?;
        let url = text(&proc.ready()?, "url");
        Ok(Target {
            ready_rss_kib: proc.memory_kib("VmRSS"),
            proc,
            url,
            gateway: false,
        })
    }
}

impl Drop for Upstreams {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(0)
}

/// Polls `readyz` (plain HTTP/1.1 over a socket: no runtime needed) for up to 30 s.
fn wait_ready(readyz: &str, name: &str) -> Result<(), StackError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if http_status(readyz) == Some(200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(StackError::Io(format!(
        "{name} did not answer 200 at {readyz} within 30 s (is the binary right, and does it start with this configuration?)"
    )))
}

/// The status of `GET url`, written by hand on a std socket (one request, `Connection: close`):
/// the driver's async client lives in the runtime, and this runs before it.
fn http_status(url: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let url = url::Url::parse(url).ok()?;
    let addr = (url.host_str()?, url.port()?);
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        url.path(),
        url.host_str()?
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// The path of a binary beside this one, or under `target/release` from the repository root.
pub fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .map(|me| me.with_file_name(name))
        .filter(|p| p.exists())
        .unwrap_or_else(|| Path::new("target/release").join(name))
}
