//! idp-bridge: logs Appwrite users in through identity providers that Appwrite does not verify
//! itself, by validating the provider's assertion, finding or creating the Appwrite user, and
//! minting an Appwrite custom token that the app turns into a session.
//!
//! Layout:
//! - [`config`]: TOML + environment → validated `Config`, every problem naming its key; one
//!   module per section.
//! - [`registry`]: provider `type` → the provider crate's `open` and keys; one line per provider.
//! - [`init`]: `idp-bridge init --provider KIND`, a commented config to start from.
//! - [`key_names`]: which keys hold secrets (`<key>_file`), and "unknown key; did you mean".
//! - [`startup`]: `Application::build`, `local_addr`, `run_until_stopped` (with the bounded
//!   drain on shutdown); `startup::accept`, the accept loop (header read timeout, connection
//!   cap), and `startup::files`, the open-file limit those connections need.
//! - [`reload`]: SIGHUP re-reads the configuration and swaps the reloadable part of the state
//!   in, or refuses (restart-only keys, invalid files) and keeps the old one.
//! - [`http`]: the routes (`auth`: start, callback, exchange; `logout`: back-channel logout;
//!   `ops`: providers, health, readiness, metrics), layers and request limits, `AppState`, the
//!   error responses, extractors, rate limits, readiness (`http::readiness`: what `/readyz` and
//!   the health gauges report). `http::client_key` (who the client is), `http::limiter` and
//!   `http::draining` are leaves that the state and the handlers share; no two submodules of a
//!   module use each other in a circle (tests/repository/layering.rs checks it).
//! - [`login`]: the pipeline (start, callback → identity → policy → user → token → redirect),
//!   with `start`, `request` (start's parameters), `binding` (state, cookie binding), `policy`
//!   (what is admitted), `email` (strict addresses), `mapping` (identity → Appwrite user),
//!   `user_id` (derived ids and link labels), `exchange` (the one-request flow), `mint` (the one
//!   end of every flow), `logout` (back-channel logout: a provider ends the identity's Appwrite
//!   sessions), `decided` (each decision counted and audited, once) and `error`. Knows no
//!   provider: a provider's per-login data rides along opaque.
//! - [`return_urls`]: the return URLs: the success/failure URL allow-list (`[redirect]`) and
//!   how the token is delivered, with the app's own `state` (`return_urls::ReturnState`)
//!   returned beside it. Not the redirect flow, which is `login`'s.
//! - [`appwrite`]: the typed Appwrite client (Users API, and the account behind a JWT), its
//!   settings, the Appwrite id rule, and `directory`, the read-only view of users it lends
//!   providers.
//! - [`store`]: where login transactions (`store::transaction`) wait between start and callback,
//!   and used assertions and provider sessions (`store::session`) are remembered: in memory, or
//!   in Redis (`store::redis`, values sealed by `store::seal`, open logins bounded fleet-wide by
//!   `store::redis::capacity`) for several instances; `store::settings` is its `[store]` section.
//! - [`clock`]: time as a dependency.
//! - [`metrics`]: the one registry of the process (`/metrics`), and the handles that count.
//! - [`audit`]: one audit event per decision (login, exchange, logout), target `audit`, and
//!   `[audit] file` (`audit::file`), their own file.
//! - [`telemetry`]: log setup.
//! - [`healthcheck`]: `idp-bridge healthcheck`, the container's probe of `/healthz`.
//! - [`online`]: `idp-bridge check-config --online`, the configuration against Appwrite and
//!   each provider.
//!
//! Layering, top to bottom. A module uses only modules on lower lines, never one above it and
//! never in a circle; every layer may use the provider API crate (`idp_provider_api`).
//! 1. `main`, [`startup`], [`telemetry`], [`init`], [`healthcheck`], [`online`]: the process.
//!    `init` writes a starting config, with a key from `login::user_id`; `online` checks a
//!    `Config` against the services it names, with `appwrite` and `login::callback_url`.
//!    `startup` turns a `Config` into the running service and may use everything below;
//!    `telemetry` reads `config::LogFormat` and starts the audit file (`audit::file`).
//!    [`reload`] builds the reloadable state for `startup` and on SIGHUP; it uses the layers
//!    below, never `startup`.
//! 2. [`config`], with [`registry`]: the file → validated settings. `config` builds the
//!    settings types that the lower modules define for themselves (`appwrite::AppwriteConfig`,
//!    `appwrite::TokenConfig`, `return_urls::RedirectConfig`, `store::StoreConfig`,
//!    `audit::AuditConfig`, `login::user_id::IdKey`) and
//!    opens providers through `registry`, which yields `login::policy::ConfiguredProvider`.
//!    Nothing below imports `config`.
//! 3. [`http`]: the HTTP edge; uses `login` only. Its `AppState` lives in `http::state`, and
//!    handlers and layers take just the part they need.
//! 4. [`login`]: the pipeline; uses `appwrite`, `store`, `return_urls`, `clock`, `metrics`,
//!    `audit` (each decision records its event) and its own submodules.
//! 5. [`appwrite`], [`store`], [`return_urls`], [`clock`], [`key_names`], [`audit`]: the
//!    leaves; they use no other module of the crate (`store` only `clock` and `return_urls`,
//!    whose targets a transaction holds; `appwrite` only `metrics`, to time its calls).
//! 6. [`metrics`]: below every module that counts (`config` hands providers its event relay,
//!    `http` serves and counts rate limits, `login` counts logins, `appwrite` times calls); it
//!    uses no other module of the crate.
//! 7. `idp_provider_api` (`providers/api`): the provider traits and shared types; provider
//!    crates such as `idp_provider_oidc` are named by `registry` alone.

pub mod appwrite;
pub mod audit;
pub mod clock;
pub mod config;
pub mod healthcheck;
pub mod http;
pub mod init;
pub mod key_names;
pub mod login;
pub mod metrics;
pub mod online;
pub mod registry;
pub mod reload;
pub mod return_urls;
pub mod startup;
pub mod store;
pub mod telemetry;
