//! What a provider tells the gateway about its own upstream work, for the gateway's metrics:
//! today, fetches of signing keys (a JWKS).
//!
//! Optional for provider authors: [`OpenContext::events`](crate::OpenContext::events) hands
//! every provider an [`EventReporter`] bound to its id, which does nothing unless the gateway
//! listens. A provider that never reports anything is correct, only less observable.
//! Must not: carry anything secret or user-derived. Every value here becomes a metrics label,
//! so the vocabulary is closed (enums) and the only free text is the configured provider id.

use std::fmt;
use std::sync::Arc;

/// Why a provider fetched its signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFetchCause {
    /// The first load of the keys since the provider was opened (the start-up warm-up, or the
    /// first login if that comes sooner).
    Startup,
    /// The cached keys ran out: their lifetime ended, or a failed fetch is being retried.
    Refresh,
    /// A token named a key the cached set lacks, or had no `kid` and the cached key of its
    /// type did not verify it (a rotated kid-less key), which forced a refetch (rate-limited).
    UnknownKid,
}

impl KeyFetchCause {
    /// The metrics label: `startup`, `refresh` or `unknown_kid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::Refresh => "refresh",
            Self::UnknownKid => "unknown_kid",
        }
    }
}

/// How a key fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFetchResult {
    /// A usable key set arrived.
    Ok,
    /// The fetch failed (unreachable, an error status, not a key set). The provider may still
    /// serve its last good keys for a while.
    Error,
}

impl KeyFetchResult {
    /// The metrics label: `ok` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

/// The gateway's side: receives every provider's events. Each method has a no-op default, so a
/// new kind of event never breaks an implementation.
pub trait ProviderEvents: fmt::Debug + Send + Sync {
    /// `provider` fetched its signing keys because of `cause`, with `result`.
    fn key_fetch(&self, provider: &str, cause: KeyFetchCause, result: KeyFetchResult) {
        let _ = (provider, cause, result);
    }

    /// `provider` saw an unknown `kid` but did not refetch: the last forced refetch was too
    /// recent (`jwks_refetch_interval_seconds`). Many of these mean a flood of made-up `kid`s.
    fn key_refetch_suppressed(&self, provider: &str) {
        let _ = provider;
    }
}

/// Listens to nothing: the default of [`OpenContext`](crate::OpenContext).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl ProviderEvents for NoEvents {}

/// What a provider holds to report its events: the gateway's listener, bound to the provider's
/// id. Cheap to clone.
#[derive(Clone)]
pub struct EventReporter {
    provider: Arc<str>,
    sink: Arc<dyn ProviderEvents>,
}

impl EventReporter {
    /// Reports the events of `provider` to `sink`.
    pub fn new(provider: &str, sink: Arc<dyn ProviderEvents>) -> Self {
        Self {
            provider: provider.into(),
            sink,
        }
    }

    /// A reporter that reports nowhere (tests, tools, providers opened outside a gateway).
    pub fn none() -> Self {
        Self::new("", Arc::new(NoEvents))
    }

    /// See [`ProviderEvents::key_fetch`].
    pub fn key_fetch(&self, cause: KeyFetchCause, result: KeyFetchResult) {
        self.sink.key_fetch(&self.provider, cause, result);
    }

    /// See [`ProviderEvents::key_refetch_suppressed`].
    pub fn key_refetch_suppressed(&self) {
        self.sink.key_refetch_suppressed(&self.provider);
    }
}

impl Default for EventReporter {
    fn default() -> Self {
        Self::none()
    }
}

impl fmt::Debug for EventReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventReporter")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ProviderEvents for Recorder {
        fn key_fetch(&self, provider: &str, cause: KeyFetchCause, result: KeyFetchResult) {
            let line = format!("{provider} {} {}", cause.as_str(), result.as_str());
            self.0.lock().expect("lock").push(line);
        }
    }

    #[test]
    fn a_reporter_names_its_provider_and_the_default_method_is_a_no_op() {
        let recorder = Arc::new(Recorder::default());
        let reporter = EventReporter::new("corp", recorder.clone());
        reporter.key_fetch(KeyFetchCause::UnknownKid, KeyFetchResult::Error);
        // Not overridden by the recorder: the trait's default does nothing and must not panic.
        reporter.key_refetch_suppressed();
        EventReporter::none().key_fetch(KeyFetchCause::Startup, KeyFetchResult::Ok);
        assert_eq!(
            *recorder.0.lock().expect("lock"),
            vec!["corp unknown_kid error".to_string()]
        );
    }
}
