//! `mock-op`: a scriptable, in-process OpenID Connect provider (OP).
//!
//! **Development and test use only.** It accepts any `http://127.0.0.1:*` or
//! `http://localhost:*` redirect URI, its signing keys are committed to the
//! repository, and it keeps all state in memory.
//!
//! It serves three callers:
//! 1. the local demo, where a person signs in on its HTML login page;
//! 2. benchmarks, which log in without a browser through
//!    [`MockOp::authorize`] (or `GET /authorize?login_hint=<sub>`);
//! 3. negative tests, which script misbehaviour with [`Behavior`] and
//!    [`MockOp::rotate_keys`] to play the misbehaving-OP rows of
//!    the RP conformance catalogue, `docs/rp-conformance.md`.
//!
//! # Example
//! ```no_run
//! use mock_op::{Behavior, MockOp, MockOpConfig, SigningAlg};
//! # async fn demo(rp_authorize_url: &str) {
//! let op = MockOp::spawn(MockOpConfig::default()).await;
//! // Point the RP at `op.issuer()`, start a login, then sign in as alice
//! // without a browser and follow `redirect_to` back to the RP:
//! let auth = op.authorize(rp_authorize_url, "alice").expect("valid request");
//! # let _ = auth.redirect_to;
//! // Script the next logins to misbehave:
//! op.set_behavior(Behavior { alg: Some(SigningAlg::None), ..Default::default() });
//! # }
//! ```
//!
//! # Layout
//! - `lib.rs` (this file): [`MockOp`], [`MockOpConfig`], [`User`],
//!   [`Counters`], the shared state and the non-interactive API.
//! - `keys.rs`: the fixed PKCS#8 test keys (`keys/*.pem`), key rotation and
//!   the public JWKS.
//! - `jose.rs`: hand-built compact JWS (any header, forged signatures),
//!   `at_hash`, PKCE.
//! - `behavior.rs`: [`Behavior`], [`SigningAlg`] and the null-removes patch rule.
//! - [`spellings`]: other spellings of one signature (spare base64url bits, ECDSA `n - s`),
//!   for replay tests.
//! - `routes.rs`: the axum router: discovery, JWKS, authorize, login, token,
//!   userinfo.
//! - `login_page.rs`: the HTML login and error pages.
//!
//! # Endpoints
//! `GET /.well-known/openid-configuration` (also under the issuer suffix),
//! `GET /jwks` (also `/jwks/<anything>`), `GET /authorize`,
//! `POST /authorize/login`, `POST /token`, `GET|POST /userinfo`.

// Test support: a failed unwrap or expect fails the test that uses it, which is what it is
// for (the workspace lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod behavior;
mod jose;
mod keys;
mod login_page;
mod routes;
pub mod spellings;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

pub use behavior::{Behavior, SigningAlg};

/// A user the OP can sign in.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Subject identifier (`sub`), also the `login_hint` that selects the user.
    pub sub: String,
    /// `email` claim, omitted when `None`.
    pub email: Option<String>,
    /// `email_verified` claim, usually a JSON bool; `Value::Null` omits it
    /// (a string such as `"true"` plays Cognito-style providers).
    pub email_verified: Value,
    /// `name` claim, omitted when `None`.
    pub name: Option<String>,
    /// Further claims added to the ID token.
    pub extra: Map<String, Value>,
}

impl User {
    /// A user with the given `sub`, `email`, verification flag and `name`.
    pub fn new(sub: &str, email: &str, email_verified: bool, name: &str) -> Self {
        Self {
            sub: sub.to_owned(),
            email: Some(email.to_owned()),
            email_verified: Value::Bool(email_verified),
            name: Some(name.to_owned()),
            extra: Map::new(),
        }
    }
}

/// How the token endpoint authenticates the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// `client_secret_basic` only.
    Basic,
    /// `client_secret_post` only.
    Post,
    /// Either (but never both in one request).
    #[default]
    Any,
}

