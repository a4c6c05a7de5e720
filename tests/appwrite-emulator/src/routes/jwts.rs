//! Account JWTs: the server route `POST /v1/users/{userId}/jwts` makes one, and the client route
//! `GET /v1/account` answers for whoever an `X-Appwrite-JWT` (or a session cookie) belongs to
//! (`auth::account_user`).
//!
//! Real Appwrite signs an HS256 JWT `{userId, sessionId, exp}` with a project secret. The emulator
//! issues the same shape with a random signature and keeps a record of each one it issued, so a
//! JWT it did not issue (forged, or altered) is refused just as a bad signature would be, and an
//! expired one too. A JWT bound to a session stops working when the session is gone, as in
//! Appwrite; one made for a user without sessions is bound to none.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::call::Call;
use crate::auth::account_user;
use crate::error::AppwriteError;
use crate::ids::hex_secret;
use crate::model::JwtRecord;
use crate::params::{opt_range, opt_string};

/// JWT lifetime bounds and default, in seconds (`duration`).
const DURATION: (i64, i64, i64) = (0, 3600, 900);

/// `POST /v1/users/{userId}/jwts`
pub(super) async fn create(call: Call) -> Response {
    match create_inner(&call) {
        Ok(jwt) => (StatusCode::CREATED, Json(json!({ "jwt": jwt }))).into_response(),
        Err(e) => e.into_response(),
    }
}

fn create_inner(call: &Call) -> Result<String, AppwriteError> {
    let (min, max, default) = DURATION;
    let duration = opt_range(&call.body, "duration", min, max)?.unwrap_or(default);
    let session_id = opt_string(&call.body, "sessionId")?.unwrap_or_else(|| "recent".into());
    let now = call.shared.clock.now();
    let mut db = call.shared.db();
    db.user(&call.user_id)
        .ok_or_else(AppwriteError::user_not_found)?;
    let sessions: Vec<&str> = db
        .sessions
        .iter()
        .filter(|s| s.user_id == call.user_id && s.expire > now)
        .map(|s| s.id.as_str())
        .collect();
    let session = match session_id.as_str() {
        "recent" => sessions.last().map(|s| (*s).to_owned()),
        id => Some(
            sessions
                .iter()
                .find(|s| **s == id)
                .map(|s| (*s).to_owned())
                .ok_or_else(|| {
                    AppwriteError::new(
                        404,
                        "user_session_not_found",
                        "The current user session could not be found.",
                    )
                })?,
        ),
    };
    let expire = now + Duration::from_secs(u64::try_from(duration).unwrap_or(0));
    let exp = expire
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        json!({ "userId": call.user_id, "sessionId": session.clone().unwrap_or_default(), "exp": exp })
            .to_string(),
    );
    let jwt = format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(hex_secret(32))
    );
    db.jwts.push(JwtRecord {
        jwt: jwt.clone(),
        user_id: call.user_id.clone(),
        session_id: session,
        expire,
    });
    Ok(jwt)
}

/// `GET /v1/account`
pub(super) async fn get_account(call: Call) -> Response {
    match get_account_inner(&call) {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn get_account_inner(call: &Call) -> Result<serde_json::Value, AppwriteError> {
    let user_id = account_user(&call.shared, &call.headers)?;
    let db = call.shared.db();
    let user = db
        .user(&user_id)
        .ok_or_else(AppwriteError::user_not_found)?;
    Ok(user.to_account_json())
}
