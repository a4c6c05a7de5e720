//! The processes under test: spawning them, their `READY` line, and what `/proc` says about
//! them (CPU time, resident memory and its peak, TCP connections) and about the machine.
//!
//! Hand-written `/proc` parsing: a few fields of a few files, not worth a crate.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

/// Why a process could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// It could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// Which process.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It ended or spoke out of turn.
    #[error("{what}: {detail}")]
    Protocol {
        /// Which process.
        what: String,
        /// What went wrong.
        detail: String,
    },
}

/// A child process, killed when dropped.
pub struct Proc {
    /// Its name in reports.
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Proc {
    /// Starts `command` with stdin and stdout piped (the control protocol) and stderr
    /// discarded, or, when `quiet`, stdout discarded too (the gateway's log).
    ///
    /// # Errors
    /// When the process cannot be started.
    pub fn spawn(name: &str, mut command: Command, quiet: bool) -> Result<Proc, ProcError> {
        command
            .stdin(Stdio::piped())
            .stdout(if quiet { Stdio::null() } else { Stdio::piped() })
            .stderr(Stdio::null());
        let mut child = command.spawn().map_err(|source| ProcError::Spawn {
            what: name.to_string(),
            source,
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(Proc {
            name: name.to_string(),
            child,
            stdin,
            stdout,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn protocol(&self, detail: impl Into<String>) -> ProcError {
        ProcError::Protocol {
            what: self.name.clone(),
            detail: detail.into(),
        }
    }

    /// The next line the process prints.
    fn line(&mut self) -> Result<String, ProcError> {
        let mut line = String::new();
        let read = match self.stdout.as_mut() {
            Some(stdout) => stdout.read_line(&mut line),
            None => return Err(self.protocol("its output is not read")),
        };
        match read {
            Ok(0) | Err(_) => Err(self.protocol("ended before answering")),
            Ok(_) => Ok(line.trim_end().to_string()),
        }
    }

    /// Waits for `READY <json>` and returns the JSON.
    ///
    /// # Errors
    /// When the process ends first or prints something else.
    pub fn ready(&mut self) -> Result<Value, ProcError> {
        let line = self.line()?;
        line.strip_prefix("READY ")
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or_else(|| self.protocol(format!("expected READY <json>, got {line:?}")))
    }

    /// Sends `command` and returns the JSON line it answers.
    ///
    /// # Errors
    /// When the process is gone or answers something else.
    pub fn ask(&mut self, command: &str) -> Result<Value, ProcError> {
        let sent = self
            .stdin
            .as_mut()
            .map(|stdin| writeln!(stdin, "{command}").and_then(|()| stdin.flush()));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.protocol("does not take commands"));
        }
        let line = self.line()?;
        serde_json::from_str(&line).map_err(|_| self.protocol(format!("answered {line:?}")))
    }

    /// User + system CPU time so far, in clock ticks (`/proc/<pid>/stat` fields 14 and 15).
    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks(self.pid())
    }

    /// A memory figure of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        memory_kib(self.pid(), field)
    }

    /// Starts the peak (`VmHWM`) over from the current resident memory, so that the next
    /// reading is the peak since now (`/proc/<pid>/clear_refs`; the process is ours).
    ///
    /// # Errors
    /// When the kernel refuses.
    pub fn reset_peak(&self) -> std::io::Result<()> {
        reset_peak(self.pid())
    }

    /// The local ports of this process's TCP connections to `remote_port` on loopback.
    pub fn connections_to(&self, remote_port: u16) -> BTreeSet<u16> {
        connections_to(self.pid(), remote_port)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Closing stdin ends the upstreams; the gateway and the floor are killed.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks per second of `/proc` CPU times (`getconf CLK_TCK`); 100 on every Linux this
/// runs on (USER_HZ is fixed at 100 for user space).
pub const TICKS_PER_SECOND: f64 = 100.0;

fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start with field 3.
    let Some((_, after)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn memory_kib(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|kib| kib.parse().ok())
            })
        })
        .unwrap_or(0)
}

