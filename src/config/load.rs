//! Loading: the file and the environment read (figment), `*_file` secrets resolved, unknown
//! keys taken out, each section's raw struct read and validated, the providers opened, and
//! every problem collected into one [`ConfigError`]. Also the two keys read alone before the
//! whole file (`server.worker_threads`, `server.listen`).
//! Must not: hold a section's rules (each section's module does) or touch the network.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use figment::Figment;
use figment::providers::{Format, Toml};
use idp_provider_api::deserialize;
use idp_provider_api::{ConfigProblem, OpenContext, OutboundTls};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::source::{
    FileText, environment, name_env_sources, resolve_secret_files, sources, without_source_lines,
};
use super::{
    Config, ConfigError, DEFAULT_LISTEN, appwrite, audit, log, mapping, rate_limit, redirect,
    server, store, tls, token, warnings, within,
};
use crate::key_names;
use crate::metrics::ProviderEventRelay;
use crate::registry::{self, Registry};

/// The file as written: one raw struct per section, each in its section's module.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    server: server::RawServer,
    #[serde(default)]
    appwrite: appwrite::RawAppwrite,
    #[serde(default)]
    token: token::RawToken,
    #[serde(default)]
    redirect: redirect::RawRedirect,
    #[serde(default)]
    store: store::RawStore,
    #[serde(default)]
    mapping: mapping::RawMapping,
    #[serde(default)]
    rate_limit: rate_limit::RawRateLimit,
    #[serde(default)]
    log: log::RawLog,
    #[serde(default)]
    audit: audit::RawAudit,
    #[serde(default)]
    tls: tls::RawTls,
    #[serde(default)]
    providers: BTreeMap<String, Map<String, Value>>,
}

