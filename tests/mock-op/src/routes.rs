//! The axum router and the OP protocol logic behind each endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::behavior::apply_patch;
use crate::login_page;
use crate::{
    AccessGrant, AuthMethod, AuthRequest, Authorization, AuthorizeError, IssuedCode, Shared, User,
    bump, jose, random_token, unix_now,
};

/// Authorization codes are single-use and live this long.
const CODE_TTL: Duration = Duration::from_secs(60);
/// Login-page requests wait this long for the person.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Access tokens (and `expires_in`).
const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(300);
/// How often expired access tokens are swept from memory.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// ID token lifetime in seconds.
const ID_TOKEN_TTL_SECS: u64 = 300;

const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

type Shr = State<Arc<Shared>>;

/// Builds the router over the shared state.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route("/jwks", get(jwks))
        .route("/jwks/{*suffix}", get(jwks))
        .route("/authorize", get(authorize))
        .route("/authorize/login", post(login))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .fallback(fallback)
        .with_state(shared)
}

// ---------------------------------------------------------------- discovery

async fn discovery(State(shared): Shr) -> Response {
    bump(&shared.counters.discovery);
    let base = &shared.base;
    let auth_methods: &[&str] = match shared.config.auth_method {
        AuthMethod::Basic => &["client_secret_basic"],
        AuthMethod::Post => &["client_secret_post"],
        AuthMethod::Any => &["client_secret_basic", "client_secret_post"],
    };
    let behavior = shared.lock().behavior.clone();
    if let Some(status) = behavior.discovery_error {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return json_response(status, json!({}));
    }
    let mut doc = json!({
        "issuer": behavior.discovery_issuer.clone().unwrap_or_else(|| shared.issuer.clone()),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA", "HS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
            "email", "email_verified", "name"
        ],
        "authorization_response_iss_parameter_supported": true,
    });
    if let Value::Object(map) = &mut doc {
        apply_patch(map, &behavior.discovery_patch);
    }
    json_response(StatusCode::OK, doc)
}

/// Serves discovery under the issuer suffix too (`/tenant/.well-known/...`,
/// `//.well-known/...` for a trailing-slash issuer).
async fn fallback(state: Shr, uri: Uri) -> Response {
    if uri.path().ends_with(DISCOVERY_PATH) {
        discovery(state).await
    } else {
        (StatusCode::NOT_FOUND, "not found").into_response()
    }
}

async fn jwks(State(shared): Shr) -> Response {
    bump(&shared.counters.jwks);
    json_response(StatusCode::OK, shared.jwks())
}

// ---------------------------------------------------------------- authorize

/// Parses `application/x-www-form-urlencoded` text, refusing repeated names
/// (RFC 6749 §3.1: parameters must not be included more than once).
fn parse_params(text: &str) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(text.as_bytes()) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(format!("parameter {name} is repeated"));
        }
    }
    Ok(params)
}

fn refuse(reason: impl Into<String>) -> AuthorizeError {
    AuthorizeError {
        reason: reason.into(),
    }
}

/// A development redirect URI: `http` on `127.0.0.1`, `localhost` or `[::1]`,
/// any port and path, no fragment. This OP is for local use only.
fn redirect_uri_allowed(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(url) => {
            url.scheme() == "http"
                && matches!(
                    url.host_str(),
                    Some("127.0.0.1") | Some("localhost") | Some("[::1]")
                )
                && url.fragment().is_none()
                && url.username().is_empty()
                && url.password().is_none()
        }
        Err(_) => false,
    }
}

