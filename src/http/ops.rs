//! Operational routes: `/v1/providers`, `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::future::join_all;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::state::Live;
use crate::login::Login;
use crate::metrics::{self, Metrics};

/// How long `/readyz` waits for its checks.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

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
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> axum::response::Response {
    match metrics.render() {
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
    }
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// How long a `/readyz` verdict is reused. `/readyz` needs no authentication, so without this
/// every call would reach Appwrite and every provider.
pub const READY_CACHE: Duration = Duration::from_secs(5);

/// The cached `/readyz` verdict: computed by one request at a time (moka's `get_with` runs one
/// initialiser per key and lets concurrent callers wait for it), reused for [`READY_CACHE`],
/// failures included (an outage is when a flood would hurt most).
pub struct Readiness {
    cache: moka::future::Cache<(), Arc<Verdict>>,
}

/// A `/readyz` answer.
#[derive(Debug)]
struct Verdict {
    status: StatusCode,
    body: Value,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(READY_CACHE)
                .build(),
        }
    }
}

/// Whether shutdown has begun. Once set it stays set: a draining instance never becomes ready
/// again, so a load balancer that saw 503 keeps sending elsewhere.
#[derive(Debug, Default)]
pub struct Draining(AtomicBool);

impl Draining {
    /// Marks the instance as draining (the shutdown signal arrived).
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Draining::begin`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `GET /readyz`: Appwrite reachable with a working key, the store working, every provider's
/// metadata and keys loaded. 503 with the failing checks otherwise, and 503 `draining` (no
/// checks run) once shutdown has begun. At most one round of checks per [`READY_CACHE`].
pub async fn readyz(
    State(live): State<Arc<Live>>,
    State(draining): State<Arc<Draining>>,
) -> axum::response::Response {
    if draining.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let verdict = live
        .readiness
        .cache
        .get_with((), async { Arc::new(check(&live.login).await) })
        .await;
    (verdict.status, Json(verdict.body.clone())).into_response()
}

/// One round of readiness checks.
async fn check(login: &Login) -> Verdict {
    let checks = async {
        let mut results = Map::new();
        let appwrite = login.appwrite().ping().await.map_err(|e| e.to_string());
        results.insert("appwrite".into(), verdict("appwrite", appwrite));
        results.insert(
            "store".into(),
            verdict(
                "store",
                login.store().ping().await.map_err(|e| e.to_string()),
            ),
        );
        let providers = join_all(login.providers().map(|p| async move {
            (
                format!("provider:{}", p.info().id),
                p.ready().await.map_err(|e| e.to_string()),
            )
        }))
        .await;
        for (name, result) in providers {
            let value = verdict(&name, result);
            results.insert(name, value);
        }
        results
    };
    let Ok(results) = tokio::time::timeout(READY_TIMEOUT, checks).await else {
        tracing::warn!("readiness checks timed out");
        let error = ApiError::new("not_ready", 503, "readiness checks timed out");
        return Verdict {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: serde_json::to_value(&error.0).unwrap_or(Value::Null),
        };
    };
    let ready = results.values().all(|v| v == "ok");
    Verdict {
        status: if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        body: json!({"status": if ready { "ready" } else { "not_ready" }, "checks": results}),
    }
}

/// `"ok"` or `"failed"`: the reason goes to the log, not to whoever asks `/readyz`.
fn verdict(name: &str, result: Result<(), String>) -> Value {
    match result {
        Ok(()) => Value::from("ok"),
        Err(error) => {
            tracing::warn!(check = name, %error, "readiness check failed");
            Value::from("failed")
        }
    }
}
