//! Integration tests: the gateway with real parts (node `oidc-provider`, the Appwrite emulator,
//! the real binary for the log test). One module per flow.

mod abuse;
mod assertion_logs;
mod auth0;
mod browser;
mod check_config;
mod check_config_online;
mod config_keys;
mod conformance;
mod custom_provider;
mod demo;
mod deploy;
mod dockerfile;
mod entra;
mod exchange;
mod failures;
mod google;
mod healthcheck;
mod helpers;
mod id_token_exchange;
mod idp;
mod layering;
mod linking;
mod login;
mod logs;
mod metrics;
mod ops;
mod policy;
mod redirect_corpus;
mod redis;
mod redis_server;
mod reload;
mod scripts;
mod signed_assertion;
mod tls;
mod typingdna;
