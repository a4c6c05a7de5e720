//! Project and API-key checks (`X-Appwrite-Project`, `X-Appwrite-Key`).

use axum::http::HeaderMap;

use crate::ApiKey;
use crate::error::AppwriteError;
use crate::state::Shared;

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
