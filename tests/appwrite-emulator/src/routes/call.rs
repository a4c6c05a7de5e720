//! [`Call`]: the checked, parsed inputs of one emulated route, as an axum extractor.
//!
//! Every handler starts the same way Appwrite does: the project, then the API key (and its
//! scope on server routes), then the query string, the path `userId` and the JSON body, each
//! against the route's [`RouteSpec`]. The extractor does that once, in that order, so a
//! handler reads only what is left to check.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::RouteSpec;
use crate::auth::{Caller, caller, check_project, require_scope};
use crate::error::AppwriteError;
use crate::ids::{KEY_RULE, is_valid_custom_id};
use crate::params::{json_body, query_pairs};
use crate::state::Shared;

/// One request to an emulated route, past the checks every route makes.
pub(crate) struct Call {
    /// The emulator's state.
    pub(crate) shared: Arc<Shared>,
    /// The request headers (cookies, for the session route).
    pub(crate) headers: HeaderMap,
    /// True when a known, unexpired API key made the call.
    pub(crate) by_key: bool,
    /// The query string's `(name, value)` pairs (see [`query_pairs`]).
    pub(crate) query: Vec<(String, String)>,
    /// The path `userId`, validated, on routes that have one.
    pub(crate) user_id: String,
    /// The JSON body (empty on routes without body parameters).
    pub(crate) body: Map<String, Value>,
}

impl FromRequest<Arc<Shared>> for Call {
    type Rejection = Response;

    async fn from_request(req: Request, shared: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let route = parts
            .extensions
            .get::<&'static RouteSpec>()
            .copied()
            .ok_or_else(|| AppwriteError::route_not_found().into_response())?;
        let user_id = if route.path_params.contains(&"userId") {
            let Path(id) = Path::<String>::from_request_parts(&mut parts, shared)
                .await
                .map_err(IntoResponse::into_response)?;
            Some(id)
        } else {
            None
        };
        let RawQuery(raw) = RawQuery::from_request_parts(&mut parts, shared)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let bytes = if route.body_params.is_empty() {
            None
        } else {
            let req = Request::from_parts(parts, body);
            Some(
                Bytes::from_request(req, shared)
                    .await
                    .map_err(IntoResponse::into_response)?,
            )
        };
        check(
            Arc::clone(shared),
            headers,
            route,
            user_id,
            raw.as_deref(),
            bytes.as_deref(),
        )
        .map_err(IntoResponse::into_response)
    }
}

/// The checks, in Appwrite's order: project, key (and scope), query, path `userId`, body.
fn check(
    shared: Arc<Shared>,
    headers: HeaderMap,
    route: &RouteSpec,
    user_id: Option<String>,
    raw: Option<&str>,
    body: Option<&[u8]>,
) -> Result<Call, AppwriteError> {
    let by_key = match route.scope {
        Some(scope) => {
            require_scope(&shared, &headers, scope)?;
            true
        }
        None => {
            check_project(&shared, &headers)?;
            matches!(caller(&shared, &headers)?, Caller::Key(_))
        }
    };
    let query = query_pairs(route, raw)?;
    if let Some(id) = &user_id
        && !is_valid_custom_id(id)
    {
        // A path `userId` follows Utopia's `UID` rule, as a custom ID does.
        return Err(AppwriteError::invalid_param("userId", KEY_RULE));
    }
    let body = match body {
        Some(body) => json_body(route, body)?,
        None => Map::new(),
    };
    Ok(Call {
        shared,
        headers,
        by_key,
        query,
        user_id: user_id.unwrap_or_default(),
        body,
    })
}
