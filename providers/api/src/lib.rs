//! The contract between the idp-bridge gateway and its provider plugins.
//!
//! A provider turns a request into a verified [`Identity`]; nothing else crosses the boundary.
//! Everything after that (policy, user mapping, minting, delivery) is gateway code that knows no
//! provider. The shape follows Dex's connectors: the base [`Provider`] trait only says which flows
//! a provider supports, and each flow is a small capability trait of its own.
//!
//! Layout:
//! - [`identity`]: `Identity`, the only thing a provider hands back.
//! - [`flow`]: `Provider`, `RedirectFlow`, `AssertionFlow` and their inputs.
//! - [`error`]: `ProviderError` and `Rejection`, which the edge tells apart.
//! - [`secret`]: `Secret<T>`, a value that never prints.
//! - [`url_rule`]: the https-or-loopback rule for configured URLs.

pub mod error;
pub mod flow;
pub mod identity;
pub mod secret;
pub mod url_rule;

pub use error::{ConfigProblem, OpenError, ProviderError, Rejection, error_chain};
pub use flow::{
    AssertionFlow, AuthorizationRequest, CallbackInput, Provider, ProviderInfo, RedirectFlow,
};
pub use identity::Identity;
pub use secret::Secret;
