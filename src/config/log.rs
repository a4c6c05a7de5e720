//! `[log]`: the log line format.

use serde::Deserialize;

/// `[log]`.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// Line format.
    pub format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable.
    Pretty,
}

/// `[log]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    format: LogFormat,
}

impl RawLog {
    /// Nothing to check: serde already refused unknown formats.
    pub(super) fn validate(self) -> LogConfig {
        LogConfig {
            format: self.format,
        }
    }
}