/// Validates an authorization request's query. `client_id` and
/// `redirect_uri` are checked first: until both are known good, nothing is
/// ever redirected; after that, errors are still answered with 400 (simpler
/// for tests, allowed for a dev OP).
pub(crate) fn validate_authorize(
    shared: &Shared,
    query: &str,
) -> Result<AuthRequest, AuthorizeError> {
    let params = parse_params(query).map_err(refuse)?;
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    match get("client_id") {
        None => return Err(refuse("client_id is missing")),
        Some(id) if id != shared.config.client_id => {
            return Err(refuse(format!("unknown client_id {id:?}")));
        }
        Some(_) => {}
    }
    let redirect_uri = get("redirect_uri").ok_or_else(|| refuse("redirect_uri is missing"))?;
    if !redirect_uri_allowed(redirect_uri) {
        return Err(refuse(format!(
            "redirect_uri {redirect_uri:?} is not allowed (this development OP accepts only http://127.0.0.1, http://localhost or http://[::1] URLs without fragment)"
        )));
    }
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(refuse(format!(
                "unsupported response_type {other:?} (only \"code\")"
            )));
        }
        None => return Err(refuse("response_type is missing")),
    }
    let scope = get("scope").ok_or_else(|| refuse("scope is missing"))?;
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(refuse("scope must contain openid"));
    }
    let state = get("state").ok_or_else(|| refuse("state is missing"))?;
    let nonce = get("nonce").ok_or_else(|| refuse("nonce is missing"))?;
    let code_challenge = get("code_challenge")
        .ok_or_else(|| refuse("code_challenge is missing (PKCE is required)"))?;
    let challenge_ok = (43..=128).contains(&code_challenge.len())
        && code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !challenge_ok {
        return Err(refuse("code_challenge is malformed"));
    }
    match get("code_challenge_method") {
        Some("S256") => {}
        Some(other) => {
            return Err(refuse(format!(
                "code_challenge_method {other:?} is not supported (only S256)"
            )));
        }
        None => return Err(refuse("code_challenge_method is missing (must be S256)")),
    }

    Ok(AuthRequest {
        redirect_uri: redirect_uri.to_owned(),
        state: state.to_owned(),
        nonce: nonce.to_owned(),
        code_challenge: code_challenge.to_owned(),
        scope: scope.to_owned(),
        login_hint: get("login_hint").map(str::to_owned),
        created: Instant::now(),
    })
}

/// The `iss` authorization response parameter under the current behaviour.
fn response_iss(shared: &Shared) -> Option<String> {
    let inner = shared.lock();
    if inner.behavior.omit_authorize_iss {
        None
    } else {
        Some(
            inner
                .behavior
                .authorize_iss
                .clone()
                .unwrap_or_else(|| shared.issuer.clone()),
        )
    }
}

/// Appends response parameters to a validated redirect URI.
fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut pairs = url.query_pairs_mut();
                for (name, value) in params {
                    pairs.append_pair(name, value);
                }
            }
            url.to_string()
        }
        // Unreachable: the URI was parsed during validation.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// Issues a single-use code for `sub` and builds the redirect.
pub(crate) fn issue_code(shared: &Shared, request: AuthRequest, sub: &str) -> Authorization {
    let code = random_token();
    let iss = response_iss(shared);
    let state = request.state.clone();
    let mut params = vec![("code", code.as_str()), ("state", state.as_str())];
    if let Some(iss) = &iss {
        params.push(("iss", iss.as_str()));
    }
    let redirect_to = redirect_url(&request.redirect_uri, &params);
    {
        let mut inner = shared.lock();
        inner.codes.retain(|_, c| c.issued.elapsed() < CODE_TTL);
        inner.codes.insert(
            code.clone(),
            IssuedCode {
                request,
                sub: sub.to_owned(),
                auth_time: unix_now(),
                issued: Instant::now(),
            },
        );
    }
    Authorization {
        code,
        state,
        iss,
        redirect_to,
    }
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => bad_request("redirect location is not a valid header value"),
    }
}

fn bad_request(reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(login_page::error_page(reason)),
    )
        .into_response()
}

