//! OpenID Provider metadata: fetched from `{issuer}/.well-known/openid-configuration`, accepted
//! only when its `issuer` equals the configured issuer exactly (Discovery 1.0 section 4.3).
//!
//! [`LoadOnce`] keeps the result: loaded once, single-flight; a failure is not retried by every
//! login but after an exponential backoff ([`Backoff`]), during which callers get the failure
//! again at once, without a network call.

use std::future::Future;
use std::time::{Duration, Instant};

use idp_provider_api::ProviderError;
use serde::Deserialize;
use url::Url;

use crate::extension::DiscoveryTarget;
use crate::http::get_json;
use idp_provider_api::url_rule::is_loopback;

/// The few metadata fields the code flow needs. A struct of our own rather than
/// openidconnect's `CoreProviderMetadata`, which refuses whole documents over one unknown enum
/// value in fields we never read.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    /// The provider's issuer identifier.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: Url,
    /// Where codes are exchanged.
    pub token_endpoint: Url,
    /// The only place signing keys come from.
    pub jwks_uri: Url,
    /// Algorithms the provider may sign ID tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// RFC 9207: the authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// The discovery URL of an issuer: the issuer with `/.well-known/openid-configuration` appended
/// to its path (never replacing it: `https://h/tenant` → `https://h/tenant/.well-known/...`).
pub fn discovery_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = issuer.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{path}/.well-known/openid-configuration"));
    url
}

/// Fetches and checks the metadata at `target`.
///
/// # Errors
/// `Upstream` when the document cannot be fetched; `Misconfigured` when its issuer is not one
/// of `target.issuers` exactly or an endpoint uses http on a non-loopback host without
/// permission.
pub(crate) async fn discover(
    http: &reqwest::Client,
    target: &DiscoveryTarget,
    allow_insecure_http: bool,
) -> Result<Metadata, ProviderError> {
    let url = &target.url;
    let metadata: Metadata = get_json(http, url, "discovery document").await?;
    if !target.issuers.contains(&metadata.issuer) {
        let expected = match target.issuers.as_slice() {
            [one] => format!("the configured issuer is {one:?}"),
            several => format!("the expected issuers are {several:?}"),
        };
        return Err(ProviderError::Misconfigured(format!(
            "discovery document at {url} names issuer {:?}, but {expected}; they must be equal character for character",
            metadata.issuer
        )));
    }
    for (name, endpoint) in [
        ("authorization_endpoint", &metadata.authorization_endpoint),
        ("token_endpoint", &metadata.token_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
    ] {
        let secure = endpoint.scheme() == "https"
            || (endpoint.scheme() == "http" && (allow_insecure_http || is_loopback(endpoint)));
        if !secure {
            return Err(ProviderError::Misconfigured(format!(
                "discovery document at {url}: {name} {endpoint} must be https"
            )));
        }
    }
    Ok(metadata)
}

/// First wait after a failed load.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest wait between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Exponential backoff after failures: `initial`, doubled after each further failure, capped at
/// `max`; a success resets it. Hand-written: a dozen lines, with time passed in so that tests
/// need no clock.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    /// The current wait and when it ends, after a failure.
    waiting: Option<(Duration, Instant)>,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            waiting: None,
        }
    }

    /// How much longer callers must wait at `now` before the next attempt, if at all.
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.waiting
            .and_then(|(_, until)| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Records a failure at `now`; returns the wait it starts.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let wait = match self.waiting {
            Some((previous, _)) => previous.saturating_mul(2).min(self.max),
            None => self.initial.min(self.max),
        };
        self.waiting = Some((wait, now + wait));
        wait
    }

    /// Records a success.
    pub(crate) fn succeeded(&mut self) {
        self.waiting = None;
    }
}

/// The last failure, replayed to callers during the backoff.
struct Failure {
    misconfigured: bool,
    detail: String,
}

