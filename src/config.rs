//! Configuration: one TOML file, `IDP_BRIDGE_<SECTION>__<KEY>` environment overrides, and
//! `*_file` keys that name a file holding a secret.
//!
//! Loading goes: figment (file + env) → JSON tree → `*_file` keys resolved → typed raw sections
//! (`deny_unknown_fields`, so typos are errors) → [`Config`], with every problem collected and
//! reported at once, each naming its key (`token.length: 200 is outside 4..=128`).
//! Owns: parsing and validation. Must not: touch the network (check-config runs offline).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use idp_provider_api::url_rule::secure_url;
use idp_provider_api::{ConfigProblem, OpenContext, OutboundTls, ProviderInfo, Secret};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::login::policy::ConfiguredProvider;
use crate::login::redirect::{AllowList, Delivery};
use crate::login::user_id::IdKey;
use crate::registry;

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
    /// `[tls]`: the CAs every outbound HTTPS connection (Appwrite, providers) trusts.
    pub tls: OutboundTls,
    /// `[providers.*]`, opened, in id order.
    pub providers: Vec<ConfiguredProvider>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let providers: Vec<(&ProviderInfo, _)> = self
            .providers
            .iter()
            .map(|p| (p.provider.info(), p.policy))
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
            .field("tls", &self.tls)
            .field("providers", &providers)
            .finish()
    }
}

/// `[server]`: where the gateway listens and how it is reached.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Socket address to bind.
    pub listen: SocketAddr,
    /// External base URL, without a trailing slash; callbacks are `{public_url}/v1/auth/{id}/callback`.
    pub public_url: Url,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// `[appwrite]`: the project and the server key the gateway mints with.
#[derive(Debug, Clone)]
pub struct AppwriteConfig {
    /// API base, e.g. `https://cloud.appwrite.io/v1`, without a trailing slash.
    pub endpoint: Url,
    /// Project id (`X-Appwrite-Project`).
    pub project: String,
    /// Server API key with users.read and users.write.
    pub api_key: Secret<String>,
    /// Timeout of each call.
    pub timeout: Duration,
}

/// `[token]`: how the Appwrite custom token is minted.
#[derive(Debug, Clone, Copy)]
pub struct TokenConfig {
    /// Secret length, 4..=128.
    pub length: u32,
    /// Lifetime in seconds, 60..=31536000.
    pub expire_seconds: u32,
}

/// `[redirect]`: where browsers may be sent and how the secret travels.
#[derive(Debug, Clone)]
pub struct RedirectConfig {
    /// Allowed success and failure URLs.
    pub allowed: AllowList,
    /// Query or fragment.
    pub delivery: Delivery,
}

/// `[store]`: where login transactions live between start and callback.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Which backend.
    pub backend: StoreBackend,
    /// How long a login may take, at most 10 minutes.
    pub transaction_ttl: Duration,
    /// Cap on open logins, so a flood of `start` cannot exhaust memory.
    pub max_open_transactions: u64,
}

/// The transaction store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// In-process (one gateway instance).
    #[default]
    Memory,
    /// Redis, for several instances behind a load balancer.
    Redis,
}

/// `[mapping]`: how identities become Appwrite users.
#[derive(Debug, Clone)]
pub struct MappingConfig {
    /// Keys the derived user ids; changing it orphans every existing user.
    pub id_key: IdKey,
}

/// `[rate_limit]`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitConfig {
    /// Requests to start, callback and exchange per client IP per minute; 0 turns it off.
    pub per_ip_per_minute: u32,
}

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

// ---- raw sections, as written in the file -------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    appwrite: RawAppwrite,
    #[serde(default)]
    token: RawToken,
    #[serde(default)]
    redirect: RawRedirect,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    mapping: RawMapping,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    providers: BTreeMap<String, Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    public_url: Option<String>,
    trusted_proxies: Vec<String>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            trusted_proxies: vec![],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAppwrite {
    endpoint: Option<String>,
    project: Option<String>,
    api_key: Option<Secret<String>>,
    timeout_ms: i64,
}

