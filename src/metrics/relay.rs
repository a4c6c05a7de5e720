//! [`ProviderEventRelay`]: the listener providers are opened with, connected to the metrics
//! later.
//!
//! Providers are opened while the configuration is validated (offline: `check-config` opens
//! them too), before the process has built its metrics. So the configuration hands each
//! provider this relay, and startup connects it to the one [`Metrics`](super::Metrics) once
//! that exists. Nothing is fetched before then (opening is offline), so no event is lost.

use std::sync::{Arc, OnceLock};

use idp_provider_api::{KeyFetchCause, KeyFetchResult, ProviderEvents};

/// Forwards provider events to the listener it is connected to; drops them until then.
#[derive(Debug, Default)]
pub struct ProviderEventRelay {
    sink: OnceLock<Arc<dyn ProviderEvents>>,
}

impl ProviderEventRelay {
    /// Sends every later event to `sink`. The first connection stays: `false` when the relay
    /// was connected already (one process has one set of metrics).
    pub fn connect(&self, sink: Arc<dyn ProviderEvents>) -> bool {
        self.sink.set(sink).is_ok()
    }
}

impl ProviderEvents for ProviderEventRelay {
    fn key_fetch(&self, provider: &str, cause: KeyFetchCause, result: KeyFetchResult) {
        if let Some(sink) = self.sink.get() {
            sink.key_fetch(provider, cause, result);
        }
    }

    fn key_refetch_suppressed(&self, provider: &str) {
        if let Some(sink) = self.sink.get() {
            sink.key_refetch_suppressed(provider);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::*;

    #[test]
    fn events_reach_the_metrics_only_once_connected() {
        let relay = ProviderEventRelay::default();
        relay.key_fetch("corp", KeyFetchCause::Startup, KeyFetchResult::Ok);
        let metrics = Arc::new(Metrics::new());
        assert!(relay.connect(metrics.clone()));
        assert!(!relay.connect(Arc::new(Metrics::new())), "the first stays");
        relay.key_fetch("corp", KeyFetchCause::Refresh, KeyFetchResult::Ok);
        relay.key_refetch_suppressed("corp");
        let text = metrics.render().expect("render");
        assert!(
            !text.contains("cause=\"startup\""),
            "dropped before: {text}"
        );
        assert!(
            text.contains(
                "idp_bridge_jwks_fetches_total{provider=\"corp\",cause=\"refresh\",result=\"ok\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("idp_bridge_jwks_refetches_suppressed_total{provider=\"corp\"} 1\n"));
    }
}
