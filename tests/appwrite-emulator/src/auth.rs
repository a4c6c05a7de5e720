//! Who is calling: project and API-key checks (`X-Appwrite-Project`, `X-Appwrite-Key`), and the
//! account a client request acts for (its `X-Appwrite-JWT`, or its session cookie).

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::ApiKey;
use crate::error::AppwriteError;
use crate::state::{Db, Shared};

/// Header carrying the project ID.
pub const PROJECT_HEADER: &str = "x-appwrite-project";
/// Header carrying the server API key.
pub const KEY_HEADER: &str = "x-appwrite-key";

/// Who is calling, as far as the emulated routes care.
#[derive(Debug)]
pub(crate) enum Caller<'a> {
    /// No key or an unknown key (Appwrite handles unknown keys as guests).
    Guest,
    /// A known, unexpired API key.
    Key(&'a ApiKey),
}

/// 404 `project_not_found` unless `X-Appwrite-Project` names the emulated project.
pub(crate) fn check_project(shared: &Shared, headers: &HeaderMap) -> Result<(), AppwriteError> {
    match headers.get(PROJECT_HEADER).and_then(|v| v.to_str().ok()) {
        Some(p) if p == shared.config.project => Ok(()),
        _ => Err(AppwriteError::project_not_found()),
    }
}

/// Resolves `X-Appwrite-Key`; an expired key is 401 `project_key_expired`.
pub(crate) fn caller<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
) -> Result<Caller<'a>, AppwriteError> {
    let Some(secret) = headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()) else {
        return Ok(Caller::Guest);
    };
    match shared.config.keys.iter().find(|k| k.secret == secret) {
        None => Ok(Caller::Guest),
        Some(k) if k.expired => Err(AppwriteError::key_expired()),
        Some(k) => Ok(Caller::Key(k)),
    }
}

/// Full check for a server route: project, key, then `scope`.
pub(crate) fn require_scope(
    shared: &Shared,
    headers: &HeaderMap,
    scope: &str,
) -> Result<(), AppwriteError> {
    check_project(shared, headers)?;
    match caller(shared, headers)? {
        Caller::Key(k) if k.scopes.iter().any(|s| s == scope) => Ok(()),
        Caller::Key(_) => Err(AppwriteError::missing_scope(
            &format!(
                "app.{}@service.localhost (role: applications)",
                shared.config.project
            ),
            scope,
        )),
        Caller::Guest => Err(AppwriteError::missing_scope("User (role: guests)", scope)),
    }
}

/// The header a client sends its account JWT in.
pub(crate) const JWT_HEADER: &str = "x-appwrite-jwt";

/// The session cookie's value as Appwrite writes it: base64 of `{"id":userId,"secret":secret}`.
pub(crate) fn cookie_value(user_id: &str, secret: &str) -> String {
    STANDARD.encode(json!({ "id": user_id, "secret": secret }).to_string())
}

/// The user of the live session whose cookie (`a_session_<project>`) the request carries.
pub(crate) fn session_user(shared: &Shared, db: &Db, headers: &HeaderMap) -> Option<String> {
    let cookie_name = format!("a_session_{}", shared.config.project);
    let values: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value)
        .collect();
    let now = shared.clock.now();
    db.sessions
        .iter()
        .find(|s| s.expire > now && values.contains(&cookie_value(&s.user_id, &s.secret).as_str()))
        .map(|s| s.user_id.clone())
}

/// The account a client route acts for, as Appwrite resolves it: the owner of the request's
/// `X-Appwrite-JWT` when it sends one (a JWT wins over a session cookie), otherwise the owner
/// of its session cookie.
///
/// # Errors
/// 401 `user_jwt_invalid` for a JWT the emulator did not issue, or an expired one; 401
/// `general_unauthorized_scope` (a guest) without either, or when the JWT's session is gone;
/// 403 `user_blocked` for a blocked account.
pub(crate) fn account_user(shared: &Shared, headers: &HeaderMap) -> Result<String, AppwriteError> {
    let guest = || AppwriteError::missing_scope("User (role: guests)", "account");
    let now = shared.clock.now();
    let db = shared.db();
    let user_id = match headers.get(JWT_HEADER) {
        Some(jwt) => {
            let record = db
                .jwts
                .iter()
                .find(|r| jwt.as_bytes() == r.jwt.as_bytes())
                .filter(|r| r.expire > now)
                .ok_or_else(|| {
                    AppwriteError::new(
                        401,
                        "user_jwt_invalid",
                        "The JWT token is invalid. Please make sure the token is valid and has not expired.",
                    )
                })?;
            // A JWT whose session is gone makes the caller a guest, as in Appwrite.
            if let Some(session) = &record.session_id
                && !db
                    .sessions
                    .iter()
                    .any(|s| &s.id == session && s.expire > now)
            {
                return Err(guest());
            }
            record.user_id.clone()
        }
        None => session_user(shared, &db, headers).ok_or_else(guest)?,
    };
    match db.user(&user_id) {
        None => Err(guest()),
        Some(user) if !user.status => Err(AppwriteError::user_blocked()),
        Some(_) => Ok(user_id),
    }
}
