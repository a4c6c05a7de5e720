//! Request parameter parsing.
//!
//! The emulator is deliberately stricter than Appwrite in one way: a query parameter or JSON
//! body field that is not listed for the route in [`crate::ROUTES`] is rejected with 400
//! `general_argument_invalid` (Appwrite silently ignores it). That catches misspelled
//! parameters in the gateway and keeps the contract test meaningful.

use serde_json::{Map, Value};

use crate::error::AppwriteError;
use crate::routes::RouteSpec;

/// Parsed query string: `(name, value)` pairs with array suffixes (`queries[]`,
/// `queries[0]`) reduced to the bare name.
pub(crate) fn query_pairs(
    route: &RouteSpec,
    raw: Option<&str>,
) -> Result<Vec<(String, String)>, AppwriteError> {
    let raw = raw.unwrap_or("");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| AppwriteError::new(400, "general_argument_invalid", e.to_string()))?;
    pairs
        .into_iter()
        .map(|(name, value)| {
            let bare = name.split('[').next().unwrap_or_default().to_owned();
            if route.query_params.contains(&bare.as_str()) {
                Ok((bare, value))
            } else {
                Err(unknown_param(&name))
            }
        })
        .collect()
}

/// Parses a JSON object body (empty body = `{}`), rejecting fields not in the route's table.
pub(crate) fn json_body(
    route: &RouteSpec,
    body: &[u8],
) -> Result<Map<String, Value>, AppwriteError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        AppwriteError::new(
            400,
            "general_argument_invalid",
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(map) = value else {
        return Err(AppwriteError::new(
            400,
            "general_argument_invalid",
            "Request body must be a JSON object.",
        ));
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !route.body_params.contains(&k.as_str()))
    {
        return Err(unknown_param(unknown));
    }
    Ok(map)
}

fn unknown_param(name: &str) -> AppwriteError {
    AppwriteError::new(
        400,
        "general_argument_invalid",
        format!(
            "Unknown parameter `{name}` (the Appwrite emulator only accepts the parameters listed in its ROUTES table)."
        ),
    )
}

/// An optional string field; `null` counts as absent.
pub(crate) fn opt_string(
    map: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, AppwriteError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AppwriteError::invalid_param(
            name,
            "Value must be a valid string",
        )),
    }
}

/// A required string field.
pub(crate) fn req_string(map: &Map<String, Value>, name: &str) -> Result<String, AppwriteError> {
    opt_string(map, name)?.ok_or_else(|| AppwriteError::missing_param(name))
}

/// An optional integer in `min..=max`; `null` counts as absent.
pub(crate) fn opt_range(
    map: &Map<String, Value>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, AppwriteError> {
    let why = format!("Value must be a valid range between {min} and {max}");
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(AppwriteError::invalid_param(name, &why)),
        },
        Some(_) => Err(AppwriteError::invalid_param(name, &why)),
    }
}

/// A required boolean field.
pub(crate) fn req_bool(map: &Map<String, Value>, name: &str) -> Result<bool, AppwriteError> {
    opt_bool(map, name)?.ok_or_else(|| AppwriteError::missing_param(name))
}

/// An optional boolean field.
pub(crate) fn opt_bool(
    map: &Map<String, Value>,
    name: &str,
) -> Result<Option<bool>, AppwriteError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(AppwriteError::invalid_param(
            name,
            "Value must be a valid boolean",
        )),
    }
}
