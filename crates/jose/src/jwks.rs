//! The signing-key cache of one issuer, shared by every provider that reads a JWKS (an OIDC
//! provider's discovered `jwks_uri`, a signed assertion's `jwks_url`).
//!
//! Keys come only from that one URL. They live in a moka cache for
//! `jwks_cache_seconds`; moka's `try_get_with` makes every load single-flight, so a burst of
//! logins costs one fetch. A token whose `kid` is unknown may force one refetch, but only if the
//! last *forced* refetch is at least `jwks_refetch_interval_seconds` old: a real key rotation is
//! picked up at once, while a flood of random `kid`s costs at most one fetch per interval. A
//! token without `kid` that the cached key fails to verify spends the same budget (a provider
//! that publishes one key without `kid` and rotates it). When
//! the provider is down, the last good keys keep being served and the fetch is retried after a
//! short delay.
//!
//! Every fetch is reported to the gateway ([`EventReporter`]) with its cause: the first load,
//! a refresh of expired (or stale) keys, or an unknown `kid`; a refetch the interval refused is
//! reported too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idp_provider_api::{EventReporter, KeyFetchCause, KeyFetchResult, ProviderError};
use moka::Expiry;
use moka::future::Cache;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::fetch::get_json;
use crate::key::{MIN_RSA_BITS, modulus_bits};

/// A key set as a consumer reads it: parsed once, straight from the fetched document (after the
/// refused keys are dropped), into the type its verifier works with ([`crate::KeySet`], or
/// openidconnect's `JsonWebKeySet` in the OIDC provider).
pub trait KeySetDocument: DeserializeOwned + Send + Sync + 'static {}

impl<T: DeserializeOwned + Send + Sync + 'static> KeySetDocument for T {}

/// How soon a fetch is retried after it failed and stale keys were served instead.
const STALE_RETRY: Duration = Duration::from_secs(10);

/// The default of `jwks_max_stale_seconds`: one day.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(86_400);

/// Keys as cached: fresh from the provider, or the last good ones served during an outage.
struct CachedKeys<KeySet> {
    keys: Arc<KeySet>,
    /// When these keys were fetched.
    fetched: Instant,
    fresh: bool,
    /// How long this entry stays in the cache.
    lifetime: Duration,
}

// Written out: a derive would require `KeySet: Clone`, and only the `Arc` is cloned.
impl<KeySet> Clone for CachedKeys<KeySet> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            fetched: self.fetched,
            fresh: self.fresh,
            lifetime: self.lifetime,
        }
    }
}

/// Each entry carries its own lifetime: the TTL for fresh keys; for stale ones, until the next
/// retry or the end of the staleness bound, whichever comes first.
struct KeysExpiry;

impl<KeySet> Expiry<(), CachedKeys<KeySet>> for KeysExpiry {
    fn expire_after_create(
        &self,
        _: &(),
        keys: &CachedKeys<KeySet>,
        _: Instant,
    ) -> Option<Duration> {
        Some(keys.lifetime)
    }
}

/// The last keys fetched successfully, and when.
struct LastGood<KeySet> {
    keys: Arc<KeySet>,
    fetched: Instant,
}

/// The key set without the keys we refuse to verify with: RSA keys under [`MIN_RSA_BITS`], and
/// symmetric (`oct`) keys, since HMAC keys come only from the client secret. Each refused key is
/// logged.
///
/// # Errors
/// `Upstream` when the document is not a JWKS.
fn usable_keys<KeySet: KeySetDocument>(
    mut document: Value,
    jwks_uri: &Url,
) -> Result<KeySet, ProviderError> {
    if let Some(keys) = document.get_mut("keys").and_then(Value::as_array_mut) {
        keys.retain(|key| match refusal(key) {
            None => true,
            Some(why) => {
                let kid = key.get("kid").and_then(Value::as_str).unwrap_or("(none)");
                tracing::warn!(kid, why, "refusing a key from the provider's JWKS");
                false
            }
        });
    }
    serde_json::from_value(document)
        .map_err(|e| ProviderError::Upstream(format!("JWKS at {jwks_uri}: not a key set: {e}")))
}