impl Default for RawAppwrite {
    fn default() -> Self {
        Self {
            endpoint: None,
            project: None,
            api_key: None,
            timeout_ms: 5000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawToken {
    length: i64,
    expire_seconds: i64,
}

impl Default for RawToken {
    fn default() -> Self {
        Self {
            length: 64,
            expire_seconds: 60,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawRedirect {
    allowed: Vec<String>,
    delivery: Delivery,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    backend: StoreBackend,
    redis_url: Option<String>,
    transaction_ttl_seconds: i64,
    max_open_transactions: i64,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Memory,
            redis_url: None,
            transaction_ttl_seconds: 600,
            max_open_transactions: 100_000,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMapping {
    id_key: Option<Secret<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRateLimit {
    per_ip_per_minute: i64,
}

impl Default for RawRateLimit {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 120,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    format: LogFormat,
}

/// `[tls]`: outbound HTTPS only (the gateway itself serves plain HTTP behind a proxy).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    /// A PEM bundle of extra CAs, relative paths from the config file's folder.
    extra_ca_file: Option<String>,
}

// ---- loading ------------------------------------------------------------------------------

impl Config {
    /// Loads `path`, applies environment overrides from the process environment, validates.
    ///
    /// # Errors
    /// `Read` when the file is missing or not TOML; `Invalid` with every bad key otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Read(format!(
                "{}: no such file",
                path.display()
            )));
        }
        let figment = Figment::new()
            .merge(Toml::file_exact(path))
            .merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]));
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_figment(figment, &base)
    }

    /// Parses a TOML text (no environment), for tests and `check-config` of inline snippets.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(text)), Path::new("."))
    }

    fn from_figment(figment: Figment, base: &Path) -> Result<Self, ConfigError> {
        let mut tree: Value = figment
            .extract()
            .map_err(|e| ConfigError::Read(without_source_lines(&e.to_string())))?;
        let mut problems = Vec::new();
        resolve_secret_files(&mut tree, "", base, &mut problems);
        let raw: Raw = match serde_path_to_error::deserialize(tree) {
            Ok(raw) => raw,
            Err(e) => {
                let path = e.path().to_string();
                let key = if path == "." {
                    "(top level)".to_string()
                } else {
                    path
                };
                problems.push(ConfigProblem::new(key, e.into_inner().to_string()));
                return Err(ConfigError::Invalid(problems));
            }
        };
        let config = validate(raw, base, &mut problems);
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid(problems)),
        }
    }
}

/// Keys that hold secrets and may therefore be given as `<key>_file`.
const SECRET_KEYS: [&str; 3] = ["api_key", "client_secret", "id_key"];

