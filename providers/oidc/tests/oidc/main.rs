//! Integration tests of the generic OIDC provider against mock-op, driven as the gateway drives
//! it. One test binary (one link) with a module per theme.

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
