//! Integration tests: the gateway with real parts (node `oidc-provider`, the Appwrite emulator,
//! the real binary for the log test). One module per flow.

mod abuse;
mod browser;
mod config_keys;
mod conformance;
mod custom_provider;
mod demo;
mod exchange;
mod failures;
mod helpers;
mod idp;
mod layering;
mod linking;
mod login;
mod logs;
mod ops;
mod redirect_corpus;
mod scripts;
mod tls;
mod typingdna;
