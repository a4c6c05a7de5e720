//! The error answers the Authentication API documents: HTTP status, `message_code`, `name`,
//! `message`, sent as the envelope `{"name","message","message_code","status"}` with that HTTP
//! status (TypingDNA uses non-standard 44x/45x/46x statuses).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One documented error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentedError {
    /// HTTP status.
    pub status: u16,
    /// TypingDNA's `message_code`.
    pub message_code: u16,
    /// The `name` field.
    pub name: &'static str,
    /// The `message` field (paraphrased).
    pub message: &'static str,
}

const fn e(
    status: u16,
    message_code: u16,
    name: &'static str,
    message: &'static str,
) -> DocumentedError {
    DocumentedError {
        status,
        message_code,
        name,
        message,
    }
}

/// Every error status the `/auto` and `/user` endpoints document, plus `/save`'s 456.
pub const DOCUMENTED_ERRORS: &[DocumentedError] = &[
    e(
        400,
        31,
        "Bad request",
        "Invalid parameter in request body: Syntax error.",
    ),
    e(
        401,
        32,
        "Not authenticated",
        "apiKey/apiSecret combination is invalid",
    ),
    e(403, 33, "Invalid apiKey", "The apiKey is not valid"),
    e(
        404,
        38,
        "Not found",
        "The requested resource was not found.",
    ),
    e(
        405,
        34,
        "Method not allowed",
        "The method is not supported by this resource",
    ),
    e(
        429,
        52,
        "Too many requests",
        "The account's request throughput limit is reached.",
    ),
    e(
        444,
        35,
        "Invalid user id",
        "Invalid user id (6 to 256 characters, a hash or id, not an email or phone number)",
    ),
    e(
        445,
        36,
        "Invalid typing pattern",
        "One or more typing patterns are invalid.",
    ),
    e(
        447,
        42,
        "Maximum request number exceeded",
        "The request is larger than accepted.",
    ),
    e(
        448,
        40,
        "Mixed typing patterns",
        "Mobile and desktop patterns cannot be matched against each other.",
    ),
    e(
        449,
        41,
        "The typing patterns have different  textid or length",
        "The patterns have a different length or text id.",
    ),
    e(
        450,
        44,
        "Different pattern types",
        "The patterns are of different types.",
    ),
    e(
        451,
        45,
        "Server maintenance",
        "The server is in maintenance.",
    ),
    e(
        452,
        43,
        "Maximum request number exceeded",
        "Too many requests from this IP address.",
    ),
    e(
        453,
        46,
        "Mobile pattern without motion data",
        "A mobile pattern carries no motion data.",
    ),
    e(
        454,
        47,
        "Match server unavailable",
        "Matching is not possible at the moment.",
    ),
    e(
        456,
        53,
        "Unsupported on current subscription",
        "The subscription does not support this operation.",
    ),
    e(
        458,
        55,
        "Incompatible typing patterns",
        "Only patterns of one device, type and text fit in one call.",
    ),
    e(
        459,
        56,
        "Too many typing patterns submitted",
        "Too many typing patterns for one verification.",
    ),
    e(
        461,
        51,
        "Maximum number of users reached",
        "The subscription's user limit is reached.",
    ),
    e(
        462,
        57,
        "Maximum number of verifications reached",
        "The subscription's verification limit for this user is reached.",
    ),
    e(
        500,
        48,
        "Internal server error",
        "The server failed to complete the request.",
    ),
    e(
        503,
        49,
        "Service unavailable",
        "The server cannot handle the request at the moment.",
    ),
];

/// The documented error with HTTP `status`.
///
/// # Panics
/// When `status` is not documented (a mistake in the test that scripts it).
pub fn documented(status: u16) -> DocumentedError {
    DOCUMENTED_ERRORS
        .iter()
        .copied()
        .find(|e| e.status == status)
        .unwrap_or_else(|| panic!("typingdna-emulator: status {status} is not a documented error"))
}

impl IntoResponse for DocumentedError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "name": self.name,
            "message": self.message,
            "message_code": self.message_code,
            "status": self.status,
        });
        (status, Json(body)).into_response()
    }
}
