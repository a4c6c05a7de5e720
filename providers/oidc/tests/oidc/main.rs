//! Integration tests of the generic OIDC provider against mock-op, driven as the gateway drives
//! it. One test binary (one link) with a module per theme.
//!
//! JWT-attack verdicts (docs/rp-conformance.md sections 2 and 4) live in one place, the
//! gateway's conformance suite (`tests/integration/conformance/`), because there each is proven
//! through a full login (nothing minted, no Appwrite or userinfo call, clean logs) and that is
//! the list users and the security team read; the tests here cover only what those rows do not
//! (other algorithms, spellings and settings, the provider's API), and each such test names the
//! row it complements.

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
