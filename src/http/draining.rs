//! Draining: the flag shutdown sets, after which `/readyz` answers 503 and this instance never
//! becomes ready again.
//! Must not: use another module of `http` (the state and the readiness route use this one).

use std::sync::atomic::{AtomicBool, Ordering};

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
