//! Checks that need no running provider, emulator or browser: the configuration's keys and
//! messages (check-config, through the real binary), the layering of `src/`, the docs against
//! the code, the repository's scripts, Dockerfile, deployment files and runbook, and the
//! redirect corpus. A test binary of their own, apart from the integration tests' real parts:
//! they build and run in seconds (`cargo nextest run --test repository`).

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_config;
#[path = "../common/check_config_cli.rs"]
mod check_config_cli;
mod config_keys;
mod deploy;
mod dockerfile;
mod docs;
mod layering;
mod redirect_corpus;
mod runbook;
mod scripts;
