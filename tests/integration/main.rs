//! Integration tests: the gateway with real parts (node `oidc-provider`, the Appwrite emulator,
//! the real binary for the log test). One module per flow.

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod app_state;
mod assertion_logs;
mod audit;
mod auth0;
mod backchannel;
mod browser;
#[path = "../common/check_config_cli.rs"]
mod check_config_cli;
mod check_config_online;
mod config_watch;
mod conformance;
mod connections;
mod custom_provider;
mod demo;
mod entra;
mod exchange;
mod failures;
mod google;
mod healthcheck;
mod helpers;
mod holders;
mod id_token_exchange;
mod idp;
mod linking;
mod login;
mod logs;
mod metrics;
mod ops;
mod policy;
mod redis;
mod redis_flood;
mod redis_server;
mod reload;
mod signed_assertion;
mod store_contract;
mod tls;
mod typingdna;
mod watch;
