//! In-process emulator of the TypingDNA Authentication API endpoints that idp-bridge calls (a
//! test double; see README.md for what it follows and where it differs).
//!
//! ```no_run
//! # async fn demo() {
//! use typingdna_emulator::{Emulator, EmulatorConfig, Script, Verdict};
//! let tdna = Emulator::spawn(EmulatorConfig::default()).await;
//! tdna.enroll("a1b2c3d4e5f6", 3);          // a complete desktop profile
//! tdna.push(Script::Verdict(Verdict::NoMatch)); // the next verification fails
//! let base = tdna.url();                    // http://127.0.0.1:PORT
//! # let _ = base;
//! # }
//! ```
//!
//! Layout: `lib.rs` (the handle, scripts, call log), `routes.rs` (the endpoints), `errors.rs`
//! (the documented error answers), `server.rs` (accept loop, so that [`Emulator::stop`] closes
//! every connection).

// Test support: a failed unwrap or expect fails the test that uses it, which is what it is
// for (the workspace lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod routes;
mod server;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use errors::{DOCUMENTED_ERRORS, DocumentedError, documented};

/// Credentials of the emulated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// The API key (HTTP Basic user name).
    pub api_key: String,
    /// The API secret (HTTP Basic password).
    pub api_secret: String,
}

/// API key of [`EmulatorConfig::default`].
pub const DEFAULT_API_KEY: &str = "tdna-test-api-key";
/// API secret of [`EmulatorConfig::default`] (long enough for the log checks to grep for).
pub const DEFAULT_API_SECRET: &str = "tdna-test-api-secret-0123456789";

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            api_secret: DEFAULT_API_SECRET.to_owned(),
        }
    }
}

/// How a verification comes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `result = 1`, `high_confidence = 1`; the pattern is also enrolled (`verify;enroll`).
    Match,
    /// `result = 1`, `high_confidence = 0` (`verify`).
    LowConfidence,
    /// `result = 0`, `high_confidence = 1` (`verify`).
    NoMatch,
}

/// What the next request does instead of (or before) its normal answer; scripts are used in
/// the order they were pushed, one per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// The next verification comes out this way (enrollments are unaffected).
    Verdict(Verdict),
    /// The next request answers this documented error (its HTTP status, e.g. 445 or 429).
    Error(u16),
    /// The next request answers this HTTP status with a non-JSON body (a proxy's 502 page).
    Raw(u16),
    /// The next request waits this long, then answers normally.
    Delay(Duration),
}

/// One request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `POST`, `GET`, `DELETE`...
    pub method: String,
    /// The path, e.g. `/auto/3f2a...`.
    pub path: String,
    /// Whether HTTP Basic carried the right key and secret.
    pub authorized: bool,
    /// The `Content-Type` sent.
    pub content_type: Option<String>,
    /// The decoded form fields (or query parameters for GET and DELETE).
    pub fields: Vec<(String, String)>,
    /// The HTTP status answered.
    pub status: u16,
}

impl Call {
    /// The value of field `name`, if sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Stored patterns of one user id, per device (TypingDNA counts desktop and mobile apart).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profile {
    pub desktop: usize,
    pub mobile: usize,
}

/// Patterns an id must have stored (per device) before `/auto` verifies instead of enrolling.
pub const ENROLLMENTS_NEEDED: usize = 3;

#[derive(Debug, Default)]
pub(crate) struct State {
    pub profiles: HashMap<String, Profile>,
    pub scripts: VecDeque<Script>,
    pub verdict: Option<Verdict>,
    pub calls: Vec<Call>,
}

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    state: Mutex<State>,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves consistent data behind.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running emulator. Dropping it stops the server and closes its connections.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Emulator {
    /// Starts an emulator on `127.0.0.1:0` on the current Tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn spawn(config: EmulatorConfig) -> Emulator {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("typingdna-emulator: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("typingdna-emulator: local address");
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
        });
        let server = tokio::spawn(server::serve(listener, routes::router(shared.clone())));
        Emulator {
            shared,
            addr,
            server,
        }
    }

    /// The API base URL, `http://127.0.0.1:PORT` (what `api_url` is set to).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The account's API secret.
    pub fn api_secret(&self) -> &str {
        &self.shared.config.api_secret
    }

    /// The account's API key.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// TypingDNA goes down: the server and every open connection close, and new connections
    /// are refused.
    pub fn stop(&self) {
        self.server.abort();
    }

    /// Queues a script for the next request not yet scripted.
    pub fn push(&self, script: Script) {
        self.shared.state().scripts.push_back(script);
    }

    /// How every later verification comes out unless a [`Script::Verdict`] says otherwise
    /// (initially [`Verdict::Match`]).
    pub fn set_verdict(&self, verdict: Verdict) {
        self.shared.state().verdict = Some(verdict);
    }

    /// Stores `desktop` desktop patterns for `id` (as if enrolled earlier).
    pub fn enroll(&self, id: &str, desktop: usize) {
        self.shared
            .state()
            .profiles
            .entry(id.to_owned())
            .or_default()
            .desktop = desktop;
    }

    /// How many (desktop, mobile) patterns `id` has stored.
    pub fn stored(&self, id: &str) -> (usize, usize) {
        let profile = self
            .shared
            .state()
            .profiles
            .get(id)
            .copied()
            .unwrap_or_default();
        (profile.desktop, profile.mobile)
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.state().calls.clone()
    }

    /// How many requests so far asked for a pattern to be judged: `/auto` (which may also
    /// enroll it) or `/verify`.
    pub fn judging_calls(&self) -> usize {
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.path.starts_with("/auto/") || c.path.starts_with("/verify/"))
            .count()
    }

    /// Forgets the call log.
    pub fn clear_calls(&self) {
        self.shared.state().calls.clear();
    }
}
