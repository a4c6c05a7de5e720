//! The floor: a minimal axum + reqwest program that makes exactly the HTTP calls of one gateway
//! login (for a returning user, as the Appwrite emulator's call log shows them) and checks
//! nothing but that each call succeeded (a failed call would make it a floor of nothing). Whatever the gateway costs above this is its own work: the checks, the store, the
//! logging, its framework layers.
//!
//! - `GET /v1/auth/corp/start` → 302 to the OP's `/authorize` (fixed nonce and PKCE challenge,
//!   `state` a counter), with a cookie like the gateway's;
//! - `GET /v1/auth/corp/callback` → `POST {op}/token` (client_secret_basic, the code, the fixed
//!   verifier), `GET {appwrite}/users/{id}`, `POST {appwrite}/users/{id}/tokens` →
//!   302 to the success URL with `userId` and `secret`.
//!
//! Usage: `login-floor --op ISSUER --client-id ID --client-secret S --appwrite ENDPOINT
//! --project P --api-key K --user-id U [--current-thread]`; prints `READY {"url": ...}`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use serde::Deserialize;

/// The command line.
#[derive(Parser)]
struct Args {
    /// The OP's issuer (its endpoints are `/authorize` and `/token` under it).
    #[arg(long)]
    op: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    client_secret: String,
    /// Appwrite's endpoint, `http://host:port/v1`.
    #[arg(long)]
    appwrite: String,
    #[arg(long)]
    project: String,
    #[arg(long)]
    api_key: String,
    /// The Appwrite user every login ends with.
    #[arg(long)]
    user_id: String,
    /// Run on a current-thread runtime instead of the multi-thread one.
    #[arg(long)]
    current_thread: bool,
}

/// The fixed PKCE pair and nonce: the floor checks nothing, so nothing needs to be fresh.
const VERIFIER: &str = "floor-pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz";
const NONCE: &str = "floor-nonce-0123456789";
/// Where every login ends (the benchmark's success page).
const SUCCESS: &str = "http://127.0.0.1:3000/app/done";

struct Floor {
    args: Args,
    http: reqwest::Client,
    callback: String,
    challenge: String,
    states: AtomicU64,
}

#[derive(Deserialize)]
struct Minted {
    secret: String,
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn start(
    State(floor): State<Arc<Floor>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let state = floor.states.fetch_add(1, Ordering::Relaxed).to_string();
    let mut url = format!("{}/authorize", floor.args.op);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &floor.args.client_id)
        .append_pair("redirect_uri", &floor.callback)
        .append_pair("scope", "openid email profile")
        .append_pair("state", &state)
        .append_pair("nonce", NONCE)
        .append_pair("code_challenge", &floor.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair(
            "login_hint",
            params.get("login_hint").map_or("", String::as_str),
        )
        .finish();
    url.push('?');
    url.push_str(&query);
    let mut response = found(&url);
    let cookie = format!("floor={state}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn callback(
    State(floor): State<Arc<Floor>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match finish(&floor, &params).await {
        Ok(location) => found(&location),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn finish(floor: &Floor, params: &HashMap<String, String>) -> reqwest::Result<String> {
    let a = &floor.args;
    let code = params.get("code").map_or("", String::as_str);
    floor
        .http
        .post(format!("{}/token", a.op))
        .basic_auth(&a.client_id, Some(&a.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &floor.callback),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let appwrite = |method, path: String| {
        floor
            .http
            .request(method, format!("{}{path}", a.appwrite))
            .header("X-Appwrite-Project", &a.project)
            .header("X-Appwrite-Key", &a.api_key)
            .header("X-Appwrite-Response-Format", "1.8.0")
    };
    appwrite(reqwest::Method::GET, format!("/users/{}", a.user_id))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let minted: Minted = appwrite(
        reqwest::Method::POST,
        format!("/users/{}/tokens", a.user_id),
    )
    .json(&serde_json::json!({"length": 64, "expire": 60}))
    .send()
    .await?
    .error_for_status()?
    .json()
    .await?;
    // The floor keeps no transaction, so the success page is the benchmark's fixed one.
    let mut location = format!("{SUCCESS}?");
    location.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("userId", &a.user_id)
            .append_pair("secret", &minted.secret)
            .finish(),
    );
    Ok(location)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = if args.current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let Ok(runtime) = runtime else {
        eprintln!("cannot start the runtime");
        return std::process::ExitCode::FAILURE;
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("login-floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> std::io::Result<()> {
    use base64::Engine as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let challenge = {
        // S256 of the fixed verifier; the floor hashes once, at start-up.
        let digest = sha256(VERIFIER.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(std::io::Error::other)?;
    let floor = Arc::new(Floor {
        callback: format!("{url}/v1/auth/corp/callback"),
        args,
        http,
        challenge,
        states: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v1/auth/corp/start", get(start))
        .route("/v1/auth/corp/callback", get(callback))
        .with_state(floor);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "READY {}", serde_json::json!({ "url": url }))?;
    stdout.flush()?;
    axum::serve(listener, app).await
}

/// SHA-256, for the one PKCE challenge at start-up.
fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}