/// Static configuration of a [`MockOp`].
#[derive(Debug, Clone)]
pub struct MockOpConfig {
    /// The only registered client.
    pub client_id: String,
    /// Its secret (also the HS256 key).
    pub client_secret: String,
    /// Users offered on the login page, in order.
    pub users: Vec<User>,
    /// Accepted client authentication at the token endpoint.
    pub auth_method: AuthMethod,
    /// Appended to `http://127.0.0.1:PORT` to form the issuer (`""`, `"/"`,
    /// `"/tenant"`...). Endpoints stay at the root.
    pub issuer_suffix: String,
}

impl Default for MockOpConfig {
    fn default() -> Self {
        Self {
            client_id: "gateway".into(),
            client_secret: "gateway-secret-0123456789abcdef".into(),
            users: vec![
                User::new("alice", "alice@example.test", true, "Alice"),
                User::new("bob", "bob@example.test", false, "Bob"),
            ],
            auth_method: AuthMethod::Any,
            issuer_suffix: String::new(),
        }
    }
}

/// Request counts per endpoint since spawn (or [`MockOp::reset_counters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Discovery document fetches.
    pub discovery: usize,
    /// JWKS fetches.
    pub jwks: usize,
    /// Authorization requests (`GET /authorize`, `POST /authorize/login`,
    /// and [`MockOp::authorize`]).
    pub authorize: usize,
    /// Token endpoint calls.
    pub token: usize,
    /// Userinfo calls.
    pub userinfo: usize,
}

/// The result of a successful authorization: what the OP redirects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The authorization code.
    pub code: String,
    /// The client's `state`, echoed.
    pub state: String,
    /// The `iss` response parameter (RFC 9207), if sent.
    pub iss: Option<String>,
    /// The full redirect URL (`redirect_uri?code=..&state=..&iss=..`).
    pub redirect_to: String,
}

/// Why an authorization request was refused (the OP answers 400 with this
/// reason and never redirects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeError {
    /// Human-readable reason.
    pub reason: String,
}

impl std::fmt::Display for AuthorizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid authorization request: {}", self.reason)
    }
}

impl std::error::Error for AuthorizeError {}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) code_challenge: String,
    pub(crate) scope: String,
    pub(crate) login_hint: Option<String>,
    pub(crate) created: Instant,
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone)]
pub(crate) struct IssuedCode {
    pub(crate) request: AuthRequest,
    pub(crate) sub: String,
    pub(crate) auth_time: u64,
    pub(crate) issued: Instant,
}

/// A live access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub(crate) sub: String,
    pub(crate) expires: Instant,
}

/// Mutable OP state behind one mutex.
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) behavior: Behavior,
    pub(crate) keys: keys::KeyRing,
    /// Login-page requests waiting for the person's choice, by request id.
    pub(crate) pending: HashMap<String, AuthRequest>,
    pub(crate) codes: HashMap<String, IssuedCode>,
    pub(crate) access_tokens: HashMap<String, AccessGrant>,
    /// When expired access tokens were last swept.
    pub(crate) swept: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct AtomicCounters {
    pub(crate) discovery: AtomicUsize,
    pub(crate) jwks: AtomicUsize,
    pub(crate) authorize: AtomicUsize,
    pub(crate) token: AtomicUsize,
    pub(crate) userinfo: AtomicUsize,
}

pub(crate) fn bump(counter: &AtomicUsize) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// State shared between the handle and the HTTP handlers.
pub(crate) struct Shared {
    pub(crate) config: MockOpConfig,
    /// `http://127.0.0.1:PORT`, where the endpoints live.
    pub(crate) base: String,
    /// `base` + `issuer_suffix`.
    pub(crate) issuer: String,
    pub(crate) counters: AtomicCounters,
    inner: Mutex<Inner>,
}

