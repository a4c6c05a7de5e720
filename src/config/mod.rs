//! Configuration: one TOML file, `IDP_BRIDGE_<SECTION>__<KEY>` environment overrides, and
//! `*_file` keys that name a file holding a secret.
//!
//! Loading goes: figment (file + env) → JSON tree → `*_file` keys resolved → typed raw sections
//! (`deny_unknown_fields`, so typos are errors; a value of the wrong type is reported in plain
//! words and taken out, so the rest is still checked) → [`Config`], with every problem
//! collected and reported at once, each naming its key (`token.length: 200 is outside
//! 4..=128`), and the environment variable that set it (`env`).
//! One module per section owns its raw struct and its checks, and either its validated struct
//! (`server`, `mapping`, `rate_limit`, `log`) or builds the one its consumer defines
//! (`appwrite` and `token` → [`crate::appwrite`], `redirect` → [`crate::return_urls`], `store` →
//! [`crate::store`], `audit` → [`crate::audit`], `tls` → `OutboundTls`). `source` reads the
//! file, the environment and the `*_file` keys; `warnings` finds what is valid but worth a
//! word; `load` turns the file and the environment into the whole. This module holds the
//! whole: [`Config`].
//! Owns: parsing and validation. Must not: touch the network (check-config runs offline);
//! the file system only to read `*_file` secrets and CA bundles and to open `[audit] file`.

mod appwrite;
mod audit;
mod load;
mod log;
mod mapping;
mod rate_limit;
mod redirect;
mod server;
mod source;
mod store;
mod tls;
mod token;
mod warnings;

use std::fmt;
use std::sync::Arc;

use idp_provider_api::{ConfigProblem, OutboundTls, ProviderInfo};

pub use crate::appwrite::{AppwriteConfig, TokenConfig};
pub use crate::audit::AuditConfig;
use crate::login::policy::ConfiguredProvider;
use crate::metrics::ProviderEventRelay;
pub use crate::return_urls::RedirectConfig;
pub use crate::store::{StoreBackend, StoreConfig};
pub use log::{LogConfig, LogFormat};
pub use mapping::MappingConfig;
pub use rate_limit::RateLimitConfig;
pub use server::{
    DEFAULT_HEADER_READ_TIMEOUT_SECONDS, DEFAULT_LISTEN, DEFAULT_WORKER_THREADS, ServerConfig,
};

/// Prefix of environment overrides; `__` separates nesting levels.
pub const ENV_PREFIX: &str = "IDP_BRIDGE_";

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or not valid TOML.
    #[error("cannot read the configuration: {0}")]
    Read(String),
    /// One or more keys are wrong.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigProblem>),
}

impl ConfigError {
    /// The individual problems (one for a read error).
    pub fn problems(&self) -> Vec<String> {
        match self {
            Self::Read(e) => vec![e.clone()],
            Self::Invalid(p) => p.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The validated configuration, with every provider opened (offline).
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[appwrite]`.
    pub appwrite: AppwriteConfig,
    /// `[token]`.
    pub token: TokenConfig,
    /// `[redirect]`.
    pub redirect: RedirectConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[mapping]`.
    pub mapping: MappingConfig,
    /// `[rate_limit]`.
    pub rate_limit: RateLimitConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[audit]`.
    pub audit: AuditConfig,
    /// `[tls]`: the CAs every outbound HTTPS connection (Appwrite, providers) trusts.
    pub tls: OutboundTls,
    /// `[providers.*]`, opened, in id order.
    pub providers: Vec<ConfiguredProvider>,
    /// Where those providers report their events (key fetches): connect it to the metrics
    /// when the providers go into service (`startup` does), or the events are dropped.
    pub provider_events: Arc<ProviderEventRelay>,
    /// Values that are valid but look unintended (placeholders, example domains, an empty
    /// CORS list): `check-config` shows them, `serve` refuses them without `--development`.
    pub warnings: Vec<ConfigProblem>,
    /// Values that are valid and may be meant, with a consequence the operator should know
    /// (two providers on one issuer): `check-config` shows them as warnings, `serve` and every
    /// reload log them ([`Config::log_notices`]) and go on.
    pub notices: Vec<ConfigProblem>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let providers: Vec<(&ProviderInfo, _)> = self
            .providers
            .iter()
            .map(|p| (p.provider.info(), &p.policy))
            .collect();
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("appwrite", &self.appwrite)
            .field("token", &self.token)
            .field("redirect", &self.redirect)
            .field("store", &self.store)
            .field("mapping", &self.mapping)
            .field("rate_limit", &self.rate_limit)
            .field("log", &self.log)
            .field("audit", &self.audit)
            .field("tls", &self.tls)
            .field("providers", &providers)
            .finish()
    }
}

impl Config {
    /// Logs each of [`Config::notices`] as a warning: `serve` at start and after every reload.
    pub fn log_notices(&self) {
        for notice in &self.notices {
            tracing::warn!(
                key = notice.key,
                reason = notice.reason,
                "configuration warning (serving anyway)"
            );
        }
    }
}

/// Whether `key` is `outer` or a key inside it (`a.b` and `a.b[0]` are within `a.b`).
pub(super) fn within(key: &str, outer: &str) -> bool {
    key.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// `value` as a `u64` when it lies in `min..=max`; otherwise a problem for `key`.
fn in_range(
    p: &mut impl FnMut(&str, String),
    key: &str,
    value: i64,
    min: i64,
    max: i64,
) -> Option<u64> {
    if (min..=max).contains(&value) {
        u64::try_from(value).ok()
    } else {
        p(key, format!("{value} is outside {min}..={max}"));
        None
    }
}
