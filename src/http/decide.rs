//! Runs a request's decision (a callback, an exchange, a back-channel logout) on a task of its
//! own, so that it always runs to its end; bounds how many run at once; lets shutdown wait for
//! them.
//!
//! hyper drops a handler's future when its client hangs up (or a provider's HTTP client gives
//! up before the gateway's budget), and the handler's own awaits would stop wherever they
//! were: a token or user created with no audit event, a logout token spent with the sessions
//! half ended. A spawned task is not cancelled with the request: the decision finishes (its
//! time budget bounds it), records its audit event and metrics, and only its answer is lost.
//!
//! A detached decision no longer holds a connection, so `max_connections` alone would not
//! bound them: a client that starts a decision and hangs up at once, again and again (say
//! back-channel logouts while the provider's keys are slow), could pile up tasks without end.
//! Each decision therefore holds one of a fixed number of slots (the listener's
//! `max_connections`, the bound that held before decisions were detached) from before it
//! starts until it ends; a request waits for a slot while its client is still there (the
//! request time-out bounds the wait), and nothing is decided for one that leaves meanwhile.
//! Must not: run anything but a decision that bounds its own time; answer a panic with
//! anything but the generic 500 (nothing was minted: minting is a decision's last step).

use std::future::Future;
use std::sync::Arc;

use axum::response::Response;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// The decisions in flight: at most a fixed number at once, each to its end.
#[derive(Debug)]
pub struct Decisions {
    slots: Arc<Semaphore>,
    tasks: TaskTracker,
}

impl Decisions {
    /// At most `limit` decisions at once (at least one).
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS))),
            tasks: TaskTracker::new(),
        }
    }

    /// Runs `decision` to its end whatever becomes of the request, in the request's span,
    /// once a slot is free.
    ///
    /// # Errors
    /// The generic 500 when the decision panicked (or the runtime is shutting down).
    pub async fn run<T: Send + 'static>(
        &self,
        decision: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Response> {
        // Never closed, so this waits for a slot; the request may be dropped while it waits.
        let slot = self.slots.clone().acquire_owned().await.map_err(|_| {
            tracing::error!("the decision slots are closed");
            super::internal_error()
        })?;
        let decided = self.tasks.spawn(
            async move {
                let decided = decision.await;
                drop(slot);
                decided
            }
            .in_current_span(),
        );
        decided.await.map_err(|error| {
            tracing::error!(panicked = error.is_panic(), "a decision did not finish");
            super::internal_error()
        })
    }

    /// Stops taking new decisions' tasks into account for shutdown and waits until `deadline`
    /// for those in flight, whose clients may be gone. `true` when they all finished.
    pub async fn finish_by(&self, deadline: Instant) -> bool {
        self.tasks.close();
        tokio::time::timeout_at(deadline, self.tasks.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// A decision that runs until `release` is sent (or dropped).
    async fn held(release: oneshot::Receiver<()>) -> u8 {
        let _ = release.await;
        1
    }

    #[tokio::test(start_paused = true)]
    async fn a_decision_whose_request_is_gone_keeps_its_slot_until_it_ends() {
        let decisions = Arc::new(Decisions::new(1));
        let (release, hold) = oneshot::channel();
        let first = tokio::spawn({
            let decisions = decisions.clone();
            async move { decisions.run(held(hold)).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Its client hangs up: the request's future is dropped, the decision runs on.
        first.abort();
        let started = Arc::new(AtomicBool::new(false));
        let second = tokio::spawn({
            let (decisions, started) = (decisions.clone(), started.clone());
            async move {
                decisions
                    .run(async move {
                        started.store(true, Ordering::SeqCst);
                        2
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(
            !started.load(Ordering::SeqCst),
            "a second decision started while the detached one held the only slot"
        );
        release
            .send(())
            .expect("the detached decision is still running");
        assert_eq!(second.await.expect("task").ok(), Some(2));
        assert!(started.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_a_detached_decision_until_its_deadline() {
        let decisions = Arc::new(Decisions::new(4));
        let (release, hold) = oneshot::channel();
        let request = tokio::spawn({
            let decisions = decisions.clone();
            async move { decisions.run(held(hold)).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        request.abort();
        let soon = Instant::now() + Duration::from_secs(5);
        assert!(!decisions.finish_by(soon).await, "it is still running");
        release
            .send(())
            .expect("the detached decision is still running");
        let later = Instant::now() + Duration::from_secs(5);
        assert!(decisions.finish_by(later).await);
    }

    #[tokio::test]
    async fn a_panicking_decision_is_the_generic_500() {
        let decisions = Decisions::new(1);
        let answer = decisions
            .run(async {
                panic!("a bug");
                #[allow(unreachable_code)]
                ()
            })
            .await;
        let status = answer.expect_err("a panic is no decision").status();
        assert_eq!(status, axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        // The slot came back: the next decision runs.
        assert_eq!(decisions.run(async { 3 }).await.ok(), Some(3));
    }
}
