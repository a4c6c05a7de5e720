//! idp-bridge: logs Appwrite users in through identity providers that Appwrite does not verify
//! itself, by validating the provider's assertion, finding or creating the Appwrite user, and
//! minting an Appwrite custom token that the app turns into a session.
//!
//! Layout:
//! - [`config`]: TOML + environment → validated `Config`, every problem naming its key.
//! - [`registry`]: provider `type` → the provider crate's `open`; one line per provider.
//! - [`startup`]: `Application::build`, `local_addr`, `run_until_stopped`.
//! - [`state`]: `AppState`, what handlers reach.
//! - [`http`]: routes, layers, the three error responses, extractors, rate limits.
//! - [`login`]: the pipeline (start, callback → identity → user → token → redirect), with
//!   `transaction` (state/nonce/PKCE, cookie binding), `redirect` (allow-list, delivery),
//!   `mapping` (identity → Appwrite user) and `error`. Knows no provider.
//! - [`appwrite`]: the typed Users API client.
//! - [`store`]: where login transactions wait between start and callback.
//! - [`clock`]: time as a dependency.
//! - [`telemetry`]: log setup.

pub mod appwrite;
pub mod clock;
pub mod config;
pub mod http;
pub mod login;
pub mod redirect;
pub mod registry;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