fn refusal(key: &Value) -> Option<&'static str> {
    use base64::Engine as _;
    match key.get("kty").and_then(Value::as_str) {
        Some("oct") => Some("symmetric keys are never taken from a JWKS"),
        Some("RSA") => {
            let Some(modulus) = key.get("n").and_then(Value::as_str).and_then(|n| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(n)
                    .ok()
            }) else {
                return Some("RSA key without a readable modulus");
            };
            (modulus_bits(&modulus) < MIN_RSA_BITS).then_some("RSA modulus shorter than 2048 bits")
        }
        _ => None,
    }
}

/// The JWKS cache; see the module documentation. `KeySet` is the type its keys are read into.
pub struct JwksCache<KeySet> {
    http: reqwest::Client,
    cache: Cache<(), CachedKeys<KeySet>>,
    ttl: Duration,
    /// Served when a fetch fails, within `max_stale` of its fetch. A std mutex: held for a
    /// clone, never across an await.
    last_good: Mutex<Option<LastGood<KeySet>>>,
    max_stale: Duration,
    /// When an unknown `kid` last forced a refetch. An async mutex, held across that refetch so
    /// that concurrent callers wait for it instead of being turned away while it runs.
    last_forced: tokio::sync::Mutex<Option<Instant>>,
    refetch_interval: Duration,
    fetches: AtomicU64,
    events: EventReporter,
}

impl<KeySet: KeySetDocument> JwksCache<KeySet> {
    /// A cache that fetches with `http`, keeps keys for `ttl`, and lets unknown `kid`s force a
    /// refetch at most once per `refetch_interval`. Stale keys are served for at most
    /// [`DEFAULT_MAX_STALE`]; see [`JwksCache::with_max_stale`].
    pub fn new(http: reqwest::Client, ttl: Duration, refetch_interval: Duration) -> Self {
        Self {
            http,
            cache: Cache::builder()
                .max_capacity(1)
                .expire_after(KeysExpiry)
                .build(),
            ttl,
            last_good: Mutex::new(None),
            max_stale: DEFAULT_MAX_STALE,
            last_forced: tokio::sync::Mutex::new(None),
            refetch_interval,
            fetches: AtomicU64::new(0),
            events: EventReporter::none(),
        }
    }

    /// Reports every fetch (and every refetch the interval refused) to `events`.
    pub fn with_events(mut self, events: EventReporter) -> Self {
        self.events = events;
        self
    }

    /// Serves the last good keys for at most `max_stale` after their fetch while refetches fail
    /// (`jwks_max_stale_seconds`); zero never serves stale keys.
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// The keys to verify with: cached, or loaded once for all concurrent callers.
    ///
    /// # Errors
    /// `Upstream` when the provider cannot be reached and no keys were loaded within the
    /// staleness bound.
    pub async fn current(&self, jwks_uri: &Url) -> Result<Arc<KeySet>, ProviderError> {
        self.keys(jwks_uri, false).await
    }

    /// [`JwksCache::current`]; `forced` when an unknown `kid` forced the load (its metrics
    /// cause).
    async fn keys(&self, jwks_uri: &Url, forced: bool) -> Result<Arc<KeySet>, ProviderError> {
        let cached = self.get(jwks_uri, forced).await?;
        if cached.fresh || cached.fetched.elapsed() < self.max_stale {
            return Ok(cached.keys);
        }
        // A stale entry outlived the bound (its lifetime ends at the bound; this guards the
        // cache's own clock): drop it and try the provider once more.
        self.cache.invalidate(&()).await;
        Ok(self.get(jwks_uri, forced).await?.keys)
    }

    /// The cached entry, loaded when missing.
    async fn get(&self, jwks_uri: &Url, forced: bool) -> Result<CachedKeys<KeySet>, ProviderError> {
        self.cache
            .try_get_with((), self.load(jwks_uri, forced))
            .await
            .map_err(|e: Arc<ProviderError>| ProviderError::Upstream(e.to_string()))
    }

    /// Keys that may hold a key missing from `seen` (the set a verification just used: an
    /// unknown `kid`, or a rotated key without `kid`): a rate-limited refetch, or, when one
    /// happened moments ago (a rotation under load), the set it brought if that is newer than
    /// `seen`. `None`: no newer keys to try.
    ///
    /// # Errors
    /// When the keys cannot be loaded.
    pub async fn newer_than(
        &self,
        jwks_uri: &Url,
        seen: &Arc<KeySet>,
    ) -> Result<Option<Arc<KeySet>>, ProviderError> {
        if let Some(newer) = self.refetch_for_unknown_kid(jwks_uri).await? {
            return Ok(Some(newer));
        }
        let latest = self.current(jwks_uri).await?;
        Ok((!Arc::ptr_eq(&latest, seen)).then_some(latest))
    }

