//! The demo in a real browser: headless Debian Chromium, driven by `tests/browser/login.mjs`
//! (npm `playwright-core`), signs in through the demo stack (`crates/demo/src/stack.rs`), and the
//! demo page creates the session with the real Appwrite web SDK (npm `appwrite`). Then a success
//! link that an attacker's browser started is opened in the victim's: the page checks the app
//! `state` it kept and refuses it, so no session is made for the attacker's account.
//!
//! Needs Chromium (`$CHROMIUM_PATH` if set, else `/usr/bin/chromium` from `apt-get install
//! chromium`: the rule of `login.mjs` and `scripts/test` too) and `npm ci --prefix tests/browser`;
//! `scripts/test` and `.ci/run` install both. Without them this test fails, it never skips.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

// The demo's stack, loaded once by demo.rs (`crates/demo/src/stack.rs`).
use super::demo::stack;

/// Debian's Chromium, used when `CHROMIUM_PATH` is not set.
const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// The Chromium to drive, given the value of `CHROMIUM_PATH`: that value when set and not empty
/// (as `process.env.CHROMIUM_PATH || ...` in `login.mjs`), else [`DEBIAN_CHROMIUM`]. The test
/// hands the result to `login.mjs` in `CHROMIUM_PATH`, so both use the same binary.
fn chromium_path(chromium_path_env: Option<OsString>) -> PathBuf {
    chromium_path_env
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from(DEBIAN_CHROMIUM), PathBuf::from)
}

#[test]
fn chromium_path_is_chromium_path_else_debians() {
    assert_eq!(chromium_path(None), Path::new("/usr/bin/chromium"));
    assert_eq!(
        chromium_path(Some(OsString::new())),
        Path::new("/usr/bin/chromium"),
        "an empty CHROMIUM_PATH is unset, as in login.mjs"
    );
    assert_eq!(
        chromium_path(Some("/opt/chromium/chrome".into())),
        Path::new("/opt/chromium/chrome")
    );
}

#[tokio::test]
async fn a_real_browser_logs_in_with_the_appwrite_web_sdk() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = chromium_path(std::env::var_os("CHROMIUM_PATH"));
    assert!(
        chromium.is_file(),
        "{} is missing: install Debian's Chromium with `apt-get install chromium` \
         (scripts/test does it when run as root), or set CHROMIUM_PATH to a Chromium",
        chromium.display()
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir()
            && stack::page::sdk_bundle().is_file(),
        "tests/browser/node_modules is missing or incomplete: run `npm ci --prefix tests/browser`"
    );

    let stack = stack::start(stack::Ports::ANY).await;
    stack
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("demo gateway ready");

    let mut command = tokio::process::Command::new("node");
    command
        .arg(root.join("tests/browser/login.mjs"))
        .arg(&stack.app_url)
        .env("CHROMIUM_PATH", &chromium)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the browser login finishes within 60 s")
        .expect("run `node tests/browser/login.mjs` (is node installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser login failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );

    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from login.mjs:\n{stdout}\n{stderr}"));
    let result: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"));
    let user_id = result["userId"].as_str().expect("userId").to_owned();
    let session_id = result["sessionId"].as_str().expect("sessionId");
    assert!(!session_id.is_empty(), "a session id: {line}");

    // The gateway made (or found) the user; the SDK exchanged its token for one session.
    let user = stack
        .emulator
        .user(&user_id)
        .unwrap_or_else(|| panic!("the emulator has no user {user_id:?}"));
    assert_eq!(user["$id"], user_id.as_str());
    assert_eq!(
        stack.emulator.sessions_count(),
        1,
        "exactly one session, the browser's"
    );
    let tokens = stack.emulator.tokens();
    assert!(
        tokens
            .iter()
            .any(|token| token.user_id == user_id && token.consumed),
        "{user_id}'s token, consumed by the SDK: {tokens:?}"
    );

    // The attacker's forwarded link (Bob's token, the attacker's state) was refused by the
    // page: Bob's token is still unused, and the one session is the victim's own.
    let forwarded = result["forwardedUserId"].as_str().expect("forwardedUserId");
    assert_ne!(
        forwarded, user_id,
        "the forwarded link is another account's"
    );
    let bobs: Vec<_> = tokens
        .iter()
        .filter(|token| token.user_id == forwarded)
        .collect();
    assert!(
        bobs.len() == 1 && !bobs[0].consumed,
        "the forwarded token was never redeemed: {tokens:?}"
    );
    assert_eq!(tokens.len(), 2, "one token per login: {tokens:?}");

    stack.stop().await;
}
