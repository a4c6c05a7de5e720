//! A request body with a deadline: the whole body must arrive by a fixed instant, however
//! steadily its bytes trickle in.
//!
//! Written here because tower-http's `TimeoutBody` restarts its clock at every frame, so a
//! client sending a byte a second never trips it and holds its connection until the request
//! timeout (and the body limit is far smaller than anything a real client takes that long to
//! send). Must not: buffer or inspect the body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

/// Why a request body stopped being read.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?} (server.header_read_timeout_seconds)")]
pub struct TooSlow(Duration);

/// `Incoming` that fails with [`TooSlow`] once its deadline has passed before its end.
pub struct Deadline {
    body: Incoming,
    /// `None` for a body that is already complete (no body at all): no timer for it.
    sleep: Option<Pin<Box<Sleep>>>,
    limit: Duration,
}

impl Deadline {
    /// `body`, which must be complete within `limit` from now.
    pub fn new(body: Incoming, limit: Duration) -> Self {
        let sleep = (!body.is_end_stream()).then(|| Box::pin(tokio::time::sleep(limit)));
        Self { body, sleep, limit }
    }
}

impl Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        // The deadline first: once it has passed, every poll is the error, even one whose
        // bytes happen to be ready (nothing after the deadline is handed on).
        if let Some(Poll::Ready(())) = this.sleep.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
            return Poll::Ready(Some(Err(TooSlow(this.limit).into())));
        }
        Pin::new(&mut this.body)
            .poll_frame(cx)
            .map(|frame| frame.map(|frame| frame.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