impl Config {
    /// Loads `path`, applies environment overrides from the process environment, validates.
    ///
    /// # Errors
    /// `Read` when the file is missing or not TOML; `Invalid` with every bad key otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &Registry::default())
    }

    /// [`Config::load`] with the provider types of `registry`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(path: &Path, registry: &Registry) -> Result<Self, ConfigError> {
        Self::from_file_bytes(path, &Self::read_file(path)?, registry)
    }

    /// The bytes of the configuration file `path`, read once, for [`Config::from_file_bytes`].
    ///
    /// # Errors
    /// `Read` when `path` is not a file or cannot be read.
    pub fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Read(format!(
                "{}: no such file",
                path.display()
            )));
        }
        std::fs::read(path).map_err(|e| ConfigError::Read(format!("{}: {e}", path.display())))
    }

    /// The configuration file `path` as read into `bytes`, with the environment overrides over
    /// it, and relative `*_file` paths resolved against `path`'s folder. Nothing reads the file
    /// again, so a caller that hashed `bytes` (a reload logs the checksum) gets the configuration
    /// of exactly those bytes, even if the file changes meanwhile.
    ///
    /// # Errors
    /// As [`Config::load`]; `Read` also when the bytes are not UTF-8 text.
    pub fn from_file_bytes(
        path: &Path,
        bytes: &[u8],
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ConfigError::Read(format!("{}: not UTF-8 text ({e})", path.display())))?;
        let figment = Figment::new()
            .merge(FileText { path, text })
            .merge(environment());
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_figment(figment, &base, registry)
            .map_err(|e| name_env_sources(e, std::env::vars()))
    }

    /// `[server] worker_threads` of `path` and the environment, read alone and before the whole
    /// file, so that the runtime it chooses exists while the rest loads (SIGHUP must be claimed
    /// in it first). `None` when the key is absent or unreadable: [`Config::load`] then uses
    /// the default or reports the problem, and the caller checks the two agree.
    pub fn worker_threads_of(path: &Path) -> Option<usize> {
        sources(path)
            .extract_inner::<usize>("server.worker_threads")
            .ok()
    }

    /// `[server] listen` of `path` and the environment, read alone: what `healthcheck` probes,
    /// without reading secret files or opening providers on every probe.
    ///
    /// # Errors
    /// `Read` when the file is missing or not TOML; `Invalid` naming `server.listen` when it is
    /// not an address:port.
    pub fn listen_of(path: &Path) -> Result<std::net::SocketAddr, ConfigError> {
        if !path.is_file() {
            return Err(ConfigError::Read(format!(
                "{}: no such file",
                path.display()
            )));
        }
        let text = match sources(path).extract_inner::<String>("server.listen") {
            Ok(text) => text,
            Err(error) if error.missing() => DEFAULT_LISTEN.to_string(),
            Err(error) => {
                return Err(ConfigError::Read(without_source_lines(&error.to_string())));
            }
        };
        text.parse().map_err(|e| {
            ConfigError::Invalid(vec![ConfigProblem::new(
                "server.listen".to_string(),
                format!("{text:?} is not an address:port: {e}"),
            )])
        })
    }

    /// Parses a TOML text (no environment), for tests and `check-config` of inline snippets.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_toml_with(text, &Registry::default())
    }

    /// [`Config::from_toml`] with the provider types of `registry`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_toml_with(text: &str, registry: &Registry) -> Result<Self, ConfigError> {
        Self::from_figment(
            Figment::new().merge(Toml::string(text)),
            Path::new("."),
            registry,
        )
    }

    fn from_figment(
        figment: Figment,
        base: &Path,
        registry: &Registry,
    ) -> Result<Self, ConfigError> {
        let mut tree: Value = figment
            .extract()
            .map_err(|e| ConfigError::Read(without_source_lines(&e.to_string())))?;
        let mut problems = Vec::new();
        resolve_secret_files(&mut tree, base, registry, &mut problems);
        take_unknown_keys(&mut tree, &mut problems);
        let warnings = warnings::find(&tree);
        // Every value of the wrong type is reported and taken out, so the rest of its table
        // (and of the file) is still checked.
        let read = deserialize::read::<Raw>("", tree);
        let mistyped: Vec<String> = read.problems.iter().map(|p| p.key.clone()).collect();
        problems.extend(read.problems);
        let Some(raw) = read.value else {
            return Err(ConfigError::Invalid(problems));
        };
        let mut checked = Vec::new();
        let config = validate(raw, base, registry, &mut checked);
        // What a mistyped value's absence causes ("is required") is not news.
        problems.extend(
            checked
                .into_iter()
                .filter(|p| !mistyped.iter().any(|key| within(&p.key, key))),
        );
        match config {
            Some(config) if problems.is_empty() => Ok(Config {
                warnings,
                notices: warnings::shared_issuers(&config.providers),
                ..config
            }),
            _ => Err(ConfigError::Invalid(problems)),
        }
    }
}

/// Reports (and removes) every key the file's sections do not take; the `[providers.*]` tables
/// are checked by the registry, which knows each type's keys.
fn take_unknown_keys(tree: &mut Value, problems: &mut Vec<ConfigProblem>) {
    use serde_aux::serde_introspection::serde_introspect;
    let Value::Object(top) = tree else { return };
    key_names::take_unknown(
        top,
        serde_introspect::<Raw>(),
        key_names::GATEWAY_SECRET_KEYS,
        "",
        "the file (top level)",
        problems,
    );
    for (name, value) in top.iter_mut() {
        let known: &[&str] = match name.as_str() {
            "server" => serde_introspect::<server::RawServer>(),
            "appwrite" => serde_introspect::<appwrite::RawAppwrite>(),
            "token" => serde_introspect::<token::RawToken>(),
            "redirect" => serde_introspect::<redirect::RawRedirect>(),
            "store" => serde_introspect::<store::RawStore>(),
            "mapping" => serde_introspect::<mapping::RawMapping>(),
            "rate_limit" => serde_introspect::<rate_limit::RawRateLimit>(),
            "log" => serde_introspect::<log::RawLog>(),
            "audit" => serde_introspect::<audit::RawAudit>(),
            "tls" => serde_introspect::<tls::RawTls>(),
            _ => continue,
        };
        if let Value::Object(table) = value {
            key_names::take_unknown(
                table,
                known,
                key_names::GATEWAY_SECRET_KEYS,
                &format!("{name}."),
                &format!("[{name}]"),
                problems,
            );
        }
    }
}

