//! A real OpenID Provider for the integration tests: `tests/idp/idp.mjs` (node, panva's
//! `oidc-provider` 9.13.3), started once per test on a free loopback port.
//!
//! Needs `node` on PATH and `npm ci --prefix tests/idp` run once beforehand.
//!
//! The provider's fixed facts (see `tests/idp/idp.mjs`):
//! * client [`CLIENT_ID`] / [`CLIENT_SECRET`], code flow only, PKCE S256 required, scopes
//!   `openid email profile`, ID tokens signed RS256 with kid [`SIGNING_KID`];
//! * users by `login_hint`: `alice` (default; alice@example.test, verified, org_id org_123),
//!   `bob` (bob@example.test, **not** verified), `carol` (clash@example.test, verified);
//!   `login_hint=deny` makes the provider redirect back with `error=access_denied`;
//! * login and consent are zero-click: [`follow_until`] walks the redirects (about 5 hops).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The client registered in the provider (override with `IDP_CLIENT_ID` in [`NodeIdp::spawn_with_env`]).
pub const CLIENT_ID: &str = "gateway";
/// Its secret (override with `IDP_CLIENT_SECRET`).
pub const CLIENT_SECRET: &str = "gateway-secret-0123456789abcdef";
/// `kid` of the provider's fixed RS256 test key.
pub const SIGNING_KID: &str = "idp-bridge-test-rs256-1";

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_HOPS: usize = 15;

/// `tests/idp` of the gateway package.
pub fn idp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("idp")
}

/// A free port on 127.0.0.1 (bound, read, released), for tests that must know the port before
/// the provider starts, e.g. to set `IDP_ISSUER`. [`NodeIdp::spawn`] does not need it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// A running node oidc-provider; killed on drop.
pub struct NodeIdp {
    /// The issuer exactly as the provider announces it, e.g. `http://127.0.0.1:40571`.
    pub issuer: String,
    child: Child,
}

impl NodeIdp {
    /// Starts `node tests/idp/idp.mjs` on a free loopback port with the given exact redirect URIs
    /// and token endpoint auth method (`client_secret_basic` or `client_secret_post`); waits for
    /// its `READY <issuer>` line (20 s at most).
    pub async fn spawn(redirect_uris: &[String], auth_method: &str) -> NodeIdp {
        Self::spawn_with_env(redirect_uris, auth_method, &[]).await
    }

    /// Like [`NodeIdp::spawn`], with extra `IDP_*` variables applied last, e.g. a fixed port and
    /// an issuer with a trailing slash:
    /// `[("IDP_PORT", &port.to_string()), ("IDP_ISSUER", &format!("http://127.0.0.1:{port}/"))]`
    /// with `port` from [`free_port`]. Without `IDP_PORT` the provider listens on port 0 and
    /// reports the port it got.
    pub async fn spawn_with_env(
        redirect_uris: &[String],
        auth_method: &str,
        env: &[(&str, &str)],
    ) -> NodeIdp {
        let dir = idp_dir();
        let script = dir.join("idp.mjs");
        assert!(
            script.is_file(),
            "test IdP script missing: {}",
            script.display()
        );
        if !dir
            .join("node_modules")
            .join("oidc-provider")
            .join("package.json")
            .is_file()
        {
            panic!(
                "the test IdP's node modules are missing in {}: run `npm ci --prefix tests/idp` \
                 in the repository root first (needs node and npm)",
                dir.display()
            );
        }
        assert!(
            !redirect_uris.is_empty(),
            "NodeIdp::spawn needs at least one redirect URI"
        );

        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .current_dir(&dir)
            // An IdP started by hand or by .ci/run must not leak its settings into this one.
            .env_remove("IDP_ISSUER")
            .env_remove("IDP_CLIENT_ID")
            .env_remove("IDP_CLIENT_SECRET")
            .env_remove("IDP_POST_LOGOUT_REDIRECT_URIS")
            .env_remove("IDP_BACKCHANNEL_LOGOUT_URI")
            .env("IDP_PORT", "0")
            .env("IDP_REDIRECT_URIS", redirect_uris.join(","))
            .env("IDP_AUTH_METHOD", auth_method)
            // node exits when this process dies and the stdin pipe closes, even on SIGKILL.
            .env("IDP_EXIT_ON_STDIN_EOF", "1");
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(err) => panic!(
                "cannot start `node {}`: {err} (is node on PATH? then run `npm ci --prefix tests/idp`)",
                script.display()
            ),
        };

