//! The endpoints: `POST /auto/{id}`, `GET /user/{id}`, `DELETE /user/{id}`; anything else is
//! the documented 404 (38) or 405 (34).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};

use crate::errors::documented;
use crate::{Call, ENROLLMENTS_NEEDED, Profile, Script, Shared, Verdict};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/auto/{id}", post(auto))
        .route("/verify/{id}", post(verify))
        .route(
            "/user/{id}",
            axum::routing::get(check_user).delete(delete_user),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

/// What one request was, for the call log and the checks every endpoint shares.
struct Seen {
    method: Method,
    path: String,
    authorized: bool,
    content_type: Option<String>,
    fields: Vec<(String, String)>,
}

impl Seen {
    fn new(
        shared: &Shared,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        fields: Vec<(String, String)>,
    ) -> Self {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Self {
            method,
            path: uri.path().to_owned(),
            authorized: basic_auth(headers)
                == Some((
                    shared.config.api_key.clone(),
                    shared.config.api_secret.clone(),
                )),
            content_type,
            fields,
        }
    }

    /// The value of form or query field `name`, if sent.
    fn field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// Logs the call with the status of `response`, and returns it.
    fn answer(self, shared: &Shared, response: Response) -> Response {
        shared.state().calls.push(Call {
            method: self.method.to_string(),
            path: self.path,
            authorized: self.authorized,
            content_type: self.content_type,
            fields: self.fields,
            status: response.status().as_u16(),
        });
        response
    }
}

/// The `Authorization: Basic` user name and password, if well-formed.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The checks before any endpoint's own work: scripts (delay, error, raw), credentials (a
/// wrong key is 403/33, a wrong secret or none 401/32), and the user id (444/35). Returns the
/// verdict script for `/auto`, if the next script is one.
async fn preamble(
    shared: &Shared,
    seen: &Seen,
    headers: &HeaderMap,
    id: &str,
) -> Result<Option<Verdict>, Response> {
    let script = shared.state().scripts.pop_front();
    let mut verdict = None;
    match script {
        Some(Script::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Script::Error(status)) => return Err(documented(status).into_response()),
        Some(Script::Raw(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return Err((
                status,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Bad Gateway</body></html>",
            )
                .into_response());
        }
        Some(Script::Verdict(v)) => verdict = Some(v),
        None => {}
    }
    if !seen.authorized {
        let wrong_key = basic_auth(headers).is_some_and(|(key, _)| key != shared.config.api_key);
        return Err(documented(if wrong_key { 403 } else { 401 }).into_response());
    }
    let looks_personal =
        id.contains('@') || (id.len() >= 6 && id.bytes().all(|b| b.is_ascii_digit() || b == b'+'));
    if !(6..=256).contains(&id.len()) || looks_personal {
        return Err(documented(444).into_response());
    }
    Ok(verdict)
}

/// Whether a pattern is mobile: the recorder writes `isMobile` (0 or 1) as the first field of
/// sametext and extended patterns. The emulator reads every pattern that way (see README).
fn is_mobile(pattern: &str) -> bool {
    pattern.split([',', '|']).next() == Some("1")
}

/// Characters the recorder writes into a pattern.
fn valid_pattern(pattern: &str) -> bool {
    !pattern.is_empty()
        && pattern
            .bytes()
            .all(|b| b.is_ascii_digit() || b",.|-#/".contains(&b))
}

fn ok(mut body: Value, custom_field: Option<&str>) -> Response {
    body["status"] = json!(200);
    body["message"] = json!("Done");
    body["message_code"] = json!(1);
    if let Some(custom) = custom_field {
        body["custom_field"] = json!(custom);
    }
    (StatusCode::OK, Json(body)).into_response()
}

/// `POST /auto/{id}`: enrolls until a profile holds three patterns of the pattern's device,
/// then verifies (and stores matching patterns).
async fn auto(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    typing(Endpoint::Auto, shared, id, uri, headers, body).await
}

/// `POST /verify/{id}` (Pro and Enterprise plans): verifies only, never stores a pattern. A
/// profile without three patterns of the device answers a verification that failed
/// (`result` 0): what the real API answers then is not documented; the emulator chose the
/// answer that can never log anyone in.
async fn verify(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    typing(Endpoint::Verify, shared, id, uri, headers, body).await
}

/// The two endpoints that judge a typing pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Auto,
    Verify,
}

async fn typing(
    endpoint: Endpoint,
    shared: Arc<Shared>,
    id: String,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let fields: Option<Vec<(String, String)>> = if is_form {
        serde_urlencoded::from_bytes(&body).ok()
    } else {
        None
    };
    let seen = Seen::new(
        &shared,
        Method::POST,
        &uri,
        &headers,
        fields.clone().unwrap_or_default(),
    );
    let verdict = match preamble(&shared, &seen, &headers, &id).await {
        Ok(verdict) => verdict,
        Err(response) => return seen.answer(&shared, response),
    };
    let (Some(_), Some(tp)) = (fields, seen.field("tp").filter(|tp| !tp.is_empty())) else {
        return seen.answer(&shared, documented(400).into_response());
    };
    let patterns: Vec<&str> = tp.split(';').collect();
    if !patterns.iter().all(|p| valid_pattern(p)) {
        return seen.answer(&shared, documented(445).into_response());
    }
    let mobile = is_mobile(patterns[0]);
    if patterns.iter().any(|p| is_mobile(p) != mobile) {
        return seen.answer(&shared, documented(448).into_response());
    }
    let custom = seen.field("custom_field");
    let response = {
        let mut state = shared.state();
        let default = state.verdict.unwrap_or(Verdict::Match);
        let profile = state.profiles.entry(id).or_default();
        let stored = if mobile {
            &mut profile.mobile
        } else {
            &mut profile.desktop
        };
        if *stored < ENROLLMENTS_NEEDED && endpoint == Endpoint::Verify {
            json!({"action": "verify", "enrollment": 0, "result": 0, "high_confidence": 0})
        } else if *stored < ENROLLMENTS_NEEDED {
            *stored += patterns.len();
            json!({"action": "enroll", "enrollment": 1, "result": 0, "high_confidence": 0})
        } else {
            match verdict.unwrap_or(default) {
                Verdict::Match if endpoint == Endpoint::Verify => {
                    json!({"action": "verify", "enrollment": 0, "result": 1, "high_confidence": 1})
                }
                Verdict::Match => {
                    *stored += 1;
                    json!({"action": "verify;enroll", "enrollment": 1, "result": 1, "high_confidence": 1})
                }
                Verdict::LowConfidence => {
                    json!({"action": "verify", "enrollment": 0, "result": 1, "high_confidence": 0})
                }
                Verdict::NoMatch => {
                    json!({"action": "verify", "enrollment": 0, "result": 0, "high_confidence": 1})
                }
            }
        }
    };
    seen.answer(&shared, ok(response, custom.as_deref()))
}

fn query_fields(query: Option<&str>) -> Vec<(String, String)> {
    query
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

/// The start of the `/user/{id}` endpoints: the call as seen (query fields), then the preamble;
/// `Err` is the logged answer to send.
async fn user_call(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    query: Option<&str>,
    id: &str,
) -> Result<Seen, Response> {
    let seen = Seen::new(shared, method, uri, headers, query_fields(query));
    match preamble(shared, &seen, headers, id).await {
        Ok(_) => Ok(seen),
        Err(response) => Err(seen.answer(shared, response)),
    }
}

async fn check_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let seen = match user_call(&shared, Method::GET, &uri, &headers, query.as_deref(), &id).await {
        Ok(seen) => seen,
        Err(answer) => return answer,
    };
    let profile = shared
        .state()
        .profiles
        .get(&id)
        .copied()
        .unwrap_or_default();
    let custom = seen.field("custom_field");
    let body = json!({"success": 1, "count": profile.desktop, "mobilecount": profile.mobile, "type": "All"});
    seen.answer(&shared, ok(body, custom.as_deref()))
}

async fn delete_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let seen = match user_call(
        &shared,
        Method::DELETE,
        &uri,
        &headers,
        query.as_deref(),
        &id,
    )
    .await
    {
        Ok(seen) => seen,
        Err(answer) => return answer,
    };
    let device = seen.field("device").unwrap_or_else(|| "all".to_owned());
    let deleted = {
        let mut state = shared.state();
        let profile = state.profiles.entry(id).or_insert_with(Profile::default);
        match device.as_str() {
            "desktop" => std::mem::take(&mut profile.desktop),
            "mobile" => std::mem::take(&mut profile.mobile),
            _ => std::mem::take(&mut profile.desktop) + std::mem::take(&mut profile.mobile),
        }
    };
    let custom = seen.field("custom_field");
    seen.answer(
        &shared,
        ok(json!({"success": 1, "deleted": deleted}), custom.as_deref()),
    )
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let seen = Seen::new(&shared, method, &uri, &headers, Vec::new());
    seen.answer(&shared, documented(404).into_response())
}

async fn method_not_allowed(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let seen = Seen::new(&shared, method, &uri, &headers, Vec::new());
    seen.answer(&shared, documented(405).into_response())
}
