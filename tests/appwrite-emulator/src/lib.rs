//! In-process emulator of the Appwrite endpoints the idp-bridge gateway calls (a test double).
//!
//! It follows `shared/appwrite/USERS_API.md` (Appwrite 1.8.x/1.9.x behaviour) and the 1.8.1
//! OpenAPI specs; `tests/contract.rs` checks it against those specs.
//!
//! ```no_run
//! # async fn demo() {
//! use appwrite_emulator::{Emulator, EmulatorConfig};
//! let emu = Emulator::spawn(EmulatorConfig::default()).await;
//! let base = emu.endpoint(); // http://127.0.0.1:PORT/v1
//! # let _ = base;
//! # }
//! ```
//!
//! Layout:
//! - `lib.rs`: [`Emulator`] handle, [`EmulatorConfig`], [`ApiKey`].
//! - [`routes`]: the [`ROUTES`] table and the router generated from it;
//!   `routes/users.rs` (server `/v1/users...`), `routes/account.rs` (client `/v1/account`
//!   and `/v1/account/sessions/token`).
//! - `model.rs`: stored users/tokens/sessions and their JSON models; [`SeedUser`],
//!   [`TokenRecord`].
//! - `query.rs`: the JSON `queries[]` syntax of the list endpoint.
//! - `params.rs`: query-string and JSON-body parsing (strict: unknown params are 400).
//! - `auth.rs`: project / API key / scope checks.
//! - [`faults`]: [`Fault`] injection, applied before routing.
//! - `calls.rs`: the [`Call`] log.
//! - `server.rs`: accept loop serving each connection with hyper (so `Fault::Drop` can close
//!   a connection without answering).
//! - [`error`]: Appwrite error bodies.
//! - `ids.rs`: custom-ID rule, `unique()` IDs, token secrets.
//! - `clock.rs`: real time plus a test-controlled offset ([`Emulator::advance_clock`]).
//!
//! Deliberate differences from Appwrite: unknown query/body parameters are rejected with 400
//! (Appwrite ignores them); passwords are stored as SHA-256 (`hash: "sha"`), not argon2;
//! `Fault::Status(503)` answers `general_service_disabled`.

mod auth;
mod calls;
mod clock;
pub mod error;
pub mod faults;
mod ids;
mod model;
mod params;
mod query;
pub mod routes;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::middleware;
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

pub use calls::Call;
pub use error::AppwriteError;
pub use faults::{Fault, FaultScope};
pub use model::{SeedUser, SentMessage, TokenRecord};
pub use routes::{Operation, ROUTES, RouteSpec};

use model::UserRecord;
use state::Shared;

/// An API key of the emulated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The secret sent as `X-Appwrite-Key`.
    pub secret: String,
    /// Granted scopes, e.g. `users.read`.
    pub scopes: Vec<String>,
    /// An expired key answers 401 `project_key_expired`.
    pub expired: bool,
}

/// Emulator settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Project ID expected in `X-Appwrite-Project`.
    pub project: String,
    /// API keys; the first one is [`Emulator::api_key`].
    pub keys: Vec<ApiKey>,
}

/// Project ID of [`EmulatorConfig::default`].
pub const DEFAULT_PROJECT: &str = "demo-project";
/// API key secret of [`EmulatorConfig::default`].
pub const DEFAULT_API_KEY: &str = "test-api-key-0123456789";

impl Default for EmulatorConfig {
    /// Project `demo-project`, one key `test-api-key-0123456789` with `users.read` and
    /// `users.write`.
    fn default() -> Self {
        Self {
            project: DEFAULT_PROJECT.to_owned(),
            keys: vec![ApiKey {
                secret: DEFAULT_API_KEY.to_owned(),
                scopes: vec!["users.read".to_owned(), "users.write".to_owned()],
                expired: false,
            }],
        }
    }
}

/// A running emulator. Dropping it stops the server and closes its connections.
#[derive(Debug)]
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

/// Records every request (outermost layer, so faulted and CORS requests are logged too).
async fn record_call(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let seq = shared.calls.push(
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
    );
    let response = next.run(req).await;
    shared.calls.set_status(seq, response.status().as_u16());
    response
}

impl Emulator {
    /// Starts an emulator on `127.0.0.1:0` on the current Tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound (use [`Emulator::try_spawn`] to handle that).
    pub async fn spawn(config: EmulatorConfig) -> Emulator {
        Self::try_spawn(config)
            .await
            .expect("appwrite-emulator: cannot bind 127.0.0.1:0")
    }

    /// Like [`Emulator::spawn`], returning the bind error instead of panicking.
    pub async fn try_spawn(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        // Like Appwrite for a registered web platform: the browser's origin is mirrored and
        // credentials are allowed, because the web SDK fetches with `credentials: 'include'`
        // (a `*` origin is refused by browsers then).
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::mirror_request())
            .allow_credentials(true)
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([
                HeaderName::from_static("x-fallback-cookies"),
                HeaderName::from_static("x-appwrite-session"),
            ]);
        let app = routes::router(shared.clone())
            .layer(middleware::from_fn_with_state(
                shared.clone(),
                faults::middleware,
            ))
            .layer(cors)
            .layer(middleware::from_fn_with_state(shared.clone(), record_call));
        let server = tokio::spawn(server::serve(listener, app));
        Ok(Emulator {
            shared,
            addr,
            server,
        })
    }

    /// Base URL of the API, `http://127.0.0.1:PORT/v1`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The socket address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Project ID.
    pub fn project(&self) -> &str {
        &self.shared.config.project
    }

    /// Secret of the first configured API key (empty if there is none).
    pub fn api_key(&self) -> &str {
        self.shared
            .config
            .keys
            .first()
            .map(|k| k.secret.as_str())
            .unwrap_or("")
    }

    /// Every request received so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.snapshot()
    }

    /// Forgets the recorded calls.
    pub fn clear_calls(&self) {
        self.shared.calls.clear();
    }

    /// Injects a fault for the requests selected by `scope`.
    pub fn inject(&self, fault: Fault, scope: FaultScope) {
        self.shared.faults.inject(fault, scope);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Adds a pre-existing user (replacing any user with the same ID). The email is lowercased.
    pub fn seed_user(&self, user: SeedUser) {
        let mut record = UserRecord::new(user.id, self.shared.clock.now());
        record.email = user.email.map(|e| e.to_lowercase());
        record.name = user.name;
        record.email_verification = user.email_verification;
        record.status = user.status;
        record.phone = user.phone;
        record.labels = user.labels;
        if let Some(password) = &user.password {
            record.set_password(password, self.shared.clock.now());
        }
        let mut db = self.shared.db();
        db.users.retain(|u| u.id != record.id);
        db.users.push(record);
    }

    /// Every email and SMS the client token routes sent, oldest first.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared.db().messages.clone()
    }

    /// The user model exactly as `GET /v1/users/{id}` would return it.
    pub fn user(&self, id: &str) -> Option<serde_json::Value> {
        self.shared.db().user(id).map(UserRecord::to_json)
    }

    /// Number of users.
    pub fn users_count(&self) -> usize {
        self.shared.db().users.len()
    }

    /// Every minted token (without secrets), oldest first.
    pub fn tokens(&self) -> Vec<TokenRecord> {
        self.shared
            .db()
            .tokens
            .iter()
            .map(TokenRecord::from)
            .collect()
    }

    /// Number of sessions created through `POST /v1/account/sessions/token`.
    pub fn sessions_count(&self) -> usize {
        self.shared.db().sessions.len()
    }

    /// Moves the emulator's clock forward (token expiry, timestamps).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }
}