    /// Called when a token names a key the cached set lacks (or, without `kid`, the cached key
    /// does not verify it; metrics count both as `unknown_kid`). Returns newer keys if a
    /// refetch is allowed now, `None` if the last forced refetch is too recent. A caller that gets `None`
    /// should look at [`JwksCache::current`] once more: a concurrent caller's refetch (waited
    /// for here) may have brought the key it needs.
    ///
    /// # Errors
    /// As [`JwksCache::current`].
    pub async fn refetch_for_unknown_kid(
        &self,
        jwks_uri: &Url,
    ) -> Result<Option<Arc<KeySet>>, ProviderError> {
        // Held until the refetch is done: single-flight for forced refetches.
        let mut last = self.last_forced.lock().await;
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.refetch_interval) {
            self.events.key_refetch_suppressed();
            return Ok(None);
        }
        *last = Some(now);
        self.cache.invalidate(&()).await;
        self.keys(jwks_uri, true).await.map(Some)
    }

    /// How many times the JWKS was fetched (for tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    async fn load(
        &self,
        jwks_uri: &Url,
        forced: bool,
    ) -> Result<CachedKeys<KeySet>, ProviderError> {
        let cause = if self.fetches.fetch_add(1, Ordering::Relaxed) == 0 {
            KeyFetchCause::Startup
        } else if forced {
            KeyFetchCause::UnknownKid
        } else {
            KeyFetchCause::Refresh
        };
        let fetched = get_json::<Value>(&self.http, jwks_uri, "JWKS")
            .await
            .and_then(|document| usable_keys::<KeySet>(document, jwks_uri));
        let result = match fetched {
            Ok(_) => KeyFetchResult::Ok,
            Err(_) => KeyFetchResult::Error,
        };
        self.events.key_fetch(cause, result);
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                let fetched = Instant::now();
                *self.last_good.lock().unwrap_or_else(|p| p.into_inner()) = Some(LastGood {
                    keys: keys.clone(),
                    fetched,
                });
                tracing::debug!(%jwks_uri, "loaded signing keys");
                Ok(CachedKeys {
                    keys,
                    fetched,
                    fresh: true,
                    lifetime: self.ttl,
                })
            }
            Err(error) => {
                let stale = self
                    .last_good
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|good| (good.keys.clone(), good.fetched));
                let Some((keys, fetched)) = stale else {
                    return Err(error);
                };
                let age = fetched.elapsed();
                match self
                    .max_stale
                    .checked_sub(age)
                    .filter(|left| !left.is_zero())
                {
                    Some(left) => {
                        tracing::warn!(
                            %error,
                            age_seconds = age.as_secs(),
                            "JWKS fetch failed; serving the last good keys"
                        );
                        Ok(CachedKeys {
                            keys,
                            fetched,
                            fresh: false,
                            lifetime: left.min(STALE_RETRY),
                        })
                    }
                    None => Err(ProviderError::Upstream(format!(
                        "{error}; the last good keys were fetched {}s ago, longer than \
                         jwks_max_stale_seconds ({}s) allows, so they are no longer used",
                        age.as_secs(),
                        self.max_stale.as_secs()
                    ))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modulus_is_measured_to_the_bit() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[1]), 1);
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        let mut n = vec![0xff; 256];
        assert_eq!(modulus_bits(&n), 2048);
        n[0] = 0x01;
        assert_eq!(modulus_bits(&n), 2041);
        let key = |n: &[u8]| {
            serde_json::json!({
                "kty": "RSA",
                "e": "AQAB",
                "n": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n),
            })
        };
        use base64::Engine as _;
        assert_eq!(
            refusal(&key(&n)),
            Some("RSA modulus shorter than 2048 bits"),
            "256 bytes, 2041 bits"
        );
        n[0] = 0x80;
        assert_eq!(refusal(&key(&n)), None);
    }
}