async fn authorize(State(shared): Shr, RawQuery(query): RawQuery) -> Response {
    bump(&shared.counters.authorize);
    let request = match validate_authorize(&shared, query.as_deref().unwrap_or_default()) {
        Ok(request) => request,
        Err(err) => return bad_request(&err.reason),
    };
    if let Some(hint) = request.login_hint.clone()
        && shared.user(&hint).is_some()
    {
        let auth = issue_code(&shared, request, &hint);
        return found(&auth.redirect_to);
    }
    let request_id = random_token();
    let page = login_page::login_page(&request_id, &shared.config.users, &request);
    {
        let mut inner = shared.lock();
        inner
            .pending
            .retain(|_, r| r.created.elapsed() < PENDING_TTL);
        inner.pending.insert(request_id, request);
    }
    let mut response = Html(page).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /authorize/login` with `request_id` and either `sub` (sign in) or
/// `cancel` (deny access).
async fn login(State(shared): Shr, body: String) -> Response {
    bump(&shared.counters.authorize);
    let params = match parse_params(&body) {
        Ok(params) => params,
        Err(reason) => return bad_request(&reason),
    };
    let Some(request_id) = params.get("request_id") else {
        return bad_request("request_id is missing");
    };
    let Some(request) = shared.lock().pending.remove(request_id) else {
        return bad_request("unknown or expired login request; start the login again");
    };
    if request.created.elapsed() >= PENDING_TTL {
        return bad_request("login request expired; start the login again");
    }
    if params.contains_key("cancel") {
        let iss = response_iss(&shared);
        let mut response = vec![
            ("error", "access_denied"),
            ("state", request.state.as_str()),
        ];
        if let Some(iss) = &iss {
            response.push(("iss", iss.as_str()));
        }
        return found(&redirect_url(&request.redirect_uri, &response));
    }
    let Some(sub) = params.get("sub").filter(|sub| shared.user(sub).is_some()) else {
        return bad_request("unknown user");
    };
    let auth = issue_code(&shared, request, sub);
    found(&auth.redirect_to)
}

// ---------------------------------------------------------------- token

/// An RFC 6749 §5.2 error response.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        json!({"error": error, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mock-op\""),
        );
    }
    response
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn status_or_500(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Decodes one `application/x-www-form-urlencoded` component (RFC 6749 §2.3.1
/// encodes Basic credentials this way).
fn form_decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// `Authorization: Basic` credentials, if the header uses that scheme.
/// `Some(None)` means the header is present but malformed.
fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    Some(decoded.and_then(|text| {
        let (id, secret) = text.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    }))
}

/// A failed client authentication: `(status, error, error_description)`.
type ClientAuthError = (StatusCode, &'static str, &'static str);

/// Authenticates the client per the configured [`AuthMethod`].
fn authenticate_client(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(), ClientAuthError> {
    let invalid_client = |why| (StatusCode::UNAUTHORIZED, "invalid_client", why);
    let basic = basic_credentials(headers);
    let form_secret = form.get("client_secret");
    if basic.is_some() && form_secret.is_some() {
        return Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        ));
    }
    let method = shared.config.auth_method;
    let (id, secret) = match (basic, form_secret) {
        (Some(Some(credentials)), None) if method != AuthMethod::Post => {
            if form.get("client_id").is_some_and(|id| *id != credentials.0) {
                return Err(invalid_client(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            credentials
        }
        (Some(None), None) => return Err(invalid_client("malformed Basic credentials")),
        (None, Some(secret)) if method != AuthMethod::Basic => {
            let Some(id) = form.get("client_id") else {
                return Err(invalid_client("client_id is missing"));
            };
            (id.clone(), secret.clone())
        }
        _ => {
            return Err(invalid_client(match method {
                AuthMethod::Basic => "client_secret_basic is required",
                AuthMethod::Post => "client_secret_post is required",
                AuthMethod::Any => "client authentication is required",
            }));
        }
    };
    if id != shared.config.client_id || secret != shared.config.client_secret {
        return Err(invalid_client("bad client credentials"));
    }
    Ok(())
}

/// Adds the user's profile claims (`email`, `email_verified`, `name`, extras).
pub(crate) fn add_user_claims(claims: &mut Map<String, Value>, user: &User) {
    if let Some(email) = &user.email {
        claims.insert("email".into(), email.clone().into());
    }
    if !user.email_verified.is_null() {
        claims.insert("email_verified".into(), user.email_verified.clone());
    }
    if let Some(name) = &user.name {
        claims.insert("name".into(), name.clone().into());
    }
    for (key, value) in &user.extra {
        claims.insert(key.clone(), value.clone());
    }
}

async fn token(State(shared): Shr, headers: HeaderMap, body: String) -> Response {
    bump(&shared.counters.token);
    let behavior = shared.lock().behavior.clone();
    if let Some(delay) = behavior.token_delay {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, error)) = &behavior.token_error {
        return json_response(status_or_500(*status), json!({"error": error}));
    }
    let form = match parse_params(&body) {
        Ok(form) => form,
        Err(reason) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &reason),
    };
    if let Err((status, error, description)) = authenticate_client(&shared, &headers, &form) {
        return oauth_error(status, error, description);
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is supported",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            );
        }
    }
    let invalid_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let Some(code) = form.get("code") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is missing",
        );
    };
    // Removed on first use, whatever the outcome: codes are single-use.
    let Some(issued) = shared.lock().codes.remove(code) else {
        return invalid_grant("unknown, expired or already used code");
    };
    if issued.issued.elapsed() >= CODE_TTL {
        return invalid_grant("code expired");
    }
    if form.get("redirect_uri") != Some(&issued.request.redirect_uri) {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    let Some(verifier) = form.get("code_verifier") else {
        return invalid_grant("code_verifier is missing");
    };
    if jose::pkce_s256(verifier) != issued.request.code_challenge {
        return invalid_grant("code_verifier does not match code_challenge");
    }

    let access_token = random_token();
    {
        let now = Instant::now();
        let mut inner = shared.lock();
        // Expired grants are swept at most once a second (`userinfo` checks expiry itself):
        // sweeping on every request made a long benchmark's token calls quadratic.
        if inner
            .swept
            .is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY)
        {
            inner.access_tokens.retain(|_, g| g.expires > now);
            inner.swept = Some(now);
        }
        inner.access_tokens.insert(
            access_token.clone(),
            AccessGrant {
                sub: issued.sub.clone(),
                expires: now + ACCESS_TOKEN_TTL,
            },
        );
    }

    let id_token = match &behavior.id_token_override {
        Some(raw) => raw.clone(),
        None => {
            let now = unix_now();
            let alg = behavior.alg.unwrap_or_default();
            let mut claims = Map::new();
            claims.insert("iss".into(), shared.issuer.clone().into());
            claims.insert("sub".into(), issued.sub.clone().into());
            claims.insert("aud".into(), shared.config.client_id.clone().into());
            claims.insert("exp".into(), (now + ID_TOKEN_TTL_SECS).into());
            claims.insert("iat".into(), now.into());
            claims.insert("auth_time".into(), issued.auth_time.into());
            claims.insert("nonce".into(), issued.request.nonce.clone().into());
            claims.insert(
                "at_hash".into(),
                jose::token_hash(&access_token, alg).into(),
            );
            if let Some(user) = shared.user(&issued.sub) {
                add_user_claims(&mut claims, user);
            }
            shared.sign(&Value::Object(claims), &behavior)
        }
    };

    let mut response = Map::new();
    response.insert("access_token".into(), access_token.into());
    response.insert("token_type".into(), "Bearer".into());
    response.insert("expires_in".into(), ACCESS_TOKEN_TTL.as_secs().into());
    response.insert("id_token".into(), id_token.into());
    response.insert("scope".into(), issued.request.scope.clone().into());
    apply_patch(&mut response, &behavior.token_response_patch);
    json_response(StatusCode::OK, Value::Object(response))
}

// ---------------------------------------------------------------- userinfo

fn bearer_error(error: &str) -> Response {
    let mut response = json_response(StatusCode::UNAUTHORIZED, json!({"error": error}));
    let challenge = format!("Bearer realm=\"mock-op\", error=\"{error}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

async fn userinfo(State(shared): Shr, headers: HeaderMap) -> Response {
    bump(&shared.counters.userinfo);
    let behavior = shared.lock().behavior.clone();
    if let Some((status, error)) = &behavior.userinfo_error {
        return json_response(status_or_500(*status), json!({"error": error}));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return bearer_error("invalid_request");
    };
    let grant = shared.lock().access_tokens.get(&token).cloned();
    let Some(grant) = grant.filter(|g| g.expires > Instant::now()) else {
        return bearer_error("invalid_token");
    };
    let mut body = Map::new();
    body.insert(
        "sub".into(),
        behavior
            .userinfo_sub
            .clone()
            .unwrap_or_else(|| grant.sub.clone())
            .into(),
    );
    if let Some(user) = shared.user(&grant.sub) {
        if let Some(email) = &user.email {
            body.insert("email".into(), email.clone().into());
        }
        if !user.email_verified.is_null() {
            body.insert("email_verified".into(), user.email_verified.clone());
        }
        if let Some(name) = &user.name {
            body.insert("name".into(), name.clone().into());
        }
    }
    apply_patch(&mut body, &behavior.userinfo_patch);
    json_response(StatusCode::OK, Value::Object(body))
}