/// A TOML or figment error without the source lines it quotes (`6 | api_key = ...`): the
/// quoted line may hold a secret. Line and column stay in the message.
fn without_source_lines(text: &str) -> String {
    text.lines()
        .filter(|line| {
            let rest = line
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit());
            !rest.trim_start().starts_with('|')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replaces every `<secret>_file = "path"` (for the keys in [`SECRET_KEYS`]) by `<secret> =
/// <file contents, trailing newline trimmed>`, relative paths resolved against the config
/// file's folder. Giving both, or an empty or unreadable file, is a problem.
fn resolve_secret_files(
    tree: &mut Value,
    prefix: &str,
    base: &Path,
    problems: &mut Vec<ConfigProblem>,
) {
    let Value::Object(map) = tree else { return };
    let file_keys: Vec<String> = map
        .keys()
        .filter(|k| {
            SECRET_KEYS
                .iter()
                .any(|secret| k.strip_suffix("_file") == Some(secret))
                && map.get(k.as_str()).is_some_and(Value::is_string)
        })
        .cloned()
        .collect();
    for file_key in file_keys {
        let name = file_key.trim_end_matches("_file").to_string();
        let full = format!("{prefix}{file_key}");
        let Some(Value::String(file)) = map.remove(&file_key) else {
            continue;
        };
        if map.contains_key(&name) {
            problems.push(ConfigProblem::new(
                full,
                format!("give either {prefix}{name} or {prefix}{file_key}, not both"),
            ));
            continue;
        }
        let path = if Path::new(&file).is_absolute() {
            PathBuf::from(&file)
        } else {
            base.join(&file)
        };
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => problems.push(ConfigProblem::new(
                full,
                format!("{} is empty", path.display()),
            )),
            Ok(text) => {
                map.insert(
                    name,
                    Value::String(text.trim_end_matches(['\n', '\r']).to_string()),
                );
            }
            Err(e) => problems.push(ConfigProblem::new(
                full,
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }
    for (key, value) in map.iter_mut() {
        resolve_secret_files(value, &format!("{prefix}{key}."), base, problems);
    }
}

fn validate(raw: Raw, base: &Path, problems: &mut Vec<ConfigProblem>) -> Option<Config> {
    let mut p = |key: &str, reason: String| problems.push(ConfigProblem::new(key, reason));

    let extra_ca_file = raw.tls.extra_ca_file.as_deref().map(|file| base.join(file));
    let tls = OutboundTls::new(extra_ca_file.as_deref())
        .map_err(|e| {
            let key = if extra_ca_file.is_some() {
                "tls.extra_ca_file"
            } else {
                "tls"
            };
            p(key, e.to_string());
        })
        .ok();

    let listen = raw
        .server
        .listen
        .parse::<SocketAddr>()
        .map_err(|e| {
            p(
                "server.listen",
                format!("{:?} is not an address:port: {e}", raw.server.listen),
            )
        })
        .ok();
    let public_url_text = raw
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", raw.server.listen));
    let derived = if raw.server.public_url.is_none() {
        " (derived from server.listen because server.public_url is not set; set it to the URL browsers use)"
    } else {
        ""
    };
    let public_url = parse_base_url(&public_url_text)
        .map_err(|reason| p("server.public_url", format!("{reason}{derived}")))
        .ok();
    let mut trusted_proxies = Vec::new();
    for cidr in &raw.server.trusted_proxies {
        match cidr
            .parse::<IpNet>()
            .or_else(|_| cidr.parse::<std::net::IpAddr>().map(IpNet::from))
        {
            Ok(net) if net.prefix_len() == 0 => p(
                "server.trusted_proxies",
                format!(
                    "{cidr:?} trusts every address: any client could then choose its own IP with X-Forwarded-For"
                ),
            ),
            Ok(net) => trusted_proxies.push(net),
            Err(e) => p(
                "server.trusted_proxies",
                format!("{cidr:?} is not a CIDR: {e}"),
            ),
        }
    }

    let endpoint = match &raw.appwrite.endpoint {
        None => {
            p("appwrite.endpoint", "is required".into());
            None
        }
        Some(text) => parse_base_url(text)
            .and_then(|url| {
                if url.path().ends_with("/v1") {
                    Ok(url)
                } else {
                    Err(format!("{text:?} must be the API base ending in /v1, e.g. https://cloud.appwrite.io/v1"))
                }
            })
            .map_err(|reason| p("appwrite.endpoint", reason))
            .ok(),
    };
    let project = match raw.appwrite.project.as_deref() {
        None | Some("") => {
            p("appwrite.project", "is required".into());
            None
        }
        Some(id) if !crate::login::mapping::is_valid_appwrite_id(id) => {
            p(
                "appwrite.project",
                format!("{id:?} is not a valid Appwrite project id"),
            );
            None
        }
        Some(id) => Some(id.to_string()),
    };
    let api_key = match raw.appwrite.api_key {
        Some(key) if !key.expose().is_empty() => Some(key),
        _ => {
            p(
                "appwrite.api_key",
                "is required (or appwrite.api_key_file); it needs users.read and users.write"
                    .into(),
            );
            None
        }
    };
    let timeout_ms = in_range(
        &mut p,
        "appwrite.timeout_ms",
        raw.appwrite.timeout_ms,
        100,
        60_000,
    );

    let length = in_range(&mut p, "token.length", raw.token.length, 4, 128);
    let expire = in_range(
        &mut p,
        "token.expire_seconds",
        raw.token.expire_seconds,
        60,
        31_536_000,
    );

    let allowed = match AllowList::parse(&raw.redirect.allowed) {
        Ok(list) => Some(list),
        Err(reasons) => {
            for reason in reasons {
                p("redirect.allowed", reason);
            }
            None
        }
    };

    if raw.store.backend == StoreBackend::Redis {
        p(
            "store.backend",
            "\"redis\" is not available in this version; use \"memory\"".into(),
        );
    }
    if raw.store.redis_url.is_some() && raw.store.backend != StoreBackend::Redis {
        p(
            "store.redis_url",
            "is set but store.backend is not \"redis\"".into(),
        );
    }
    let ttl = in_range(
        &mut p,
        "store.transaction_ttl_seconds",
        raw.store.transaction_ttl_seconds,
        30,
        600,
    );
    let max_open = in_range(
        &mut p,
        "store.max_open_transactions",
        raw.store.max_open_transactions,
        1,
        10_000_000,
    );
    let id_key = match raw.mapping.id_key {
        None => {
            p(
                "mapping.id_key",
                "is required (or mapping.id_key_file): a secret of at least 32 random bytes, base64, that keys the derived user ids; make one with `idp-bridge gen-key` or `openssl rand -base64 32`, and never change it once users exist".into(),
            );
            None
        }
        Some(text) => IdKey::parse(text.expose())
            .map_err(|e| p("mapping.id_key", e.to_string()))
            .ok(),
    };
    let per_minute = in_range(
        &mut p,
        "rate_limit.per_ip_per_minute",
        raw.rate_limit.per_ip_per_minute,
        0,
        1_000_000,
    );

    let mut providers = Vec::new();
    if raw.providers.is_empty() {
        p(
            "providers",
            "configure at least one provider, e.g. [providers.corp] with type = \"oidc\"".into(),
        );
    }
    // With a bad extra_ca_file, providers are still checked (against the system roots alone).
    let context = tls.clone().or_else(|| OutboundTls::new(None).ok());
    for (id, table) in raw.providers {
        let Some(context) = context.clone().map(OpenContext::new) else {
            break;
        };
        match registry::open(&id, table, &context) {
            Ok(provider) => providers.push(provider),
            Err(found) => problems.extend(found),
        }
    }

    Some(Config {
        server: ServerConfig {
            listen: listen?,
            public_url: public_url?,
            trusted_proxies,
        },
        appwrite: AppwriteConfig {
            endpoint: endpoint?,
            project: project?,
            api_key: api_key?,
            timeout: Duration::from_millis(timeout_ms?),
        },
        token: TokenConfig {
            length: u32::try_from(length?).ok()?,
            expire_seconds: u32::try_from(expire?).ok()?,
        },
        redirect: RedirectConfig {
            allowed: allowed?,
            delivery: raw.redirect.delivery,
        },
        store: StoreConfig {
            backend: raw.store.backend,
            transaction_ttl: Duration::from_secs(ttl?),
            max_open_transactions: max_open?,
        },
        mapping: MappingConfig { id_key: id_key? },
        rate_limit: RateLimitConfig {
            per_ip_per_minute: u32::try_from(per_minute?).ok()?,
        },
        log: LogConfig {
            format: raw.log.format,
        },
        tls: tls?,
        providers,
    })
}

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

/// A base URL (public_url, Appwrite endpoint): https, or http on a loopback host; no query,
/// fragment or credentials; returned without a trailing slash.
fn parse_base_url(text: &str) -> Result<Url, String> {
    let mut url = secure_url(text, false).map_err(|e| format!("{text:?} {e}"))?;
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}
