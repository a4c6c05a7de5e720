//! Server routes `GET` and `DELETE /v1/users/{userId}/sessions` (API key auth): the sessions
//! `POST /v1/account/sessions/token` created for a user, listed or all ended. Both answer
//! 404 `user_not_found` for an unknown user, as Appwrite does.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::call::Call;
use super::users::parse_bool;
use crate::error::AppwriteError;

/// `GET /v1/users/{userId}/sessions`: `{"total", "sessions"}`, oldest first. Listed by the
/// server, no session is the caller's own (`current: false`), and no secret is shown.
pub(super) async fn list(call: Call) -> Response {
    let listed = (|| {
        let mut total = true;
        for (name, value) in &call.query {
            if name == "total" {
                total = parse_bool("total", value)?;
            }
        }
        let db = call.shared.db();
        db.user(&call.user_id)
            .ok_or_else(AppwriteError::user_not_found)?;
        let sessions: Vec<Value> = db
            .sessions
            .iter()
            .filter(|s| s.user_id == call.user_id)
            .map(|s| {
                let mut session = s.to_json(false);
                session["current"] = json!(false);
                session
            })
            .collect();
        let total = if total { sessions.len() } else { 0 };
        Ok::<_, AppwriteError>(json!({ "total": total, "sessions": sessions }))
    })();
    match listed {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /v1/users/{userId}/sessions`: every session of the user ends; 204 without a body.
pub(super) async fn delete_all(call: Call) -> Response {
    let mut db = call.shared.db();
    if db.user(&call.user_id).is_none() {
        return AppwriteError::user_not_found().into_response();
    }
    db.sessions.retain(|s| s.user_id != call.user_id);
    StatusCode::NO_CONTENT.into_response()
}
