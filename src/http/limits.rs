//! Request-shape limits checked before any handler runs: the length of the request URI and of
//! every query parameter, and the shape of a client-supplied `X-Request-Id`.
//!
//! hyper itself refuses request targets over 65 534 bytes; a real login never comes near the
//! limits here, so anything longer is refused before the handlers parse it (a parameter is
//! decoded once, in linear time, to measure it).

use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ErrorPage;

/// Longest request URI accepted (414 beyond). Success and failure URLs (at most 2048 bytes
/// each) are usually short; a browser URL bar and most proxies stop near this size as well.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Longest decoded query parameter (name and value) accepted (400 naming it beyond). The
/// allow-list already caps success and failure URLs at 2048 bytes; authorization codes of the
/// largest providers stay well under this.
pub const MAX_PARAM_BYTES: usize = 4096;
/// Longest client-supplied request id kept.
pub const MAX_REQUEST_ID: usize = 64;

/// Middleware: 414 for a URI over [`MAX_URI_BYTES`], 400 naming the first query parameter over
/// [`MAX_PARAM_BYTES`].
pub async fn uri_limits(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let length = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    if length > MAX_URI_BYTES {
        return ErrorPage {
            status: StatusCode::URI_TOO_LONG,
            message: format!("The request URI is longer than {MAX_URI_BYTES} bytes."),
        }
        .into_response();
    }
    if let Some(query) = uri.query() {
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name.len() + value.len() > MAX_PARAM_BYTES {
                let shown: String = name.chars().take(32).collect();
                return ErrorPage::bad_request(format!(
                    "The query parameter {shown:?} is longer than {MAX_PARAM_BYTES} bytes."
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// Whether a client-supplied request id may be kept: 1 to [`MAX_REQUEST_ID`] characters from
/// `[A-Za-z0-9._-]`. Anything else (spaces, control or non-ASCII bytes, quotes) could forge or
/// break log lines.
pub fn is_valid_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Middleware, outside tower-http's `SetRequestId` (which keeps any incoming id): removes
/// `X-Request-Id` unless the request carries exactly one well-formed id, so a fresh one is made.
pub async fn drop_bad_request_id(mut request: Request, next: Next) -> Response {
    let name = HeaderName::from_static("x-request-id");
    let mut ids = request.headers().get_all(&name).iter();
    let keep = match (ids.next(), ids.next()) {
        (Some(id), None) => is_valid_request_id(id.as_bytes()),
        _ => false,
    };
    if !keep {
        request.headers_mut().remove(&name);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_checked_by_length_and_alphabet() {
        assert!(is_valid_request_id(b"a"));
        assert!(is_valid_request_id(b"Req-1.2_3"));
        assert!(is_valid_request_id(&[b'x'; 64]));
        assert!(!is_valid_request_id(&[b'x'; 65]));
        assert!(!is_valid_request_id(b""));
        for bad in [
            &b"a b"[..],
            b"a\tb",
            b"a\"b",
            b"a;b",
            "\u{e9}".as_bytes(),
            b"a/b",
        ] {
            assert!(!is_valid_request_id(bad), "{bad:?}");
        }
    }
}
