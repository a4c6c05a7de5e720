//! Request-shape limits checked before any handler runs: the length of the request URI and of
//! every query parameter, and the shape of a client-supplied `X-Request-Id` (and the making of
//! a fresh one, [`MakeRequestId`]).
//!
//! hyper itself refuses request targets over 65 534 bytes; a real login never comes near the
//! limits here, so anything longer is refused before the handlers parse it (a parameter is
//! decoded once, in linear time, to measure it).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore as _;
use tower_http::request_id::{MakeRequestId, RequestId};

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

/// The one answer to a request body over [`super::BODY_LIMIT`], whichever part found it: a
/// JSON error naming the limit.
pub fn payload_too_large() -> Response {
    super::error::ApiError::new(
        "general_payload_too_large",
        413,
        format!(
            "The request body is larger than the gateway accepts ({} KiB).",
            super::BODY_LIMIT / 1024
        ),
    )
    .into_response()
}

/// Response mapper, outside the body limit layers: their own 413 (tower-http's, for a
/// `Content-Length` over the limit, is plain text) becomes [`payload_too_large`], so a
/// client gets the same JSON error however the body was sent.
pub async fn uniform_payload_too_large<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        payload_too_large()
    } else {
        response.map(axum::body::Body::new)
    }
}

/// Makes the id of a request that came without a usable one: a random (version 4) UUID.
///
/// tower-http's `MakeRequestUuid` asks the kernel for 16 bytes on every request (one
/// `getrandom` system call each); this draws them from the thread's CSPRNG instead, as the
/// login `state` does. A request id is a correlation handle, not a secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreshRequestId;

impl MakeRequestId for FreshRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
            .ok()
            .map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_request_ids_are_distinct_v4_uuids_that_pass_our_own_check() {
        let request = axum::http::Request::new(());
        let mut make = FreshRequestId;
        let ids: Vec<String> = (0..64)
            .map(|_| {
                let id = make.make_request_id(&request).expect("an id");
                id.header_value().to_str().expect("ASCII").to_string()
            })
            .collect();
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{id}");
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert!(is_valid_request_id(id.as_bytes()), "{id}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

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