        // stderr: forwarded with a prefix (captured per test by libtest when the runtime is
        // current-thread) and kept for the panic messages below.
        let stderr_lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let kept = stderr_lines.clone();
        let stderr_task = tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                eprintln!("[idp] {line}");
                kept.lock().unwrap().push(line);
            }
        });

        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let waited = tokio::time::timeout(READY_TIMEOUT, async {
            loop {
                match stdout.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(issuer) = line.strip_prefix("READY ") {
                            return Ok(issuer.trim().to_owned());
                        }
                        eprintln!("[idp stdout] {line}");
                    }
                    Ok(None) => return Err("stdout closed before READY (node exited)".to_owned()),
                    Err(err) => return Err(format!("reading stdout: {err}")),
                }
            }
        })
        .await;

        let failure = match waited {
            Ok(Ok(issuer)) => {
                // Keep draining stdout so that node can never block on a full pipe.
                tokio::spawn(async move {
                    while let Ok(Some(line)) = stdout.next_line().await {
                        eprintln!("[idp stdout] {line}");
                    }
                });
                return NodeIdp { issuer, child };
            }
            Ok(Err(why)) => why,
            Err(_) => format!("no READY line within {} s", READY_TIMEOUT.as_secs()),
        };
        let _ = child.start_kill();
        let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        // The stderr task has the last lines once the pipe ends (a hang guard, should a
        // leftover process of node's hold the pipe open).
        let _ = tokio::time::timeout(Duration::from_secs(5), stderr_task).await;
        let stderr_text = stderr_lines.lock().unwrap().join("\n");
        panic!(
            "test IdP `node {}` did not start: {failure}; exit: {status:?}\n\
             (if node_modules is stale or broken, run `npm ci --prefix tests/idp`)\n\
             --- its stderr ---\n{stderr_text}",
            script.display()
        );
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    /// The node process id (e.g. to stop it mid-test with [`NodeIdp::kill`]).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the provider now and waits for it to exit.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Follows the provider's redirects from an authorization URL (as a browser would, with the given
/// cookie-keeping reqwest client that has redirects disabled) until a Location that starts with
/// `stop_prefix` (the gateway callback URL); returns that full URL. Panics with the hop list if it
/// takes more than 15 hops or hits a non-redirect status.
///
/// The client must be built with `.cookie_store(true)` and
/// `.redirect(reqwest::redirect::Policy::none())`.
///
/// One 200 is followed too, as a browser with JavaScript would: the provider's self-submitting
/// form (`document.forms[0].submit()`) that posts back to the provider. oidc-provider answers with
/// it when the same cookie jar logs in as another user (it ends the old session first).
pub async fn follow_until(
    client: &reqwest::Client,
    start: url::Url,
    stop_prefix: &str,
) -> url::Url {
    let mut hops: Vec<String> = Vec::new();
    let mut current = start;
    let mut form: Option<Vec<(String, String)>> = None;
    loop {
        if hops.len() >= MAX_HOPS {
            panic!(
                "follow_until: no Location starting with {stop_prefix:?} after {MAX_HOPS} hops:\n  {}",
                hops.join("\n  ")
            );
        }
        let (method, request) = match form.take() {
            Some(fields) => ("POST", client.post(current.clone()).form(&fields)),
            None => ("GET", client.get(current.clone())),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => panic!(
                "follow_until: {method} {current} failed: {err}\nhops so far:\n  {}",
                hops.join("\n  ")
            ),
        };
        let status = response.status();
        hops.push(format!("{status} {method} {current}"));

        if !status.is_redirection() {
            let body = response.text().await.unwrap_or_default();
            if status == reqwest::StatusCode::OK
                && let Some((action, fields)) = self_submitting_form(&body)
                && let Ok(target) = current.join(&action)
                && target.origin() == current.origin()
                && !target.as_str().starts_with(stop_prefix)
            {
                current = target;
                form = Some(fields);
                continue;
            }
            let body: String = body.chars().take(2000).collect();
            panic!(
                "follow_until: {status} (not a redirect) waiting for {stop_prefix:?}\nhops:\n  {}\nbody:\n{body}",
                hops.join("\n  ")
            );
        }
        let Some(location) = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        else {
            panic!(
                "follow_until: {status} without a usable Location header\nhops:\n  {}",
                hops.join("\n  ")
            );
        };
        let next = match current.join(location) {
            Ok(next) => next,
            Err(err) => panic!(
                "follow_until: bad Location {location:?}: {err}\nhops:\n  {}",
                hops.join("\n  ")
            ),
        };
        if next.as_str().starts_with(stop_prefix) {
            return next;
        }
        current = next;
    }
}

/// oidc-provider's `formPost` page: `<form method="post" action="...">` with hidden inputs and a
/// script that submits it on load. Returns the action and the fields.
fn self_submitting_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    if !html.contains("document.forms[0].submit()") {
        return None;
    }
    let form_at = html.find("<form method=\"post\" action=\"")?;
    let action_start = form_at + "<form method=\"post\" action=\"".len();
    let action_end = action_start + html[action_start..].find('"')?;
    let action = html_unescape(&html[action_start..action_end]);
    let mut fields = Vec::new();
    let mut rest = &html[action_end..];
    while let Some(at) = rest.find("<input ") {
        rest = &rest[at + "<input ".len()..];
        let tag = &rest[..rest.find('>')?];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            let start = tag.find(&key)? + key.len();
            let end = start + tag[start..].find('"')?;
            Some(html_unescape(&tag[start..end]))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
    }
    Some((action, fields))
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