impl Failure {
    fn of(error: &ProviderError) -> Self {
        match error {
            ProviderError::Misconfigured(detail) => Self {
                misconfigured: true,
                detail: detail.clone(),
            },
            ProviderError::Upstream(detail) => Self {
                misconfigured: false,
                detail: detail.clone(),
            },
            other => Self {
                misconfigured: false,
                detail: other.to_string(),
            },
        }
    }

    fn replay(&self, left: Duration) -> ProviderError {
        let detail = format!(
            "{} (the last attempt failed; the next is allowed in {} ms)",
            self.detail,
            left.as_millis()
        );
        if self.misconfigured {
            ProviderError::Misconfigured(detail)
        } else {
            ProviderError::Upstream(detail)
        }
    }
}

/// A value loaded on first use, once for all concurrent callers, kept for good once loaded.
/// A failed load is retried only after a backoff; meanwhile callers get the same error
/// (`Upstream`, or `Misconfigured` for a document that contradicts the configuration).
pub(crate) struct LoadOnce<T> {
    value: tokio::sync::OnceCell<T>,
    /// Held across a load, so that loads are single-flight and waiters see its outcome.
    state: tokio::sync::Mutex<(Backoff, Option<Failure>)>,
}

impl<T> LoadOnce<T> {
    pub(crate) fn new(backoff: Backoff) -> Self {
        Self {
            value: tokio::sync::OnceCell::new(),
            state: tokio::sync::Mutex::new((backoff, None)),
        }
    }

    /// The value, loading it with `load` unless loaded, being loaded, or backing off.
    ///
    /// # Errors
    /// The load's error, or the last one again while backing off.
    pub(crate) async fn get<F, Fut>(&self, load: F) -> Result<&T, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let mut state = self.state.lock().await;
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let (backoff, failure) = &mut *state;
        if let (Some(left), Some(failure)) = (backoff.remaining(Instant::now()), failure.as_ref()) {
            return Err(failure.replay(left));
        }
        match load().await {
            Ok(value) => {
                backoff.succeeded();
                *failure = None;
                Ok(self.value.get_or_init(|| async { value }).await)
            }
            Err(error) => {
                let wait = backoff.failed(Instant::now());
                tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "loading provider metadata failed");
                *failure = Some(Failure::of(&error));
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_resets_on_success() {
        let start = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(b.remaining(start), None, "no wait before any failure");
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..9 {
            let wait = b.failed(now);
            assert_eq!(b.remaining(now), Some(wait));
            assert_eq!(
                b.remaining(now + wait / 2),
                Some(wait - wait / 2),
                "half way"
            );
            assert_eq!(b.remaining(now + wait), None, "over");
            waits.push(wait.as_secs());
            now += wait;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.succeeded();
        assert_eq!(b.remaining(now), None);
        assert_eq!(b.failed(now), Duration::from_secs(1), "a success resets");
    }

    #[tokio::test]
    async fn load_once_replays_the_failure_while_backing_off() {
        let cell = LoadOnce::new(Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(1),
        ));
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let load = |ok: bool| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                if ok {
                    Ok(7)
                } else {
                    Err(ProviderError::Misconfigured("issuer differs".into()))
                }
            }
        };
        for _ in 0..5 {
            let err = cell.get(|| load(false)).await.expect_err("fails");
            assert!(
                matches!(&err, ProviderError::Misconfigured(d) if d.contains("issuer differs")),
                "{err:?}"
            );
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cell.get(|| load(true)).await.expect("loads"), &7);
        assert_eq!(cell.get(|| load(false)).await.expect("kept"), &7);
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn discovery_url_appends_to_the_issuer_path() {
        let cases = [
            ("https://h", "https://h/.well-known/openid-configuration"),
            ("https://h/", "https://h/.well-known/openid-configuration"),
            (
                "https://h/t/v2.0",
                "https://h/t/v2.0/.well-known/openid-configuration",
            ),
            (
                "https://h/realms/x/",
                "https://h/realms/x/.well-known/openid-configuration",
            ),
        ];
        for (issuer, want) in cases {
            let url = Url::parse(issuer).expect("test URL");
            assert_eq!(discovery_url(&url).as_str(), want);
        }
    }
}
