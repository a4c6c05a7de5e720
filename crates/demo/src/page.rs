//! The demo "app": one HTML page with inline CSS and JS.
//!
//! The page links to the gateway's start URL. A click on a Sign-in link makes a fresh random
//! `state`, keeps it in the tab's `sessionStorage` and sends it to `start`. When the gateway
//! sends the browser back with `userId`, `secret` and `state`, the script removes them from the
//! address bar and, only if `state` is the one this tab kept (each used once), exchanges them for
//! an Appwrite (emulator) session, then shows the session. With `error`, it shows the gateway's
//! error JSON. A result with another state, or none, is refused: a success link that another
//! browser started (an attacker's own login, forwarded) never becomes a session here. The secret
//! is never written to the page.
//!
//! The exchange uses the real Appwrite web SDK (`account.createSession({ userId, secret })`)
//! when its browser bundle is installed (`npm ci --prefix tests/browser`, see [`sdk_bundle`]):
//! the server then serves it at [`SDK_PATH`]. Without it (the demo needs nothing from npm), the
//! script makes the same call with `fetch`: `POST /account/sessions/token`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use data_encoding::BASE64;
use idp_html::escape;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the page needs to know, all public values (no API key, no secret).
#[derive(Debug, Clone)]
pub struct PageConfig {
    /// The gateway's start URL with `success` and `failure` pointing back at this page.
    pub start_url: String,
    /// The same, with `success` at `?show=token`: the page then shows the token and the `curl`
    /// that makes the session, instead of making it.
    pub show_token_url: String,
    /// Appwrite API base, e.g. `http://127.0.0.1:PORT/v1`.
    pub appwrite_endpoint: String,
    /// Appwrite project id.
    pub project: String,
    /// Shown in the page's footer.
    pub gateway_url: String,
    /// Shown in the page's footer.
    pub op_url: String,
}

/// Where the page server serves the Appwrite web SDK's browser bundle, when it is installed.
pub const SDK_PATH: &str = "/sdk/appwrite.js";

/// The Appwrite web SDK's browser bundle (it defines `window.Appwrite`), from the npm package
/// `appwrite` that `npm ci --prefix tests/browser` installs. This file is compiled in the demo
/// package (`crates/demo`) and, through `#[path]`, in the gateway's integration tests (the
/// repository root), so the bundle is looked up from either.
pub fn sdk_bundle() -> std::path::PathBuf {
    const BUNDLE: &str = "tests/browser/node_modules/appwrite/dist/iife/sdk.js";
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if here.ends_with("crates/demo") {
        here.join("../..")
    } else {
        here.to_path_buf()
    };
    root.join(BUNDLE)
}

/// Starts serving the page on `listener`; the task runs until aborted.
pub fn serve(listener: TcpListener, config: &PageConfig) -> JoinHandle<()> {
    // Optional: without the bundle the page falls back to `fetch`.
    let sdk = std::fs::read(sdk_bundle()).ok();
    let html = render(config, sdk.is_some());
    let csp = content_security_policy(&config.appwrite_endpoint, sdk.is_some());
    let mut router = Router::new().route(
        "/",
        get(move || {
            let html = html.clone();
            let csp = csp.clone();
            async move { page_response(html, &csp) }
        }),
    );
    if let Some(sdk) = sdk {
        let sdk = axum::body::Bytes::from(sdk);
        router = router.route(
            SDK_PATH,
            get(move || {
                let sdk = sdk.clone();
                async move {
                    (
                        [
                            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        sdk,
                    )
                }
            }),
        );
    }
    let router = router.fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") });
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "demo page server stopped");
        }
    })
}

