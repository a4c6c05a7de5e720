//! Client routes `POST /v1/account`, `POST /v1/account/sessions/token` (project header only, no
//! key needed) and `PATCH /v1/account/email` (as the account of a session or a JWT).

use std::time::Duration;

use axum::Json;
use axum::extract::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::call::Call;
use super::users::{check_email, check_name, check_password};
use crate::auth::{account_user, cookie_value, session_user};
use crate::clock::http_date;
use crate::error::AppwriteError;
use crate::ids::{UNIQUE, hex_secret, is_valid_custom_id, new_user_id, unique_id};
use crate::model::{SessionRecord, UserRecord};
use crate::params::{opt_string, req_string};
use crate::server::Peer;

/// Session lifetime: Appwrite's default project session duration (one year).
const SESSION_DURATION: Duration = Duration::from_secs(31_536_000);
/// Longest accepted token secret.
const MAX_SECRET_LEN: usize = 256;

/// `POST /v1/account/sessions/token`
pub(super) async fn create_session(peer: Option<Extension<Peer>>, call: Call) -> Response {
    let ip = peer
        .map(|Extension(p)| p.0.ip().to_string())
        .unwrap_or_default();
    match create_session_inner(&call, ip) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn create_session_inner(call: &Call, ip: String) -> Result<Response, AppwriteError> {
    let (shared, body) = (&*call.shared, &call.body);
    let user_id = req_string(body, "userId")?;
    if user_id != UNIQUE && !is_valid_custom_id(&user_id) {
        return Err(AppwriteError::invalid_param("userId", crate::ids::KEY_RULE));
    }
    let secret = req_string(body, "secret")?;
    if secret.is_empty() || secret.chars().count() > MAX_SECRET_LEN {
        return Err(AppwriteError::invalid_param(
            "secret",
            "Value must be a valid string and at least 1 chars and no longer than 256 chars",
        ));
    }
    if session_user(shared, &shared.db(), &call.headers).is_some() {
        return Err(AppwriteError::session_already_exists());
    }

    let now = shared.clock.now();
    let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let mut db = shared.db();
    let blocked = match db.user(&user_id) {
        None => return Err(AppwriteError::invalid_token()),
        Some(u) => !u.status,
    };
    // Check every live token of the user in constant time per comparison.
    let mut found = None;
    for (i, t) in db.tokens.iter().enumerate() {
        let live = t.user_id == user_id && !t.consumed && t.expire > now;
        if bool::from(t.secret_sha256.ct_eq(&presented)) && live {
            found = Some(i);
        }
    }
    let Some(index) = found else {
        return Err(AppwriteError::invalid_token());
    };
    if blocked {
        // The token is left unconsumed: nothing was created.
        return Err(AppwriteError::user_blocked());
    }
    db.tokens[index].consumed = true;
    let session = SessionRecord {
        id: unique_id(),
        user_id: user_id.clone(),
        secret: hex_secret(256),
        created_at: now,
        expire: now + SESSION_DURATION,
        ip,
    };
    if let Some(user) = db.user_mut(&user_id) {
        user.accessed_at = Some(now);
    }
    let body = session.to_json(call.by_key);
    let value = cookie_value(&session.user_id, &session.secret);
    let expires = http_date(session.expire);
    db.sessions.push(session);
    drop(db);

    let cookie_name = format!("a_session_{}", shared.config.project);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    for cookie in [
        format!("{cookie_name}_legacy={value}; expires={expires}; path=/; httponly"),
        format!("{cookie_name}={value}; expires={expires}; path=/; httponly; samesite=None"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// `POST /v1/account`: self-registration with a password. Answers 201 with the `account`
/// model (the `user` model without `password`, `hash`, `hashOptions`), creates no session.
pub(super) async fn create(call: Call) -> Response {
    answer(StatusCode::CREATED, create_inner(&call))
}

/// `status` with the model, or the error.
fn answer(status: StatusCode, result: Result<serde_json::Value, AppwriteError>) -> Response {
    match result {
        Ok(body) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The required `email` (lowercased) and `password` of a body, each checked.
fn email_and_password(
    body: &serde_json::Map<String, serde_json::Value>,
) -> Result<(String, String), AppwriteError> {
    let email = req_string(body, "email")?.to_lowercase();
    check_email(&email)?;
    let password = req_string(body, "password")?;
    check_password(&password)?;
    Ok((email, password))
}

fn create_inner(call: &Call) -> Result<serde_json::Value, AppwriteError> {
    let (shared, body) = (&call.shared, &call.body);
    let user_id = new_user_id(req_string(body, "userId")?)?;
    let (email, password) = email_and_password(body)?;
    let name = opt_string(body, "name")?.unwrap_or_default();
    check_name(&name)?;

    let now = shared.clock.now();
    let mut db = shared.db();
    let clash = db
        .users
        .iter()
        .any(|u| u.id == user_id || u.email.as_deref() == Some(email.as_str()));
    if clash {
        return Err(AppwriteError::user_already_exists());
    }
    let mut user = UserRecord::new(user_id, now);
    user.name = name;
    user.email = Some(email);
    user.set_password(&password, now);
    // Appwrite stamps accessedAt when an account registers itself.
    user.accessed_at = Some(now);
    let json = user.to_account_json();
    db.users.push(user);
    Ok(json)
}

/// `PATCH /v1/account/email`: the caller changes its own email, as Appwrite does it. The
/// password must be the account's when it has one; an account without one (made by a token
/// route, or by the Users API) takes it as its new password. The address is lowercased, must be
/// nobody else's (409 `user_email_already_exists`), and is unverified afterwards. Answers 200
/// with the `account` model.
pub(super) async fn update_email(call: Call) -> Response {
    answer(StatusCode::OK, update_email_inner(&call))
}

fn update_email_inner(call: &Call) -> Result<serde_json::Value, AppwriteError> {
    let shared = &call.shared;
    let user_id = account_user(shared, &call.headers)?;
    let (email, password) = email_and_password(&call.body)?;

    let now = shared.clock.now();
    let mut db = shared.db();
    let taken = db
        .users
        .iter()
        .any(|u| u.id != user_id && u.email.as_deref() == Some(email.as_str()));
    let user = db
        .user_mut(&user_id)
        .ok_or_else(AppwriteError::user_not_found)?;
    if user.password_update.is_some() && !user.password_is(&password) {
        return Err(AppwriteError::invalid_credentials());
    }
    if taken {
        return Err(AppwriteError::email_already_exists());
    }
    if user.password_update.is_none() {
        user.set_password(&password, now);
    }
    user.email = Some(email);
    user.email_verification = false;
    user.updated_at = now;
    Ok(user.to_account_json())
}
