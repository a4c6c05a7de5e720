//! `POST /v1/auth/{provider}/exchange`, the route every assertion provider answers through,
//! tested with `probe`, an assertion provider defined only here (like `custom_provider.rs`):
//! it trusts its body (the route, not a provider, is under test) but uses the services the
//! gateway lends it: the store's replay cache for `jti`, and the Appwrite directory for an
//! account JWT. What is checked is the gateway's part: the answer's shape, single use of the
//! minted token, replay refusal through the store, existing users, errors as JSON whose
//! `code` is the status, content type and size limits, CORS, the rate limit, and that no
//! refusal mints anything.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use appwrite_emulator::{Emulator, EmulatorConfig, Fault, FaultScope, SeedUser};
use async_trait::async_trait;
use idp_bridge::registry::Registry;
use idp_provider_api::{
    AssertionFlow, AssertionInput, Identity, OpenContext, OpenError, Provider, ProviderError,
    ProviderInfo, ReplayKey, Secret,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Bare, BareGateway, create_session, exchange};

const KIND: &str = "probe-test";
const ISSUER: &str = "https://probe.test";
/// The origin of the app pages in `[redirect].allowed` (the default CORS origin).
const APP_ORIGIN: &str = "http://127.0.0.1:3000";

struct Probe {
    info: ProviderInfo,
}

fn open_probe(
    info: ProviderInfo,
    _table: Value,
    _context: &OpenContext,
) -> Result<Arc<dyn Provider>, OpenError> {
    Ok(Arc::new(Probe { info }))
}

#[async_trait]
impl Provider for Probe {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn assertion(&self) -> Option<&dyn AssertionFlow> {
        Some(self)
    }

