//! Records the version and the git commit the binary is built from, for `idp-bridge --version`
//! and the `idp_bridge_build_info` metric (see `build/version.rs` for the rules). Outside a git
//! checkout (a source tarball, `cargo install` from a registry, a container build without
//! `COMMIT`) the commit is "unknown".

use std::process::Command;

#[path = "build/version.rs"]
mod version;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// An environment variable, unset and not Unicode alike.
fn env(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok()
}

fn main() {
    let crate_version = env!("CARGO_PKG_VERSION");
    let version = version::reported_version(env("IDP_BRIDGE_VERSION").as_deref(), crate_version);
    let commit = version::reported_commit(env("IDP_BRIDGE_COMMIT").as_deref());
    let (version, commit) = match (version, commit) {
        (Ok(version), Ok(commit)) => (version, commit),
        (Err(error), _) | (_, Err(error)) => {
            // A build script's way to fail with a message (cargo shows it as an error).
            println!("cargo::error={error}");
            return;
        }
    };
    let commit = commit
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BUILD_VERSION={version}");
    println!("cargo:rustc-env=BUILD_GIT_COMMIT={commit}");
    // Rebuild the version line when HEAD moves: `logs/HEAD` grows on every commit, checkout
    // and reset. `--git-dir` also finds the directory of a `git worktree`.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        for file in ["HEAD", "logs/HEAD"] {
            let path = std::path::Path::new(&dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/version.rs");
}