fn page_response(html: String, csp: &str) -> Response {
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    // The page's address carries the token secret on return: keep it out of caches and
    // out of Referer headers.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Only the page's own inline script (by hash), the same-origin SDK bundle (when served) and
/// style run; the scripts may only talk to the Appwrite endpoint's origin.
fn content_security_policy(appwrite_endpoint: &str, sdk: bool) -> String {
    let script_hash = BASE64.encode(&Sha256::digest(SCRIPT.as_bytes()));
    let self_src = if sdk { " 'self'" } else { "" };
    let connect = url::Url::parse(appwrite_endpoint)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".to_owned());
    format!(
        "default-src 'none'; script-src 'sha256-{script_hash}'{self_src}; style-src 'unsafe-inline'; \
         connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The full page; `sdk`: load the Appwrite web SDK from [`SDK_PATH`].
pub fn render(config: &PageConfig, sdk: bool) -> String {
    let sdk_tag = if sdk {
        format!("<script src=\"{SDK_PATH}\"></script>\n")
    } else {
        String::new()
    };
    let data = serde_json::json!({
        "endpoint": config.appwrite_endpoint,
        "project": config.project,
    });
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>idp-bridge demo app</title>
<style>{STYLE}</style>
</head>
<body>
<main aria-labelledby="title">
<h1 id="title">idp-bridge demo app</h1>
<p class="note">This page plays your app. <strong>Sign in</strong> goes through the gateway to
the development OpenID provider; the gateway sends you back here with a one-time token, which
this page exchanges for an Appwrite session with <code>account.createSession({{ userId, secret }})</code>.</p>
<p><a id="sign-in" class="button" href="{start}">Sign in</a>
<a id="sign-in-show" href="{show_token}">or sign in and show the token, to make the session yourself</a></p>
<section id="result" aria-live="polite" hidden>
<h2 id="result-title"></h2>
<dl id="result-fields"></dl>
<pre id="result-json" hidden></pre>
</section>
<footer class="note">
<p>Gateway <code>{gateway}</code> · OpenID provider <code>{op}</code> · Appwrite emulator
<code>{endpoint}</code> (project <code>{project}</code>)</p>
</footer>
</main>
<script type="application/json" id="demo-config">{data}</script>
{sdk_tag}<script>{SCRIPT}</script>
</body>
</html>
"#,
        start = escape(&config.start_url),
        show_token = escape(&config.show_token_url),
        gateway = escape(&config.gateway_url),
        op = escape(&config.op_url),
        endpoint = escape(&config.appwrite_endpoint),
        project = escape(&config.project),
        data = json_for_script(&data),
    )
}

/// JSON safe inside a `<script>` element (no `</script>`, no `<!--`).
fn json_for_script(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a;background:#fff;line-height:1.5}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-bottom:.5rem}\
.note{color:#555;font-size:.9rem}\
a.button{display:inline-block;padding:.6rem 1.6rem;font-size:1rem;border-radius:.3rem;background:#1a4d8f;color:#fff;text-decoration:none}\
a.button:focus-visible{outline:3px solid #f0a000;outline-offset:2px}\
#result{border:1px solid #ccc;border-left-width:.4rem;border-radius:.3rem;padding:.2rem 1rem 1rem;margin:1.5rem 0}\
#result.ok{border-color:#2e7d32}#result.error{border-color:#c62828}#result.pending{border-color:#888}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}\
dt{font-weight:600}dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}\
pre{background:#f5f5f5;padding:.6rem;border-radius:.3rem;overflow-x:auto;font-size:.85rem}\
code{font-size:.85rem}";

/// The page's behaviour. Kept free of interpolation so its CSP hash is a constant.
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("demo-config").textContent);
  var box = document.getElementById("result");

  function show(kind, title, fields, json) {
    box.hidden = false;
    box.className = kind;
    document.getElementById("result-title").textContent = title;
    var list = document.getElementById("result-fields");
    list.textContent = "";
    fields.forEach(function (pair) {
      var dt = document.createElement("dt");
      dt.textContent = pair[0];
      var dd = document.createElement("dd");
      dd.textContent = pair[1] === undefined || pair[1] === null ? "" : String(pair[1]);
      list.appendChild(dt);
      list.appendChild(dd);
    });
    var pre = document.getElementById("result-json");
    pre.hidden = json === undefined;
    pre.textContent = json === undefined ? "" : JSON.stringify(json, null, 2);
  }

  function showError(title, error) {
    var fields = [];
    if (error && typeof error === "object") {
      fields.push(["message", error.message]);
      if (error.type !== undefined) fields.push(["type", error.type]);
      if (error.code !== undefined) fields.push(["code", error.code]);
    }
    show("error", title, fields, error);
  }

  // Sign in: a fresh random state for each login, kept in this tab only, sent to the gateway.
  var STATE_KEY = "idp-bridge-demo.state";
  ["sign-in", "sign-in-show"].forEach(function (id) {
    var link = document.getElementById(id);
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var bytes = new Uint8Array(32);
      window.crypto.getRandomValues(bytes);
      var state = Array.prototype.map.call(bytes, function (b) {
        return (b + 256).toString(16).slice(1);
      }).join("");
      window.sessionStorage.setItem(STATE_KEY, state);
      var start = new URL(link.href);
      start.searchParams.set("state", state);
      window.location.assign(start.toString());
    });
  });

  // The gateway delivers in the query by default, or in the fragment if configured: `userId`,
  // `secret` and `state` come back there (`state` on a failure too), `error` always in the query.
  var query = new URLSearchParams(window.location.search);
  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var params = fragment.has("userId") || fragment.has("state") ? fragment : query;
  var userId = params.get("userId");
  var secret = params.get("secret");
  var error = query.get("error");
  var returned = params.get("state");

  // Take the token out of the address bar (and history) before anything else.
  var answered = userId !== null || secret !== null || error !== null;
  if (answered) {
    ["userId", "secret", "error", "state"].forEach(function (name) {
      query.delete(name);
      fragment.delete(name);
    });
    var rest = query.toString();
    var hash = fragment.toString();
    window.history.replaceState(null, "", window.location.pathname +
      (rest ? "?" + rest : "") + (hash ? "#" + hash : ""));
  }
  // The state this tab kept for its login, used once.
  var expected = window.sessionStorage.getItem(STATE_KEY);
  if (answered) window.sessionStorage.removeItem(STATE_KEY);

  if (answered && (expected === null || returned !== expected)) {
    // Not the answer to a login this tab started: a link from someone else's login. Making a
    // session from it would sign this browser into their account.
    showError("Refused: this sign-in was not started in this browser", {
      message: "The result's state is not the one this page sent. No session was made; sign in again."
    });
  } else if (error === null && userId && secret && query.get("show") === "token") {
    // Asked for on purpose (the second link): a local demo may show its one-time secret, so
    // that the session can be made by hand. A real app never writes it to the page.
    var curl = "curl -s -X POST " + config.endpoint + "/account/sessions/token" +
      " -H 'X-Appwrite-Project: " + config.project + "'" +
      " -H 'Content-Type: application/json'" +
      " -d '" + JSON.stringify({ userId: userId, secret: secret }) + "'";
    show("ok", "Token minted: make the session yourself (once, within its expiry)", [
      ["userId", userId],
      ["secret", secret],
      ["curl", curl]
    ]);
  } else if (error !== null) {
    var parsed;
    try { parsed = JSON.parse(error); } catch (e) { parsed = { message: error }; }
    showError("The login failed", parsed);
  } else if (userId && secret && window.Appwrite && window.Appwrite.Client) {
    // The Appwrite web SDK, as a real app does it.
    show("pending", "Creating the Appwrite session\u2026", [["user id", userId]]);
    var client = new window.Appwrite.Client()
      .setEndpoint(config.endpoint)
      .setProject(config.project);
    new window.Appwrite.Account(client).createSession({ userId: userId, secret: secret })
      .then(function (session) {
        show("ok", "Signed in: Appwrite session created", [
          ["user id", session.userId],
          ["session id", session["$id"]],
          ["provider", session.provider],
          ["expires", session.expire],
          ["client", "Appwrite web SDK " + client.headers["x-sdk-version"]]
        ]);
      }, function (e) {
        showError(e && e.code ? "Appwrite refused the token (HTTP " + e.code + ")" :
          "Appwrite could not be reached",
          { message: String(e && e.message), type: e && e.type, code: e && e.code });
      });
  } else if (userId && secret) {
    // No SDK bundle served: the same call by hand.
    show("pending", "Creating the Appwrite session\u2026", [["user id", userId]]);
    fetch(config.endpoint + "/account/sessions/token", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Appwrite-Project": config.project
      },
      body: JSON.stringify({ userId: userId, secret: secret })
    }).then(function (response) {
      return response.json().catch(function () {
        return { message: "Appwrite answered " + response.status + " without JSON." };
      }).then(function (body) {
        if (response.ok) {
          show("ok", "Signed in: Appwrite session created", [
            ["user id", body.userId],
            ["session id", body["$id"]],
            ["provider", body.provider],
            ["expires", body.expire],
            ["client", "fetch"]
          ]);
        } else {
          showError("Appwrite refused the token (HTTP " + response.status + ")", body);
        }
      });
    }).catch(function (e) {
      showError("Appwrite could not be reached", { message: String(e) });
    });
  } else if (userId !== null || secret !== null) {
    showError("The return address is incomplete", { message: "Both userId and secret are needed." });
  }
})();
"##;
