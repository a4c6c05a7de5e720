//! Runs a request's decision (a callback, an exchange, a back-channel logout) on a task of its
//! own, so that it always runs to its end.
//!
//! hyper drops a handler's future when its client hangs up (or a provider's HTTP client gives
//! up before the gateway's budget), and the handler's own awaits would stop wherever they
//! were: a token or user created with no audit event, a logout token spent with the sessions
//! half ended. A spawned task is not cancelled with the request: the decision finishes (its
//! time budget bounds it), records its audit event and metrics, and only its answer is lost.
//! Must not: run anything but a decision that bounds its own time; answer a panic with
//! anything but the generic 500 (nothing was minted: minting is a decision's last step).

use std::future::Future;

use axum::response::Response;
use tracing::Instrument;

/// Runs `decision` to its end whatever becomes of the request, in the request's span.
///
/// # Errors
/// The generic 500 when the decision panicked (or the runtime is shutting down).
pub async fn decide<T: Send + 'static>(
    decision: impl Future<Output = T> + Send + 'static,
) -> Result<T, Response> {
    tokio::spawn(decision.in_current_span())
        .await
        .map_err(|error| {
            tracing::error!(panicked = error.is_panic(), "a decision did not finish");
            super::internal_error()
        })
}
