//! Audit events: one JSON event per decision the gateway makes about a login (`login`),
//! an assertion exchange (`exchange`) or a back-channel logout (`logout`), success or
//! failure, with tracing target [`TARGET`]. They go through tracing like every log line (so
//! they reach the normal log unless `RUST_LOG` filters them out), and with `[audit] file` also
//! to a file of their own, one JSON object per line ([`file`]). Their fields are a stable,
//! documented schema (docs/reference/audit.md and docs/reference/audit-event.schema.json).
//!
//! Exactly one event per decision, by construction: each flow has one place where its outcome
//! is decided and counted in the metrics (`Login::start` when it refuses, `Login::callback`,
//! `Login::exchange`, the back-channel logout), and that place hands the outcome, once, to
//! [`Audit::record`]. Nothing else calls it; a new flow adds one call at its own such place.
//!
//! Owns: the event's fields, their names and meaning, and the audit file.
//! Must not: take a value that may be secret. An event is made of named fields only
//! ([`Decision`]), never of an error's text or a request's raw input: no token, code, state,
//! nonce, secret, pattern or JWT can reach it, and the email only with `[audit] include_email`.

pub mod file;

use std::path::PathBuf;

/// The tracing target of audit events (`RUST_LOG=warn,audit=info` keeps them in a quiet log).
pub const TARGET: &str = "audit";

/// `[audit]`: where audit events go besides the log, and whether they name the email.
/// Restart-only, like `[log]`: the file is opened once, and an audit trail whose content
/// changes halfway (emails or not) on a SIGHUP would be hard to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    /// `[audit] file`: also append every event to this file (relative paths from the config
    /// file's folder).
    pub file: Option<PathBuf>,
    /// `[audit] include_email`: add the email the provider asserted (default false).
    pub include_email: bool,
}

/// What a decision was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A redirect login: refused at `start`, or decided at the callback.
    Login,
    /// An assertion exchange (`POST /v1/auth/{provider}/exchange`).
    Exchange,
    /// A back-channel logout (`POST /v1/auth/{provider}/backchannel-logout`).
    Logout,
}

impl EventKind {
    /// The `event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Exchange => "exchange",
            Self::Logout => "logout",
        }
    }
}

/// Who asked, as the HTTP edge saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client as the gateway determined it (trusted proxies applied): an address, or the
    /// token a trusted proxy wrote instead of one.
    pub client_ip: String,
    /// The request's `X-Request-Id`, as its log lines and response carry it.
    pub request_id: String,
}

/// What a decision came to know about whom it was about, filled in as the flow goes: nothing
/// before the provider verified an identity, then its issuer and subject, then the Appwrite
/// user. No `Debug`: it holds the email, which only [`Audit::record`] may let out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The verified identity's issuer.
    pub issuer: Option<String>,
    /// The verified identity's subject.
    pub subject: Option<String>,
    /// The email the provider asserted (recorded only with `include_email`).
    pub email: Option<String>,
    /// The Appwrite user the identity maps to, once found, linked or created.
    pub user_id: Option<String>,
    /// This decision created the Appwrite user.
    pub created_user: bool,
    /// This decision linked the identity to an existing Appwrite user by email.
    pub linked_user: bool,
}

/// Why a decision was a failure: the error type (the `type` the app was told, or the
/// gateway's own name for a plain error page: the metrics' `error_type` label) and, for a
/// refusal by a configured rule, the rule's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    /// The error type.
    pub error_type: &'a str,
    /// The rule that refused (`access_denied`).
    pub rule: Option<&'a str>,
}

/// One decision, as the place that decided it hands it over.
#[derive(Clone, Copy)]
pub struct Decision<'a> {
    /// What was decided.
    pub event: EventKind,
    /// The configured provider id.
    pub provider: &'a str,
    /// Who asked.
    pub origin: &'a Origin,
    /// Whom it was about.
    pub known: &'a Known,
    /// `None`: a success.
    pub failure: Option<Failure<'a>>,
}

/// The emitter of audit events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Audit {
    include_email: bool,
}

impl Audit {
    /// An emitter for `[audit]`.
    pub fn new(config: &AuditConfig) -> Self {
        Self {
            include_email: config.include_email,
        }
    }

    /// Emits the one event of `decision`, at level INFO, target [`TARGET`]. A field that is
    /// not known is left out, never written empty.
    pub fn record(&self, decision: &Decision<'_>) {
        let known = decision.known;
        let email = known.email.as_deref().filter(|_| self.include_email);
        let (outcome, error_type, rule) = match decision.failure {
            None => ("success", None, None),
            Some(failure) => ("failure", Some(failure.error_type), failure.rule),
        };
        tracing::info!(
            target: TARGET,
            event = decision.event.as_str(),
            outcome,
            provider = decision.provider,
            issuer = known.issuer.as_deref(),
            subject = known.subject.as_deref(),
            user_id = known.user_id.as_deref(),
            email,
            error_type,
            rule,
            client_ip = decision.origin.client_ip.as_str(),
            request_id = decision.origin.request_id.as_str(),
            created_user = known.created_user,
            linked_user = known.linked_user,
        );
    }
}

#[cfg(test)]
mod tests;