fn validate(
    raw: Raw,
    base: &Path,
    registry: &Registry,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Config> {
    let mut p = |key: &str, reason: String| problems.push(ConfigProblem::new(key, reason));
    let tls = raw.tls.validate(base, &mut p);
    let server = raw.server.validate(&mut p);
    let appwrite = raw.appwrite.validate(&mut p);
    let token = raw.token.validate(&mut p);
    let redirect = raw.redirect.validate(&mut p);
    let store = raw.store.validate(&mut p);
    let mapping = raw.mapping.validate(&mut p);
    let rate_limit = raw.rate_limit.validate(&mut p);
    let log = raw.log.validate();
    let audit = raw.audit.validate(base, &mut p);

    let mut providers = Vec::new();
    if raw.providers.is_empty() {
        p(
            "providers",
            "configure at least one provider, e.g. [providers.corp] with type = \"oidc\"".into(),
        );
    }
    // With a bad extra_ca_file, providers are still checked (against the system roots alone).
    let context = tls.clone().or_else(|| OutboundTls::new(None).ok());
    let provider_events = Arc::new(ProviderEventRelay::default());
    for (id, table) in raw.providers {
        let public_url = server.as_ref().map(|s| s.public_url.clone());
        let Some(context) = context.clone().map(|tls| {
            OpenContext::new(tls)
                .with_public_url(public_url)
                .with_event_sink(provider_events.clone())
        }) else {
            break;
        };
        match registry::open(registry, &id, table, &context) {
            Ok(provider) => providers.push(provider),
            Err(found) => problems.extend(found),
        }
    }

    Some(Config {
        server: server?,
        appwrite: appwrite?,
        token: token?,
        redirect: redirect?,
        store: store?,
        mapping: mapping?,
        rate_limit: rate_limit?,
        log,
        audit: audit?,
        tls: tls?,
        providers,
        provider_events,
        warnings: Vec::new(),
        notices: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_address_is_read_alone_from_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let read = |text: &str| {
            std::fs::write(&path, text).expect("write");
            Config::listen_of(&path)
                .map(|a| a.to_string())
                .map_err(|e| e.to_string())
        };
        // The rest of the file is not read: a missing secret file does not matter.
        let text =
            "[server]\nlisten = \"0.0.0.0:9000\"\n[appwrite]\napi_key_file = \"/nonexistent\"\n";
        assert_eq!(read(text), Ok("0.0.0.0:9000".into()));
        assert_eq!(
            read("[log]\nformat = \"json\"\n"),
            Ok(DEFAULT_LISTEN.into())
        );
        let bad = read("[server]\nlisten = \"nowhere\"\n").expect_err("refused");
        assert!(
            bad.contains("server.listen") && bad.contains("nowhere"),
            "{bad}"
        );
        assert!(read("not toml [").is_err());
    }

    #[test]
    fn worker_threads_are_read_alone_from_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        let cases = [
            ("[server]\nworker_threads = 0\n", Some(0)),
            (
                "[server]\nworker_threads = 4\n[appwrite]\nendpoint = 1\n",
                Some(4),
            ),
            ("[server]\nlisten = \"127.0.0.1:1\"\n", None),
            ("[server]\nworker_threads = \"many\"\n", None),
            ("not toml [", None),
        ];
        for (text, threads) in cases {
            std::fs::write(&path, text).expect("write");
            assert_eq!(Config::worker_threads_of(&path), threads, "{text}");
        }
    }
}
