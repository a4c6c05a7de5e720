//! The latency of Appwrite calls, by operation and status class.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Buckets of one Appwrite call, in seconds: a few milliseconds nearby, up to the longest
/// `appwrite.timeout_ms`.
const APPWRITE_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    status: &'static str,
}

type Calls = Family<CallLabels, Histogram, fn() -> Histogram>;

fn call_histogram() -> Histogram {
    Histogram::new(APPWRITE_BUCKETS)
}

/// How an Appwrite call ended, as a small closed set: the statuses the gateway treats apart
/// (401 for account JWTs, 404 for "no such user", 409 for "created meanwhile", 429 for
/// "slow down"), the other classes, and the calls that got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppwriteStatus {
    /// An HTTP status.
    Http(u16),
    /// No answer within `appwrite.timeout_ms`.
    Timeout,
    /// No answer: the connection failed (refused, reset, TLS).
    Connection,
}

impl AppwriteStatus {
    /// The `status` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http(401) => "401",
            Self::Http(404) => "404",
            Self::Http(409) => "409",
            Self::Http(429) => "429",
            Self::Http(200..=299) => "2xx",
            Self::Http(300..=399) => "3xx",
            Self::Http(400..=499) => "4xx",
            Self::Http(500..=599) => "5xx",
            Self::Http(_) => "other",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
        }
    }
}

/// What the Appwrite client times its calls with (every attempt, retries included). Cheap to
/// clone; one not taken from [`Metrics`](super::Metrics) counts into nothing that is rendered.
#[derive(Clone, Debug)]
pub struct AppwriteCalls(Calls);

impl Default for AppwriteCalls {
    fn default() -> Self {
        Self(Family::new_with_constructor(call_histogram))
    }
}

impl AppwriteCalls {
    /// Registers `appwrite_request_duration_seconds`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let calls = Self::default();
        registry.register_with_unit(
            "appwrite_request_duration",
            "Appwrite API calls (each attempt) by operation and status class",
            Unit::Seconds,
            calls.0.clone(),
        );
        calls
    }

    /// One call of `operation` (`get_user`, `create_token`...) ended with `status` after
    /// `elapsed`.
    pub fn observe(&self, operation: &'static str, status: AppwriteStatus, elapsed: Duration) {
        self.0
            .get_or_create(&CallLabels {
                operation,
                status: status.as_str(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::*;

    #[test]
    fn statuses_fall_into_their_classes() {
        let cases = [
            (AppwriteStatus::Http(201), "2xx"),
            (AppwriteStatus::Http(404), "404"),
            (AppwriteStatus::Http(409), "409"),
            (AppwriteStatus::Http(403), "4xx"),
            (AppwriteStatus::Http(503), "5xx"),
            (AppwriteStatus::Http(302), "3xx"),
            (AppwriteStatus::Timeout, "timeout"),
            (AppwriteStatus::Connection, "connection"),
        ];
        for (status, label) in cases {
            assert_eq!(status.as_str(), label, "{status:?}");
        }
    }

    #[test]
    fn calls_are_timed_by_operation_and_status() {
        let metrics = Metrics::new();
        let calls = metrics.appwrite();
        calls.observe(
            "create_user",
            AppwriteStatus::Http(409),
            Duration::from_millis(7),
        );
        calls.observe(
            "create_user",
            AppwriteStatus::Http(409),
            Duration::from_millis(70),
        );
        let text = metrics.render().expect("render");
        let count = "idp_bridge_appwrite_request_duration_seconds_count{operation=\"create_user\",status=\"409\"} 2\n";
        assert!(text.contains(count), "{text}");
        let bucket = "idp_bridge_appwrite_request_duration_seconds_bucket{le=\"0.01\",operation=\"create_user\",status=\"409\"} 1\n";
        assert!(text.contains(bucket), "{text}");
    }
}
