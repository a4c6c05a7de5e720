//! Operational routes: `/v1/providers`, `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::draining::Draining;
use super::error::ApiError;
use super::state::Live;
use crate::login::Login;
use crate::metrics::{self, Metrics};

/// `GET /v1/providers`: the enabled providers, for login buttons.
pub async fn providers(State(login): State<Arc<Login>>) -> impl IntoResponse {
    let list: Vec<Value> = login
        .providers()
        .map(|p| {
            let info = p.info();
            json!({
                "id": info.id,
                "type": info.kind,
                "name": info.display_name,
                "redirect": p.redirect().is_some(),
                "assertion": p.assertion().is_some(),
            })
        })
        .collect();
    Json(json!({ "total": list.len(), "providers": list }))
}

/// `GET /metrics`: every metric as OpenMetrics text, ending with `# EOF`.
///
/// When the last readiness round is older than [`READY_CACHE`](super::readiness::READY_CACHE),
/// a scrape also starts one in the background (this scrape shows the previous round; the next
/// one shows this round's), so the health gauges stay current where nothing polls `/readyz`.
/// The round is the cached one of `/readyz`: scrapes and probes together cause at most one per
/// [`READY_CACHE`](super::readiness::READY_CACHE).
pub async fn metrics(
    State(metrics): State<Arc<Metrics>>,
    State(live): State<Arc<Live>>,
) -> axum::response::Response {
    let response = match metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render the metrics");
            ApiError::new(
                "general_server_error",
                500,
                "The metrics cannot be rendered.",
            )
            .into_response()
        }
    };
    if !live.readiness.is_fresh() {
        // Bounded (each check has its own timeout), and no loop: it ends with its round.
        tokio::spawn(async move {
            live.readiness.verdict(&live.login, &metrics).await;
        });
    }
    response
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 while this instance can serve, 503 when its store fails, and 503
/// `{"status":"draining"}` (no checks run) once shutdown has begun; every dependency's state in
/// the body (see [`readiness`](super::readiness)). At most one round of checks per
/// [`READY_CACHE`](super::readiness::READY_CACHE).
pub async fn readyz(
    State(live): State<Arc<Live>>,
    State(draining): State<Arc<Draining>>,
    State(metrics): State<Arc<Metrics>>,
) -> axum::response::Response {
    if draining.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let verdict = live.readiness.verdict(&live.login, &metrics).await;
    (verdict.status, Json(verdict.body.clone())).into_response()
}
