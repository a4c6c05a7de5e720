//! The Redis a fleet of gateways shares: a `redis-server` process of the benchmark's own (a Unix
//! socket in the run's folder, no persistence, otherwise the server's defaults: no `maxmemory`
//! unless asked, `maxmemory-policy noeviction`), and what its `INFO` says: commands by name,
//! network bytes, memory.
//!
//! The benchmark reads `INFO` on a connection of its own, so each reading adds one `INFO`
//! command and its bytes to the server's counts; [`Info::since`] takes them out again, so that
//! what it reports is the gateways' traffic alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::Proc;
use crate::stack::StackError;

/// The sections one reading asks for (one command: Redis 7 takes several sections).
const SECTIONS: [&str; 4] = ["server", "stats", "memory", "commandstats"];

/// The fleet's `redis-server`, running.
pub struct RedisServer {
    /// The process.
    pub proc: Proc,
    socket: PathBuf,
    connection: redis::Connection,
}

impl RedisServer {
    /// Starts `redis-server` (`REDIS_SERVER`, or the one on `PATH`) on a socket in `dir`, with
    /// `maxmemory` when given, and connects to it.
    ///
    /// # Errors
    /// When it does not start or does not answer within 10 s.
    pub fn start(dir: &Path, maxmemory: Option<&str>) -> Result<Self, StackError> {
        let socket = dir.join("redis.sock");
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let mut command = Command::new(binary);
        command
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--unixsocket")
            .arg(&socket);
        if let Some(limit) = maxmemory {
            command.args(["--maxmemory", limit]);
        }
        let proc = Proc::spawn("redis-server", command, true)?;
        let client = redis::Client::open(format!("unix://{}", socket.display()))
            .map_err(|e| StackError::Io(format!("redis client: {e}")))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let connection = loop {
            match client.get_connection() {
                Ok(connection) => break connection,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => {
                    return Err(StackError::Io(format!(
                        "redis-server did not answer on {} within 10 s (is it installed?): {e}",
                        socket.display()
                    )));
                }
            }
        };
        Ok(Self {
            proc,
            socket,
            connection,
        })
    }

    /// `unix:///…/redis.sock`, for the gateways' `[store] redis_url`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Reads `INFO` (one command).
    ///
    /// # Errors
    /// When the server does not answer.
    pub fn info(&mut self) -> Result<Info, StackError> {
        let mut command = redis::cmd("INFO");
        for section in SECTIONS {
            command.arg(section);
        }
        let text: String = command
            .query(&mut self.connection)
            .map_err(|e| StackError::Io(format!("redis-server INFO: {e}")))?;
        let mut info = Info::parse(&text);
        // What this reading itself sent and received, as the server counts bytes: the request
        // (RESP array) and the reply (a bulk string: `$<length>\r\n<text>\r\n`).
        info.query_bytes = command.get_packed_command().len() as u64;
        info.reply_bytes = (text.len() + text.len().to_string().len() + 5) as u64;
        Ok(info)
    }
}

/// One reading of `INFO`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// `redis_version`.
    pub version: String,
    /// Calls so far by command (`cmdstat_<name>`; a subcommand reads `client|setinfo`).
    pub calls: BTreeMap<String, u64>,
    /// `total_net_input_bytes`: every byte clients sent.
    pub net_in: u64,
    /// `total_net_output_bytes`: every byte the server answered.
    pub net_out: u64,
    /// `used_memory`: what the allocator holds for data and overhead, in bytes.
    pub used_memory: u64,
    /// The bytes of the `INFO` request that made this reading.
    query_bytes: u64,
    /// The bytes of its reply.
    reply_bytes: u64,
}

/// The gateways' traffic between two readings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Calls by command.
    pub calls: BTreeMap<String, u64>,
    /// Bytes the gateways sent to Redis.
    pub net_in: u64,
    /// Bytes Redis sent the gateways.
    pub net_out: u64,
}

impl Usage {
    /// All calls.
    pub fn commands(&self) -> u64 {
        self.calls.values().sum()
    }
}