fn reset_peak(pid: u32) -> std::io::Result<()> {
    // "5": reset the peak resident set size to the current one (proc(5), clear_refs).
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
}

/// The machine, for a report's header: CPU model, the CPUs this process may use, kernel and
/// memory, e.g. `AMD EPYC, 2 CPUs, Linux 6.1.0, 23.5 GiB RAM`.
pub fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    describe_machine(
        &read("/proc/cpuinfo"),
        &read("/proc/meminfo"),
        read("/proc/sys/kernel/osrelease").trim(),
        cpus,
    )
}

fn describe_machine(cpuinfo: &str, meminfo: &str, kernel: &str, cpus: usize) -> String {
    let field = |text: &str, name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_string())
        })
    };
    let model = field(cpuinfo, "model name").unwrap_or_else(|| "unknown CPU".into());
    let memory_kib: f64 = field(meminfo, "MemTotal")
        .and_then(|m| m.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    format!(
        "{model}, {cpus} CPUs, Linux {kernel}, {:.1} GiB RAM",
        memory_kib / 1024.0 / 1024.0
    )
}

/// Socket inodes of the process (`/proc/<pid>/fd/* -> socket:[inode]`), matched against the
/// system's TCP table (`/proc/net/tcp`, hex `addr:port` columns, state `01` = established).
fn connections_to(pid: u32, remote_port: u16) -> BTreeSet<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let port = |addr: &str| {
        addr.rsplit_once(':')
            .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state, inode) = (
                fields.get(1)?,
                fields.get(2)?,
                fields.get(3)?,
                fields.get(9)?,
            );
            (*state == "01" && port(remote) == Some(remote_port) && inodes.contains(*inode))
                .then(|| port(local))
                .flatten()
        })
        .collect()
}

/// A free loopback port (bound, then released: the process under test binds it next).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()
        .map(|a| a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_its_own_figures() {
        let me = std::process::id();
        assert!(memory_kib(me, "VmRSS") > 0);
        assert!(memory_kib(me, "VmHWM") >= memory_kib(me, "VmRSS"));
        // Spinning until the ticks move, not for a fixed time: on a busy machine 60 ms of wall
        // time may hold less than one tick of this process's CPU. The minute is a guard.
        let start = cpu_ticks(me);
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_ticks(me) == start && spin.elapsed() < std::time::Duration::from_secs(60) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert!(cpu_ticks(me) > start, "spinning shows as CPU ticks");
    }

    #[test]
    fn the_peak_starts_over_from_the_current_memory() {
        let me = std::process::id();
        // 64 MiB touched and freed (a mapping of its own, returned at once): the peak stays.
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        drop(block);
        let peak = memory_kib(me, "VmHWM");
        assert!(
            peak > memory_kib(me, "VmRSS") + 32 * 1024,
            "the block shows in the peak"
        );
        reset_peak(me).expect("clear_refs");
        assert!(memory_kib(me, "VmHWM") + 32 * 1024 < peak);
    }

    #[test]
    fn the_machine_is_named_by_model_cpus_kernel_and_memory() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        let meminfo = "MemTotal:       24683520 kB\nMemFree:         4629504 kB\n";
        assert_eq!(
            describe_machine(cpuinfo, meminfo, "6.1.0-18-amd64", 2),
            "AMD EPYC 7B13, 2 CPUs, Linux 6.1.0-18-amd64, 23.5 GiB RAM"
        );
        assert_eq!(
            describe_machine("", "", "6.1.0", 1),
            "unknown CPU, 1 CPUs, Linux 6.1.0, 0.0 GiB RAM"
        );
    }

    #[test]
    fn a_connection_is_found_by_its_remote_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let local = client.local_addr().expect("local").port();
        let (_server, _) = listener.accept().expect("accept");
        assert_eq!(
            connections_to(std::process::id(), port),
            BTreeSet::from([local])
        );
        assert!(connections_to(std::process::id(), free_port().expect("port")).is_empty());
    }
}
