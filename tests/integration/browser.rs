//! Real browsers: headless Debian Chromium, driven by `tests/browser/*.mjs` (npm
//! `playwright-core`), signs in through the demo stack (`crates/demo/src/stack.rs`) from two
//! apps, each making the session with the real Appwrite web SDK (npm `appwrite`):
//! - the demo page (`tests/browser/login.mjs`);
//! - the book's example single-page app, `examples/spa` (`tests/browser/spa.mjs`), served here
//!   as a reader would serve it, on an origin of its own that the gateway allows.
//!
//! Then, for each, a success link that an attacker's browser started is opened in the victim's:
//! the page checks the app `state` it kept and refuses it, so no session is made for the
//! attacker's account.
//!
//! Needs Chromium (`$CHROMIUM_PATH` if set, else `/usr/bin/chromium` from `apt-get install
//! chromium`: the rule of `login.mjs` and `scripts/test` too) and `npm ci --prefix tests/browser`;
//! `scripts/test` and `.ci/run` install both. Without them this test fails, it never skips.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

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

/// Runs `node tests/browser/<script> <app_url>` with the Chromium of this machine, and returns
/// the JSON line it prints (`{"userId", "sessionId", "forwardedUserId"}`).
async fn run_browser(script: &str, app_url: &str) -> Value {
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

    let mut command = tokio::process::Command::new("node");
    command
        .arg(root.join("tests/browser").join(script))
        .arg(app_url)
        .env("CHROMIUM_PATH", &chromium)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} finishes within 60 s"))
        .unwrap_or_else(|e| panic!("run `node tests/browser/{script}` (is node installed?): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser login of {script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from {script}:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}

/// What the emulator must hold after one browser login and one refused forwarded link: the
/// user, exactly one session (the browser's), that user's token consumed by the SDK, and the
/// attacker's forwarded token (another account's) never redeemed.
fn assert_one_session_and_the_forwarded_token_unused(stack: &stack::Stack, result: &Value) {
    let user_id = result["userId"].as_str().expect("userId");
    let session_id = result["sessionId"].as_str().expect("sessionId");
    assert!(!session_id.is_empty(), "a session id: {result}");

    // The gateway made (or found) the user; the SDK exchanged its token for one session.
    let user = stack
        .emulator
        .user(user_id)
        .unwrap_or_else(|| panic!("the emulator has no user {user_id:?}"));
    assert_eq!(user["$id"], user_id);
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
}

#[tokio::test]
async fn a_real_browser_logs_in_with_the_appwrite_web_sdk() {
    let stack = stack::start(stack::Ports::ANY).await;
    stack
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("demo gateway ready");

    let result = run_browser("login.mjs", &stack.app_url).await;
    assert_one_session_and_the_forwarded_token_unused(&stack, &result);

    stack.stop().await;
}

/// Serves `examples/spa` on `listener` as the book tells a reader to: its three files, the
/// Appwrite web SDK's browser bundle as `appwrite.js`, and `config.json` with `config`.
fn serve_example_spa(listener: TcpListener, config: &Value) -> tokio::task::JoinHandle<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read =
        |path: PathBuf| std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spa = root.join("examples/spa");
    let files = [
        (
            "/",
            "text/html; charset=utf-8",
            read(spa.join("index.html")),
        ),
        (
            "/app.js",
            "text/javascript; charset=utf-8",
            read(spa.join("app.js")),
        ),
        (
            "/style.css",
            "text/css; charset=utf-8",
            read(spa.join("style.css")),
        ),
        (
            "/appwrite.js",
            "text/javascript; charset=utf-8",
            read(stack::page::sdk_bundle()),
        ),
        (
            "/config.json",
            "application/json",
            config.to_string().into_bytes(),
        ),
    ];
    let mut router = Router::new();
    for (path, content_type, body) in files {
        let body = axum::body::Bytes::from(body);
        router = router.route(
            path,
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, content_type)], body) }
            }),
        );
    }
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the example app's server");
    })
}

#[tokio::test]
async fn the_example_spa_signs_in_and_refuses_a_forwarded_link() {
    // The page's origin is its own: the gateway allows it beside the demo page, and so answers
    // its `GET /v1/providers` with CORS.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let spa_url = format!("http://{}/", listener.local_addr().expect("address"));
    let stack = stack::start_allowing(stack::Ports::ANY, &[&spa_url]).await;
    stack
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("demo gateway ready");
    let page = serve_example_spa(
        listener,
        &json!({
            "gateway": stack.gateway_url,
            "appwriteEndpoint": stack.appwrite_endpoint,
            "appwriteProject": stack.project,
        }),
    );

    let result = run_browser("spa.mjs", &spa_url).await;
    assert_one_session_and_the_forwarded_token_unused(&stack, &result);

    page.abort();
    stack.stop().await;
}
