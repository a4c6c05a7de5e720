//! Integration tests of the generic OIDC provider against mock-op, driven as the gateway drives
//! it. One test binary (one link) with a module per theme.

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod claims;
mod discovery;
mod extension;
mod flow;
mod id_token_exchange;
mod jwks_cache;
mod keys;
mod kidless;
mod logout;
mod online;
mod signature;
mod support;
