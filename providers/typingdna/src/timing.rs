//! How long TypingDNA usually takes, so that a `login` request for an unknown email is
//! answered after about the same time as one that reached TypingDNA and failed to match.
//! Nothing in a crate does this; it is an exponentially weighted mean plus random jitter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

/// The assumed latency before any call was measured.
const INITIAL: Duration = Duration::from_millis(250);
/// Latencies above this are not learned (a timeout is not a typical answer).
const LEARN_AT_MOST: Duration = Duration::from_secs(5);

/// A running mean of TypingDNA call durations, in microseconds.
pub(crate) struct Latency {
    mean_micros: AtomicU64,
    random: SystemRandom,
}

impl Latency {
    pub fn new() -> Self {
        Self {
            mean_micros: AtomicU64::new(INITIAL.as_micros() as u64),
            random: SystemRandom::new(),
        }
    }

    /// Learns one call's duration (weight 1/8).
    pub fn observe(&self, took: Duration) {
        let took = took.min(LEARN_AT_MOST).as_micros() as u64;
        let _ = self
            .mean_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mean| {
                Some(mean - mean / 8 + took / 8)
            });
    }

    /// The current mean.
    #[cfg(test)]
    pub fn mean(&self) -> Duration {
        Duration::from_micros(self.mean_micros.load(Ordering::Relaxed))
    }

    /// A duration drawn uniformly from 75%..125% of the mean.
    pub fn sample(&self) -> Duration {
        let mut byte = [0u8; 2];
        // Without randomness the mean itself is used: still a plausible answer time.
        let spread = match self.random.fill(&mut byte) {
            Ok(()) => u64::from(u16::from_le_bytes(byte)),
            Err(_) => 32_768,
        };
        let mean = self.mean_micros.load(Ordering::Relaxed);
        let low = mean - mean / 4;
        Duration::from_micros(low + (mean / 2) * spread / 65_535)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_follows_observations_and_samples_stay_near_it() {
        let latency = Latency::new();
        for _ in 0..100 {
            latency.observe(Duration::from_millis(40));
        }
        let mean = latency.mean();
        assert!(
            mean > Duration::from_millis(39) && mean < Duration::from_millis(42),
            "{mean:?}"
        );
        for _ in 0..50 {
            let s = latency.sample();
            assert!(
                s >= mean * 3 / 4 && s <= mean * 5 / 4 + Duration::from_micros(1),
                "{s:?}"
            );
        }
        latency.observe(Duration::from_secs(60));
        assert!(
            latency.mean() < Duration::from_secs(1),
            "timeouts are capped"
        );
    }
}