impl Info {
    /// Reads the `key:value` lines of an `INFO` reply; anything else is left out.
    fn parse(text: &str) -> Self {
        let mut info = Self::default();
        for (key, value) in text.lines().filter_map(|l| l.trim_end().split_once(':')) {
            let number = || value.parse().unwrap_or(0);
            match key {
                "redis_version" => info.version = value.to_string(),
                "total_net_input_bytes" => info.net_in = number(),
                "total_net_output_bytes" => info.net_out = number(),
                "used_memory" => info.used_memory = number(),
                _ => {
                    let calls = value
                        .split(',')
                        .find_map(|field| field.strip_prefix("calls="))
                        .and_then(|n| n.parse().ok());
                    if let (Some(name), Some(calls)) = (key.strip_prefix("cmdstat_"), calls) {
                        info.calls.insert(name.to_string(), calls);
                    }
                }
            }
        }
        info
    }

    /// What the gateways did between `before` and this reading. The server counted the
    /// benchmark's own part in between: `before`'s `INFO` call and reply (counted once that
    /// reading was done) and this reading's request (counted as it arrived); they are taken out.
    pub fn since(&self, before: &Info) -> Usage {
        let mut calls = BTreeMap::new();
        for (name, &now) in &self.calls {
            let mut made = now.saturating_sub(before.calls.get(name).copied().unwrap_or(0));
            if name == "info" {
                made = made.saturating_sub(1);
            }
            if made > 0 {
                calls.insert(name.clone(), made);
            }
        }
        Usage {
            calls,
            net_in: self
                .net_in
                .saturating_sub(before.net_in)
                .saturating_sub(self.query_bytes),
            net_out: self
                .net_out
                .saturating_sub(before.net_out)
                .saturating_sub(before.reply_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts of a redis-server 7.0 reply to `INFO server stats memory commandstats`.
    const BEFORE: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n\
        # Stats\r\ntotal_connections_received:3\r\ntotal_commands_processed:10\r\n\
        total_net_input_bytes:1000\r\ntotal_net_output_bytes:5000\r\n\r\n\
        # Memory\r\nused_memory:900000\r\nused_memory_human:878.91K\r\nused_memory_peak:950000\r\n\r\n\
        # Commandstats\r\n\
        cmdstat_info:calls=2,usec=202,usec_per_call=101.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_set:calls=5,usec=20,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n";

    #[test]
    fn an_info_reply_is_read_by_field_and_command() {
        let info = Info::parse(BEFORE);
        assert_eq!(info.version, "7.0.15");
        assert_eq!((info.net_in, info.net_out), (1000, 5000));
        assert_eq!(info.used_memory, 900_000);
        assert_eq!(
            info.calls,
            BTreeMap::from([
                ("client|setinfo".to_string(), 2),
                ("info".to_string(), 2),
                ("set".to_string(), 5),
            ])
        );
    }

    #[test]
    fn the_readings_own_commands_and_bytes_are_not_the_gateways() {
        let mut before = Info::parse(BEFORE);
        before.reply_bytes = 2715;
        let after_text = BEFORE
            .replace("total_net_input_bytes:1000", "total_net_input_bytes:1556")
            .replace("total_net_output_bytes:5000", "total_net_output_bytes:7815")
            .replace("cmdstat_info:calls=2", "cmdstat_info:calls=3")
            .replace("cmdstat_set:calls=5", "cmdstat_set:calls=9")
            + "cmdstat_getdel:calls=4,usec=9,usec_per_call=2.25,rejected_calls=0,failed_calls=0\r\n";
        let mut after = Info::parse(&after_text);
        after.query_bytes = 56;
        let usage = after.since(&before);
        // Only the gateways' 4 SETs and 4 GETDELs; 500 bytes in and 100 out are theirs.
        assert_eq!(
            usage.calls,
            BTreeMap::from([("getdel".to_string(), 4), ("set".to_string(), 4)])
        );
        assert_eq!(usage.commands(), 8);
        assert_eq!((usage.net_in, usage.net_out), (500, 100));
    }
}
