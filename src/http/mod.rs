//! The HTTP edge: routes (docs/reference/http-api.md) and the layers every response passes through.
//!
//! Layers, outermost first: request id (an incoming one kept only if well-formed, see
//! [`limits::drop_bad_request_id`]; set, then echoed back), trace span per request with
//! the id, method and *path* only (queries carry codes and state, so they are never logged),
//! security headers on every response (`Cache-Control: no-store`, `Referrer-Policy:
//! no-referrer`, `X-Content-Type-Options: nosniff`), URI and query-parameter limits (414/400,
//! [`limits::uri_limits`]), a time limit, a body limit (413, always the JSON error of
//! [`limits::payload_too_large`]).
//!
//! Every refusal outside a login is a JSON error: an unknown path 404 ([`not_found`]), a known
//! path called with a method it does not take 405 with `Allow` ([`method_not_allowed`]).

pub mod auth;
pub mod binding_cookie;
pub mod client_key;
pub mod decide;
pub mod draining;
pub mod error;
pub mod extract;
pub mod limiter;
pub mod limits;
pub mod logout;
pub mod ops;
pub mod rate_limit;
pub mod readiness;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::request_id::{PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use error::ApiError;
pub use state::{AppState, Live};

/// Largest request body accepted (callbacks and exchanges are small).
pub const BODY_LIMIT: usize = 16 * 1024;
/// Longest a request may take, Appwrite and provider calls included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// CORS for the routes a single-page app calls with `fetch` (`exchange`, `/v1/providers`):
/// exactly the listed origins of the current configuration (read per request, so a reload
/// changes them), no credentials (the gateway reads no cookie there), the request headers the
/// page asks for. Preflights from other origins get no `Access-Control-Allow-Origin`.
fn cors(live: Arc<ArcSwap<Live>>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            live.load()
                .cors_origins
                .iter()
                .any(|allowed| allowed.as_bytes() == origin.as_bytes())
        }))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        // Whatever request headers the page asks for (a provider's own, such as a signature
        // header): the origin list is what keeps other sites out, and no credentials flow.
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(600))
}

/// The router of `[server] metrics_listen`: `GET /metrics` alone, with the security headers
/// of the main router; anything else is a 404 (or 405) JSON error.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                )),
        )
}

/// 404 JSON for a route that does not exist.
async fn not_found() -> ApiError {
    ApiError::new(
        "general_route_not_found",
        404,
        "The requested route was not found.",
    )
}

/// 405 JSON for a route that exists but does not take the request's method; axum adds the
/// `Allow` header listing the methods it takes.
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        "general_method_not_allowed",
        405,
        "The requested route does not take this method.",
    )
}

/// The generic 500 JSON error of a panic: no message, no trace.
fn internal_error() -> Response {
    ApiError::new("general_server_error", 500, "Internal error.").into_response()
}

/// The gateway's router; the only way one is built. `/metrics` is on it unless
/// `[server] metrics_listen` gives it a listener of its own ([`metrics_router`]).
pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let cors = cors(state.live.clone());
    let login_routes = Router::new()
        .route("/v1/auth/{provider}/start", get(auth::start))
        .route(
            "/v1/auth/{provider}/callback",
            get(auth::callback).post(auth::callback),
        )
        // The CORS routes get their 405 inside the CORS layer: a preflight (`OPTIONS`) must
        // still reach it. Every other route gets it from `method_not_allowed_fallback` below.
        .route(
            "/v1/auth/{provider}/exchange",
            post(auth::exchange)
                .fallback(method_not_allowed)
                .layer(cors.clone()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ));
    // Not held to the per-IP budget: a provider's mass logout comes from a few addresses, and
    // most providers never retry a refused one. The token's signature is the gate (a forged
    // or garbled token costs a parse and at most one signature check, after a wait for the
    // provider's keys while they are not loaded; key refetches have their own limit); the
    // body limit and the decision slots (`max_connections`, see `decide`) bound the rest.
    let logout_route = Router::new().route(
        "/v1/auth/{provider}/backchannel-logout",
        post(logout::backchannel_logout),
    );
    let ops_routes = Router::new()
        .route(
            "/v1/providers",
            get(ops::providers).fallback(method_not_allowed).layer(cors),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    let ops_routes = if state.metrics_apart {
        ops_routes
    } else {
        ops_routes.route("/metrics", get(ops::metrics))
    };
    Router::new()
        .merge(login_routes)
        .merge(logout_route)
        .merge(ops_routes)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(limits::drop_bad_request_id))
                .layer(SetRequestIdLayer::new(x_request_id.clone(), limits::FreshRequestId))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request<_>| {
                            let id = request
                                .extensions()
                                .get::<RequestId>()
                                .and_then(|id| id.header_value().to_str().ok())
                                .unwrap_or("-");
                            tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
                        })
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id))
                // Defence in depth: a panic anywhere below becomes a plain 500 JSON error
                // (no message, no trace) instead of a dropped connection. Nothing is minted on
                // that path: minting is the last step of a login.
                .layer(CatchPanicLayer::custom(|_| {
                    tracing::error!("a request handler panicked");
                    internal_error()
                }))
                .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(axum::middleware::from_fn(limits::uri_limits))
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
                .layer(axum::middleware::map_response(limits::uniform_payload_too_large))
                .layer(DefaultBodyLimit::max(BODY_LIMIT))
                .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT)),
        )
}