impl Shared {
    /// Locks the mutable state. A poisoned lock only means a handler panicked
    /// mid-update; the mock's state is still usable, so the poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn user(&self, sub: &str) -> Option<&User> {
        self.config.users.iter().find(|u| u.sub == sub)
    }

    /// The JWKS as currently served (behaviour applied).
    pub(crate) fn jwks(&self) -> Value {
        let inner = self.lock();
        let behavior = &inner.behavior;
        if let Some(doc) = &behavior.jwks_override {
            return doc.clone();
        }
        let mut doc = inner.keys.jwks();
        if let Some(keys) = doc.get_mut("keys").and_then(Value::as_array_mut) {
            if behavior.jwks_omit_kid {
                for key in keys.iter_mut() {
                    if let Some(obj) = key.as_object_mut() {
                        obj.remove("kid");
                    }
                }
            }
            if behavior.weak_rsa_key {
                let mut weak = inner.keys.weak_rsa_jwk();
                if let (true, Some(obj)) = (behavior.jwks_omit_kid, weak.as_object_mut()) {
                    obj.remove("kid");
                }
                keys.push(weak);
            }
            keys.extend(behavior.jwks_extra_keys.iter().cloned());
        }
        doc
    }

    /// Signs `claims` with the current keys.
    pub(crate) fn sign(&self, claims: &Value, behavior: &Behavior) -> String {
        let ring = self.lock().keys;
        jose::sign(claims, behavior, &ring, &self.config.client_secret)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A random URL-safe token (256 bits).
pub(crate) fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A running mock OP. Dropping it stops the server.
pub struct MockOp {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl MockOp {
    /// Starts the OP on `127.0.0.1:0` (a random free port).
    ///
    /// # Panics
    /// If no loopback port can be bound (use [`MockOp::spawn_on`] to handle that).
    pub async fn spawn(config: MockOpConfig) -> MockOp {
        Self::spawn_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("mock-op: cannot bind a loopback port")
    }

    /// Starts the OP on `addr` (e.g. a fixed port for the demo, so the
    /// gateway's configured issuer stays valid across restarts). The issuer
    /// host is the bound IP, or `127.0.0.1` for an unspecified address.
    pub async fn spawn_on(config: MockOpConfig, addr: SocketAddr) -> std::io::Result<MockOp> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let host = if local.ip().is_unspecified() {
            SocketAddr::from((Ipv4Addr::LOCALHOST, local.port()))
        } else {
            local
        };
        let base = format!("http://{host}");
        let issuer = format!("{base}{}", config.issuer_suffix);
        let shared = Arc::new(Shared {
            config,
            base,
            issuer,
            counters: AtomicCounters::default(),
            inner: Mutex::new(Inner::default()),
        });
        let router = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            // The server only ends when the handle is dropped (task aborted).
            let _ = axum::serve(listener, router).await;
        });
        Ok(MockOp { shared, server })
    }

    /// The issuer, e.g. `http://127.0.0.1:PORT` (plus the configured suffix).
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// Where the endpoints live: `http://127.0.0.1:PORT` (no suffix).
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The configuration the OP was started with.
    pub fn config(&self) -> &MockOpConfig {
        &self.shared.config
    }

    /// Scripts the following requests; stays in force until replaced.
    /// `Behavior::default()` restores a well-behaved OP.
    pub fn set_behavior(&self, behavior: Behavior) {
        self.shared.lock().behavior = behavior;
    }

    /// The behaviour currently in force.
    pub fn behavior(&self) -> Behavior {
        self.shared.lock().behavior.clone()
    }

    /// Rotates to a new signing key generation: every `kid` changes, the RSA
    /// key material switches to the other fixed key, and the JWKS serves only
    /// the new keys. Tokens signed before no longer verify against it.
    pub fn rotate_keys(&self) {
        self.shared.lock().keys.rotate();
    }

    /// Request counts per endpoint.
    pub fn counters(&self) -> Counters {
        let c = &self.shared.counters;
        Counters {
            discovery: c.discovery.load(Ordering::Relaxed),
            jwks: c.jwks.load(Ordering::Relaxed),
            authorize: c.authorize.load(Ordering::Relaxed),
            token: c.token.load(Ordering::Relaxed),
            userinfo: c.userinfo.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        let c = &self.shared.counters;
        for counter in [&c.discovery, &c.jwks, &c.authorize, &c.token, &c.userinfo] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Non-interactive authorization for tests and benches: the same as the
    /// browser's `GET /authorize` with `login_hint=sub`, returning the code
    /// (and the redirect the browser would follow).
    ///
    /// `authorize_url` is the authorization URL the relying party built (the
    /// `Location` of its login redirect); only its query is read, so a bare
    /// query string works too. `sub` overrides any `login_hint` in it.
    /// Counts as one authorize request.
    pub fn authorize(
        &self,
        authorize_url: &str,
        sub: &str,
    ) -> Result<Authorization, AuthorizeError> {
        bump(&self.shared.counters.authorize);
        let query = match url::Url::parse(authorize_url) {
            Ok(url) => url.query().unwrap_or_default().to_owned(),
            Err(_) => authorize_url.trim_start_matches('?').to_owned(),
        };
        let request = routes::validate_authorize(&self.shared, &query)?;
        if self.shared.user(sub).is_none() {
            return Err(AuthorizeError {
                reason: format!("unknown user {sub:?}"),
            });
        }
        Ok(routes::issue_code(&self.shared, request, sub))
    }

    /// Signs arbitrary claims with the current key, applying the behaviour's
    /// `alg`, `claims_patch`, `header_patch`, `omit_kid`, `hmac_key`,
    /// `signature_override` and `corrupt_signature`. For tokens without HTTP
    /// (benchmarks, unit tests, logout tokens).
    pub fn sign_id_token(&self, claims: &Value, behavior: &Behavior) -> String {
        self.shared.sign(claims, behavior)
    }

    /// Signs `signing_input` (`<header>.<payload>`, used byte for byte, so it
    /// may hold non-canonical base64url or hand-written JSON with duplicate
    /// keys) with the current key that `behavior.alg` selects, and returns the
    /// compact token `<signing_input>.<signature>`. Honours `hmac_key`,
    /// `weak_rsa_key`, `signature_override` and `corrupt_signature`; the
    /// header is not inspected, so it need not match `alg`. Serve the result
    /// with [`Behavior::id_token_override`].
    pub fn sign_raw(&self, signing_input: &str, behavior: &Behavior) -> String {
        let ring = self.shared.lock().keys;
        jose::sign_raw(
            signing_input,
            behavior,
            &ring,
            &self.shared.config.client_secret,
        )
    }

    /// The JWKS document as the `/jwks` endpoint serves it now (without
    /// counting a request).
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// SPKI PEM of the current RSA public key, for algorithm-confusion tests
    /// (`Behavior { alg: Some(SigningAlg::HS256), hmac_key: Some(pem.into_bytes()), .. }`).
    pub fn rsa_public_key_pem(&self) -> String {
        self.shared.lock().keys.rsa().public_pem.clone()
    }

    /// The standard ID token claims the OP would issue for `sub` (no
    /// behaviour applied), convenient as a base for [`Self::sign_id_token`].
    pub fn id_token_claims(&self, sub: &str, nonce: &str) -> Value {
        let now = unix_now();
        let mut claims = json!({
            "iss": self.shared.issuer,
            "sub": sub,
            "aud": self.shared.config.client_id,
            "exp": now + 300,
            "iat": now,
            "auth_time": now,
            "nonce": nonce,
        });
        if let (Some(user), Value::Object(map)) = (self.shared.user(sub), &mut claims) {
            routes::add_user_claims(map, user);
        }
        claims
    }
}

impl Drop for MockOp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
