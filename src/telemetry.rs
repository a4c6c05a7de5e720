//! Log setup: tracing to stdout, JSON or pretty per `[log].format`, level from `RUST_LOG`
//! (default `info`). Each request's lines carry its `request_id` through the request span.
//! With `[audit] file`, the audit events also go to their own file ([`crate::audit::file`]),
//! whatever `RUST_LOG` says: the level filter applies to the log alone.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::audit::AuditConfig;
use crate::audit::file::FileStatus;
use crate::config::LogFormat;

/// The logging of the process, once set up. Keep it until the process ends: dropping it
/// writes out the audit lines still queued.
pub struct Telemetry {
    /// The audit file's lost lines (for the metrics), when there is an audit file.
    pub audit_file: Option<FileStatus>,
    _audit_guard: Option<WorkerGuard>,
}

/// Installs the global subscriber with the log alone (no audit file): for the demo and for
/// programs that embed the gateway. Call once.
pub fn init(format: LogFormat) {
    // Without an audit file nothing is opened, so nothing can fail.
    let _ = init_with_audit(format, &AuditConfig::default());
}

/// Installs the global subscriber: the log, and `[audit] file` when set. Call once, first
/// thing in `main` once the configuration is loaded.
///
/// # Errors
/// When `[audit] file` cannot be opened (the configuration check opened it a moment ago, so
/// something changed it meanwhile).
pub fn init_with_audit(format: LogFormat, audit: &AuditConfig) -> std::io::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let log = tracing_subscriber::fmt::layer().with_target(true);
    let log = match format {
        LogFormat::Json => log
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => log.with_filter(filter).boxed(),
    };
    let file = audit
        .file
        .as_deref()
        .map(crate::audit::file::start)
        .transpose()?;
    let (layer, guard, status) = match file {
        Some(file) => (Some(file.layer), Some(file.guard), Some(file.status)),
        None => (None, None, None),
    };
    if let Err(e) = tracing_subscriber::registry()
        .with(log)
        .with(layer)
        .try_init()
    {
        eprintln!("logging was already initialised: {e}");
    }
    Ok(Telemetry {
        audit_file: status,
        _audit_guard: guard,
    })
}
