//! `scripts/test`, run from a copy of the script in a scratch tree with `npm`, `cargo` and
//! Chromium replaced by recorders: it reinstalls a folder's npm packages when that folder's
//! `package-lock.json` is newer than the copy npm installed (`node_modules/.package-lock.json`),
//! and it finds Chromium by the browser test's rule (`CHROMIUM_PATH`, else `/usr/bin/chromium`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Sets a file's modification time.
fn touch(path: &Path, at: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(at))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// A scratch tree holding `scripts/test`, both npm folders installed, and recorders for `npm`
/// and `cargo` (which log their arguments to `npm.log` and `cargo.log`), an `apt-get` that
/// refuses, and a fake Chromium.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        fs::create_dir_all(root.join("scripts")).expect("mkdir");
        fs::copy(repo.join("scripts/test"), root.join("scripts/test")).expect("copy scripts/test");
        let old = SystemTime::now() - Duration::from_secs(3600);
        for folder in ["tests/idp", "tests/browser"] {
            let modules = root.join(folder).join("node_modules");
            fs::create_dir_all(&modules).expect("mkdir");
            fs::write(root.join(folder).join("package-lock.json"), "{}").expect("lock");
            fs::write(modules.join(".package-lock.json"), "{}").expect("installed lock");
            // Installed after the lockfile was last written: up to date.
            touch(&root.join(folder).join("package-lock.json"), old);
        }
        let bin = root.join("bin");
        fs::create_dir_all(&bin).expect("mkdir");
        script(
            &bin.join("npm"),
            &format!("echo \"$*\" >> {}/npm.log", root.display()),
        );
        script(
            &bin.join("cargo"),
            &format!("echo \"$*\" >> {}/cargo.log", root.display()),
        );
        script(&bin.join("chromium"), "exit 0");
        // Never install anything for real from a test.
        script(
            &bin.join("apt-get"),
            &format!("echo \"$*\" >> {}/apt.log; exit 1", root.display()),
        );
        script(&bin.join("sudo"), "exit 1");
        Self { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the copied `scripts/test` with the recorders first on `PATH` and `CHROMIUM_PATH`.
    fn run(&self, chromium_path: &Path) -> std::process::Output {
        let path = format!(
            "{}:{}",
            self.root().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .arg(self.root().join("scripts/test"))
            .env("PATH", path)
            .env("CHROMIUM_PATH", chromium_path)
            .output()
            .expect("run scripts/test")
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.root().join(name)).unwrap_or_default()
    }
}

#[test]
fn scripts_test_reinstalls_npm_packages_when_the_lockfile_is_newer() {
    let scratch = Scratch::new();
    // tests/idp's lockfile changed after its packages were installed (a pull, an upgrade).
    let lock = scratch.root().join("tests/idp/package-lock.json");
    touch(&lock, SystemTime::now() + Duration::from_secs(60));

    let output = scratch.run(&scratch.root().join("bin/chromium"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scripts/test failed: {stderr}");
    let npm = scratch.log("npm.log");
    assert!(
        npm.contains("ci --prefix tests/idp"),
        "a lockfile newer than node_modules must trigger `npm ci`; npm saw: {npm:?}\n{stderr}"
    );
    assert!(
        !npm.contains("tests/browser"),
        "tests/browser is up to date and must not be reinstalled; npm saw: {npm:?}"
    );
    assert!(
        scratch.log("cargo.log").contains("nextest run --workspace"),
        "the tests ran: {:?}",
        scratch.log("cargo.log")
    );
}

#[test]
fn scripts_test_leaves_up_to_date_npm_packages_alone() {
    let scratch = Scratch::new();
    let output = scratch.run(&scratch.root().join("bin/chromium"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(scratch.log("npm.log"), "", "nothing to reinstall");
}

#[test]
fn scripts_test_reinstalls_when_the_installed_lockfile_is_missing() {
    let scratch = Scratch::new();
    fs::remove_file(
        scratch
            .root()
            .join("tests/browser/node_modules/.package-lock.json"),
    )
    .expect("rm");
    let output = scratch.run(&scratch.root().join("bin/chromium"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        scratch.log("npm.log").contains("ci --prefix tests/browser"),
        "{:?}",
        scratch.log("npm.log")
    );
}

#[test]
fn scripts_test_uses_chromium_path_and_fails_when_it_names_nothing() {
    let scratch = Scratch::new();
    let missing = scratch.root().join("no-such-chromium");
    let output = scratch.run(&missing);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a CHROMIUM_PATH that names nothing must fail scripts/test"
    );
    assert!(
        stderr.contains("CHROMIUM_PATH") && stderr.contains("no-such-chromium"),
        "the message names CHROMIUM_PATH and its value: {stderr}"
    );
    assert_eq!(scratch.log("cargo.log"), "", "no test ran");
}
