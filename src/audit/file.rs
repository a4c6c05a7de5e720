//! `[audit] file`: every event of target [`TARGET`](super::TARGET), one JSON object per line
//! (`timestamp` first, then the event's fields in the order the emitter gives them), appended
//! by tracing-appender's non-blocking writer: the request that decided never waits for the
//! disk.
//!
//! A line that cannot be written is lost from the file, never retried, and never changes a
//! decision (the event is in the normal log as well). Each loss is counted ([`FileStatus`],
//! exported as `idp_bridge_audit_file_failures_total`): `write` for a failed write (disk full,
//! file system gone), `queue_full` for a line dropped because the writer fell
//! [`QUEUE_LINES`] lines behind (a disk that hangs must not hold logins up). A failed write is
//! logged when the file stops being writable and again when it recovers, not for every line
//! (a full disk would flood the log).
//!
//! Must not: write anything but audit events to the file.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, Filtered};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::Context;

use super::TARGET;

/// Lines the writer may fall behind before new ones are dropped (and counted).
pub const QUEUE_LINES: usize = 128_000;

/// Opens `path` for appending, creating it (readable and writable by the gateway's user only:
/// events name users) when missing. `check-config` and `serve` both open it this way, so a
/// path that cannot be written is refused before the gateway serves.
///
/// # Errors
/// The operating system's, e.g. a missing folder or no permission.
pub fn open(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// How the audit file fares: the lines lost, by cause. Cheap to clone; read at each scrape.
#[derive(Clone)]
pub struct FileStatus {
    health: Arc<Health>,
    dropped: ErrorCounter,
}

impl FileStatus {
    /// Lines whose write failed.
    pub fn write_failures(&self) -> u64 {
        self.health.failures.load(Ordering::Relaxed)
    }

    /// Lines dropped because the writer was [`QUEUE_LINES`] behind.
    pub fn dropped_lines(&self) -> u64 {
        u64::try_from(self.dropped.dropped_lines()).unwrap_or(u64::MAX)
    }
}

/// The audit file in service: its layer (install it in the subscriber), the guard that
/// flushes the lines still queued when dropped (keep it until the process ends), and its
/// status.
pub struct AuditFile<S> {
    /// The tracing layer that writes the file.
    pub layer: Filtered<FileLayer<NonBlocking>, FilterFn, S>,
    /// Flushes the queue on drop.
    pub guard: WorkerGuard,
    /// Lines lost.
    pub status: FileStatus,
}

/// Opens `path` (see [`open`]) and starts its writer thread.
///
/// # Errors
/// When the file cannot be opened.
pub fn start<S>(path: &Path) -> io::Result<AuditFile<S>>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let health = Arc::new(Health::default());
    let sink = Sink {
        file: open(path)?,
        health: health.clone(),
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUE_LINES)
        .lossy(true)
        .thread_name("idp-bridge-audit")
        .finish(sink);
    let status = FileStatus {
        health,
        dropped: writer.error_counter(),
    };
    Ok(AuditFile {
        layer: layer(writer),
        guard,
        status,
    })
}

/// The layer writing audit events (and nothing else) to `writer`.
pub fn layer<S, W>(writer: W) -> Filtered<FileLayer<W>, FilterFn, S>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    FileLayer { writer }.with_filter(FilterFn::new(is_audit as fn(&Metadata<'_>) -> bool))
}

fn is_audit(meta: &Metadata<'_>) -> bool {
    meta.target() == TARGET
}

/// Writes each event it sees as one JSON line. Use it through [`layer`], which shows it
/// audit events only.
pub struct FileLayer<W> {
    writer: W,
}

impl<S, W> Layer<S> for FileLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut timestamp = String::new();
        // The log lines' own clock and format (RFC 3339, UTC), so both sides line up.
        if SystemTime
            .format_time(&mut Writer::new(&mut timestamp))
            .is_err()
        {
            timestamp.clear();
        }
        let mut fields = Fields(vec![("timestamp", Value::String(timestamp))]);
        event.record(&mut fields);
        // Lost lines are counted by the writer; the decision is never told.
        let _ = self
            .writer
            .make_writer()
            .write_all(fields.line().as_bytes());
    }
}

/// An event's fields, in the order they were recorded.
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    /// `{"name":value,...}` and a newline.
    fn line(&self) -> String {
        let mut line = String::from("{");
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&Value::from(*name).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push_str("}\n");
        line
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), Value::from(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.name(), Value::from(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.name(), Value::from(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.name(), Value::from(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name(), Value::from(format!("{value:?}"))));
    }
}

/// Whether the file is failing now, and how many writes failed.
#[derive(Default)]
struct Health {
    failing: AtomicBool,
    failures: AtomicU64,
}

/// The file, as the writer thread writes it: every failed write counted, and logged when the
/// file stops (or starts again) taking lines. Unbuffered: one write per line, so a line is
/// whole or lost, and a crash loses nothing already handed to the operating system.
struct Sink {
    file: File,
    health: Arc<Health>,
}

impl Write for Sink {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self.file.write(line) {
            Ok(written) => {
                if self.health.failing.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        "the audit file is written again; the lines in between are lost from it"
                    );
                }
                Ok(written)
            }
            Err(error) => {
                // Counted before it is logged: whoever reads the log line sees the count.
                self.health.failures.fetch_add(1, Ordering::Relaxed);
                if !self.health.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        %error,
                        "cannot write the audit file; its lines are lost (the events are still in the log) until it can be written again"
                    );
                }
                Err(error)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failed_write_is_counted_and_the_file_can_recover() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        drop(open(&path).expect("created"));
        let health = Arc::new(Health::default());
        // A file opened read-only refuses every write, as a full disk would.
        let mut sink = Sink {
            file: File::open(&path).expect("open"),
            health: health.clone(),
        };
        assert!(sink.write_all(b"{}\n").is_err());
        assert!(sink.write_all(b"{}\n").is_err());
        assert_eq!(health.failures.load(Ordering::Relaxed), 2);
        assert!(health.failing.load(Ordering::Relaxed));
        sink.file = open(&path).expect("writable again");
        sink.write_all(b"{}\n").expect("written");
        assert!(!health.failing.load(Ordering::Relaxed), "recovered");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{}\n");
    }
}