    async fn ready(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[async_trait]
impl AssertionFlow for Probe {
    async fn exchange(&self, input: AssertionInput<'_>) -> Result<Identity, ProviderError> {
        let body: Value =
            serde_json::from_slice(input.body).map_err(|e| ProviderError::InvalidRequest {
                param: "body",
                reason: e.to_string(),
            })?;
        // The assertion's `iat` (or now) is when the person authenticated, as real assertion
        // providers report it; the gateway's `max_age_seconds` (300 s by default) checks it.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let auth_time = Some(body["iat"].as_i64().unwrap_or(now));
        if let Some(jwt) = body["jwt"].as_str() {
            let user = input
                .directory
                .user_for_jwt(&Secret::new(jwt.to_owned()))
                .await?
                .ok_or_else(|| ProviderError::rejected("appwrite_jwt_invalid", "refused"))?;
            return Ok(
                Identity::existing_user(self.info.id.clone(), user.id).with_auth_time(auth_time)
            );
        }
        let sub = body["sub"].as_str().unwrap_or_default().to_owned();
        let jti = body["jti"].as_str().unwrap_or_default();
        let key = ReplayKey::new(ISSUER, "jti", jti.as_bytes());
        let until = SystemTime::now() + Duration::from_secs(300);
        if !input.replay.first_use(&key, until).await? {
            return Err(ProviderError::rejected("assertion_replayed", "jti seen"));
        }
        Ok(Identity::verified(self.info.id.clone(), ISSUER, sub).with_auth_time(auth_time))
    }
}

struct Gateway {
    url: String,
    emulator: Emulator,
    _gateway: BareGateway,
}

/// The gateway with `probe` and an `oidc` provider (redirect only), plus `server_extra` lines in
/// `[server]` and `[rate_limit]` set to `rate`.
async fn spawn(server_extra: &str, rate: u32) -> Gateway {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let providers = format!(
        r#"
[providers.probe]
type = "{KIND}"
[providers.web]
type = "oidc"
issuer = "http://127.0.0.1:9/"
client_id = "web"
client_secret = "web-secret"
"#
    );
    let gateway = BareGateway::spawn(
        &emulator,
        Bare {
            server_extra,
            rate_limit_per_minute: rate,
            providers: &providers,
            registry: Registry::default().with(KIND, open_probe),
        },
    )
    .await;
    Gateway {
        url: gateway.url.clone(),
        emulator,
        _gateway: gateway,
    }
}

async fn post(gateway: &Gateway, provider: &str, body: Value) -> (StatusCode, Value) {
    exchange(&gateway.url, provider, body.to_string().as_bytes(), &[]).await
}

fn assert_json_error(status: StatusCode, body: &Value, code: u16, kind: &str) {
    assert_eq!(status.as_u16(), code, "{body}");
    assert_eq!(body["type"], kind, "{body}");
    assert_eq!(
        body["code"], code,
        "the error's code is the HTTP status: {body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn an_exchange_answers_a_single_use_token_as_json() {
    let gateway = spawn("", 0).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/probe/exchange", gateway.url))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(json!({"sub": "alice", "jti": "j1"}).to_string())
        .send()
        .await
        .expect("exchange");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let body: Value = response.json().await.expect("json");
    let user_id = body["userId"].as_str().expect("userId");
    let secret = body["secret"].as_str().expect("secret");
    assert_eq!(secret.len(), 64);
    let expire = body["expire"].as_str().expect("expire");
    assert!(
        chrono::DateTime::parse_from_rfc3339(expire).is_ok(),
        "expire is an ISO 8601 date: {expire}"
    );
    assert!(user_id.starts_with('u') && user_id.len() == 36, "{user_id}");

    let (status, _) = create_session(&gateway.emulator, user_id, secret).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = create_session(&gateway.emulator, user_id, secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token works once");
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_through_the_store_and_mints_nothing() {
    let gateway = spawn("", 0).await;
    let (status, _) = post(&gateway, "probe", json!({"sub": "bob", "jti": "once"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&gateway, "probe", json!({"sub": "bob", "jti": "once"})).await;
    assert_json_error(status, &body, 401, "assertion_replayed");
    assert_eq!(
        gateway.emulator.tokens().len(),
        1,
        "only the first exchange minted"
    );
}

#[tokio::test]
async fn an_assertion_older_than_the_default_max_age_is_access_denied_before_appwrite() {
    let gateway = spawn("", 0).await;
    let now = chrono::Utc::now().timestamp();
    // Wait for the gateway's startup ping, so that only the exchange's calls are counted.
    for _ in 0..200 {
        if !gateway.emulator.calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gateway.emulator.clear_calls();
    // 300 s by default for assertions, plus 60 s of clock skew.
    let (status, body) = post(
        &gateway,
        "probe",
        json!({"sub": "dave", "jti": "old", "iat": now - 300 - 61}),
    )
    .await;
    assert_json_error(status, &body, 403, "access_denied");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`max_age_seconds`")),
        "{body}"
    );
    assert!(
        gateway.emulator.calls().is_empty(),
        "no Appwrite call: {:?}",
        gateway.emulator.calls()
    );
    let (status, body) = post(
        &gateway,
        "probe",
        json!({"sub": "dave", "jti": "fresh", "iat": now - 200}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_existing_user_named_by_appwrite_gets_the_token_and_a_forged_jwt_gets_nothing() {
    let gateway = spawn("", 0).await;
    gateway.emulator.seed_user(SeedUser {
        id: "carol".into(),
        email: Some("carol@example.com".into()),
        ..SeedUser::default()
    });
    gateway.emulator.seed_user(SeedUser {
        id: "dave".into(),
        status: false,
        ..SeedUser::default()
    });
    let jwt = |user: &'static str| {
        let emulator = &gateway.emulator;
        async move {
            let response = reqwest::Client::new()
                .post(format!("{}/users/{user}/jwts", emulator.endpoint()))
                .header("X-Appwrite-Project", emulator.project())
                .header("X-Appwrite-Key", emulator.api_key())
                .json(&json!({}))
                .send()
                .await
                .expect("jwt");
            let body: Value = response.json().await.expect("json");
            body["jwt"].as_str().expect("jwt").to_owned()
        }
    };
    let carol = jwt("carol").await;
    let (status, body) = post(&gateway, "probe", json!({"jwt": carol})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["userId"], "carol",
        "the token is for the user Appwrite named"
    );
    assert_eq!(gateway.emulator.users_count(), 2, "no user was created");

    let (head, _) = carol.rsplit_once('.').expect("jwt");
    let (status, body) = post(
        &gateway,
        "probe",
        json!({"jwt": format!("{head}.Zm9yZ2Vk")}),
    )
    .await;
    assert_json_error(status, &body, 401, "appwrite_jwt_invalid");
    let dave = jwt("dave").await;
    let (status, body) = post(&gateway, "probe", json!({"jwt": dave})).await;
    assert_json_error(status, &body, 401, "appwrite_jwt_invalid");
    // Appwrite refusing for another reason (here a 404, as for a wrong project) is the
    // gateway's setup failing, not the user's JWT: 503, and no token.
    gateway.emulator.inject(
        Fault::Status(404),
        FaultScope::Route {
            method: "GET",
            path_prefix: "/account".into(),
            times: Some(1),
        },
    );
    let (status, body) = post(&gateway, "probe", json!({"jwt": carol})).await;
    assert_json_error(status, &body, 503, "appwrite_unavailable");
    assert_eq!(
        gateway.emulator.tokens().len(),
        1,
        "refusals minted nothing"
    );
}

#[tokio::test]
async fn bad_requests_get_specific_json_errors() {
    let gateway = spawn("", 0).await;
    let (status, body) = post(&gateway, "nobody", json!({})).await;
    assert_json_error(status, &body, 404, "provider_not_found");
    let (status, body) = post(&gateway, "web", json!({"id_token": "x"})).await;
    assert_json_error(status, &body, 400, "provider_flow_unsupported");
    let (status, body) = exchange(&gateway.url, "probe", b"{not json", &[]).await;
    assert_json_error(status, &body, 400, "exchange_request_invalid");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`body`"),
        "{body}"
    );
    // An identity without a subject (a provider bug) maps to nobody.
    let (status, body) = post(&gateway, "probe", json!("not an object")).await;
    assert_json_error(status, &body, 401, "identity_incomplete");

    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/probe/exchange", gateway.url))
        .header("Content-Type", "text/plain")
        .body(json!({"sub": "eve", "jti": "t"}).to_string())
        .send()
        .await
        .expect("exchange");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = response.json().await.expect("json");
    assert_json_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &body,
        415,
        "exchange_content_type_invalid",
    );

    let big = format!("{{\"sub\":\"eve\",\"jti\":\"{}\"}}", "x".repeat(20_000));
    let (status, body) = exchange(&gateway.url, "probe", big.as_bytes(), &[]).await;
    assert_json_error(status, &body, 413, "general_payload_too_large");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("16 KiB")),
        "{body}"
    );
    // The same body chunked, without a Content-Length: still 413, never a 400.
    assert_eq!(
        chunked_post(&gateway.url, "/v1/auth/probe/exchange", big.as_bytes()).await,
        413
    );
    assert!(gateway.emulator.tokens().is_empty(), "nothing was minted");
}

#[tokio::test]
async fn appwrite_down_at_the_mint_is_a_503_json_error_and_no_token() {
    let gateway = spawn("", 0).await;
    gateway
        .emulator
        .inject(Fault::Status(503), FaultScope::Always);
    let (status, body) = post(&gateway, "probe", json!({"sub": "frank", "jti": "f"})).await;
    assert_json_error(status, &body, 503, "appwrite_unavailable");
    gateway.emulator.clear_faults();
    assert!(gateway.emulator.tokens().is_empty());
}

#[tokio::test]
async fn the_rate_limit_covers_exchange() {
    let gateway = spawn("", 2).await;
    for n in 0..2 {
        let (status, _) = post(
            &gateway,
            "probe",
            json!({"sub": "gina", "jti": format!("r{n}")}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = post(&gateway, "probe", json!({"sub": "gina", "jti": "r3"})).await;
    assert_json_error(status, &body, 429, "general_rate_limit_exceeded");
    assert_eq!(gateway.emulator.tokens().len(), 2);
}

async fn preflight(gateway: &Gateway, path: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}{path}", gateway.url))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-bridge-signature",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn cors_answers_the_apps_origin_and_no_other() {
    let gateway = spawn("", 0).await;
    let allowed = preflight(&gateway, "/v1/auth/probe/exchange", APP_ORIGIN).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .expect("ascii")
            .contains("POST")
    );
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    assert!(
        allowed_headers.contains("content-type") && allowed_headers.contains("x-bridge-signature"),
        "{allowed_headers}"
    );
    assert!(headers.get("access-control-allow-credentials").is_none());

    let other = preflight(&gateway, "/v1/auth/probe/exchange", "https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let providers = reqwest::Client::new()
        .get(format!("{}/v1/providers", gateway.url))
        .header("Origin", APP_ORIGIN)
        .send()
        .await
        .expect("providers");
    assert_eq!(
        providers.headers()["access-control-allow-origin"],
        APP_ORIGIN
    );
    let list: Value = providers.json().await.expect("json");
    let ids: Vec<&str> = list["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["probe", "web"]);
    // The callback and start routes are browser navigations, never CORS.
    let start = preflight(&gateway, "/v1/auth/web/start", APP_ORIGIN).await;
    assert!(start.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_origins_replace_the_default() {
    let gateway = spawn("cors_origins = [\"https://spa.example.com\"]", 0).await;
    let listed = preflight(
        &gateway,
        "/v1/auth/probe/exchange",
        "https://spa.example.com",
    )
    .await;
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "https://spa.example.com"
    );
    let default = preflight(&gateway, "/v1/auth/probe/exchange", APP_ORIGIN).await;
    assert!(
        default
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// POSTs `body` as JSON with `Transfer-Encoding: chunked` (4 KiB chunks, no `Content-Length`)
/// over a plain socket; the response's status code.
async fn chunked_post(gateway: &str, path: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = gateway.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(4096) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The gateway may answer and close before it has read everything: a failed write is fine.
    let _ = socket.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}
