//! The JWKS cache: one fetch for concurrent callers, the last good keys through an outage,
//! single-flight forced refetches, a reported event per fetch and the bound on stale keys.

use std::sync::Arc;
use std::time::Duration;

use idp_provider_api::{
    EventReporter, KeyFetchCause, KeyFetchResult, ProviderError, ProviderEvents,
};
use idp_provider_oidc::jwks::JwksCache;
use mock_op::{Behavior, MockOp};
use openidconnect::JsonWebKey as _;
use serde_json::json;
use url::Url;

use crate::support::{Harness, alice_claims, op_config, reason, with_kid};

fn jwks_uri(op: &MockOp) -> Url {
    Url::parse(&format!("{}/jwks", op.base_url())).unwrap()
}

/// A client that never reuses a connection, so a dropped mock OP is really gone (its
/// connection tasks outlive the listener).
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- the cache itself

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_cache_fetches_once_for_concurrent_callers() {
    let op = MockOp::spawn(op_config()).await;
    let cache = Arc::new(JwksCache::new(
        fresh_connections(),
        Duration::from_secs(3600),
        Duration::from_secs(60),
    ));
    let uri = jwks_uri(&op);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let cache = cache.clone();
        let uri = uri.clone();
        tasks.spawn(async move { cache.current(&uri).await.map(|k| k.keys().len()) });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.expect("task").expect("keys"), 4);
    }
    assert_eq!(cache.fetch_count(), 1);
    assert_eq!(op.counters().jwks, 1);
}

#[tokio::test]
async fn the_last_good_keys_survive_an_outage() {
    let op = MockOp::spawn(op_config()).await;
    let uri = jwks_uri(&op);
    let cache = JwksCache::new(
        fresh_connections(),
        Duration::from_millis(300),
        Duration::from_secs(1),
    );
    let good = cache.current(&uri).await.expect("first load");
    assert_eq!(cache.fetch_count(), 1);

    drop(op);
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The TTL ran out and the provider is gone: the last good keys are served.
    let stale = cache.current(&uri).await.expect("stale keys");
    assert_eq!(cache.fetch_count(), 2, "a reload was attempted");
    assert!(Arc::ptr_eq(&good, &stale));

    // An unknown kid's forced refetch fails too, and also falls back to them.
    let forced = cache
        .refetch_for_unknown_kid(&uri)
        .await
        .expect("no error")
        .expect("refetch allowed");
    assert_eq!(cache.fetch_count(), 3);
    assert!(Arc::ptr_eq(&good, &forced));

    // The stale entry is cached for a while: no fetch storm while the provider is down.
    for _ in 0..10 {
        cache.current(&uri).await.expect("stale keys");
    }
    assert_eq!(cache.fetch_count(), 3);
}

#[tokio::test]
async fn a_provider_down_from_the_start_is_an_upstream_error() {
    let op = MockOp::spawn(op_config()).await;
    let uri = jwks_uri(&op);
    drop(op);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cache = JwksCache::new(
        fresh_connections(),
        Duration::from_secs(60),
        Duration::from_secs(1),
    );
    let err = cache.current(&uri).await.expect_err("nothing to serve");
    assert!(matches!(err, ProviderError::Upstream(_)), "{err:?}");
    // A failure is not cached: the next call tries again.
    let _ = cache.current(&uri).await;
    assert_eq!(cache.fetch_count(), 2);
}

/// Breaks the JWKS endpoint and sends a token with an unknown `kid`: the forced refetch fails
/// (the second JWKS request), and the provider serves its last good keys from then on.
async fn break_jwks_and_fail_a_refetch(h: &Harness) {
    h.behave(Behavior {
        jwks_override: Some(json!("garbage")),
        ..Default::default()
    });
    let (nonce, claims) = alice_claims(&h.op);
    let raw = h.op.sign_id_token(&claims, &with_kid("unknown"));
    assert_eq!(
        reason(h.provider.verify(&raw, &nonce, None).await),
        "id_token_unknown_key"
    );
    assert_eq!(h.op.counters().jwks, 2);
}

#[tokio::test]
async fn logins_keep_working_while_the_jwks_endpoint_fails() {
    // The provider-level view of stale keys: the JWKS endpoint breaks after the first load.
    let h = Harness::new().await;
    h.ready().await;
    // A forced refetch (unknown kid) fails, but the old keys remain.
    break_jwks_and_fail_a_refetch(&h).await;
    h.login("alice").await.expect("stale keys still verify");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_forced_refetches_are_single_flight() {
    let op = MockOp::spawn(op_config()).await;
    let uri = jwks_uri(&op);
    let cache = Arc::new(JwksCache::new(
        fresh_connections(),
        Duration::from_secs(3600),
        Duration::from_secs(60),
    ));
    let old = cache.current(&uri).await.expect("first load");
    op.rotate_keys();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let cache = cache.clone();
        let uri = uri.clone();
        tasks.spawn(async move { cache.refetch_for_unknown_kid(&uri).await.expect("no error") });
    }
    let mut refetched = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Some(keys) = result.expect("task") {
            refetched.push(keys);
        }
    }
    assert_eq!(refetched.len(), 1, "one caller refetches, the others wait");
    assert_eq!(cache.fetch_count(), 2);
    assert_eq!(op.counters().jwks, 2);
    // Those that waited find the refetched keys in the cache.
    let now = cache.current(&uri).await.expect("cached");
    assert!(Arc::ptr_eq(&now, &refetched[0]));
    assert!(!Arc::ptr_eq(&now, &old));
    assert_eq!(now.keys()[0].key_id().map(|k| k.as_str()), Some("rsa-2"));
}

/// Records provider events as `provider cause result` lines.
#[derive(Debug, Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl ProviderEvents for Recorder {
    fn key_fetch(&self, provider: &str, cause: KeyFetchCause, result: KeyFetchResult) {
        let line = format!("{provider} {} {}", cause.as_str(), result.as_str());
        self.0.lock().unwrap().push(line);
    }

    fn key_refetch_suppressed(&self, provider: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{provider} suppressed"));
    }
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::test]
async fn every_fetch_is_reported_with_its_cause_and_result() {
    let op = MockOp::spawn(op_config()).await;
    let uri = jwks_uri(&op);
    let recorder = Arc::new(Recorder::default());
    let cache = JwksCache::new(
        fresh_connections(),
        Duration::from_millis(300),
        Duration::from_secs(60),
    )
    .with_events(EventReporter::new("corp", recorder.clone()));

    cache.current(&uri).await.expect("first load");
    cache.current(&uri).await.expect("cached");
    assert_eq!(
        recorder.take(),
        ["corp startup ok"],
        "a cache hit is no fetch"
    );

    cache
        .refetch_for_unknown_kid(&uri)
        .await
        .expect("no error")
        .expect("refetch allowed");
    assert_eq!(recorder.take(), ["corp unknown_kid ok"]);
    let refused = cache.refetch_for_unknown_kid(&uri).await.expect("no error");
    assert!(refused.is_none());
    assert_eq!(
        recorder.take(),
        ["corp suppressed"],
        "no fetch within the interval"
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    cache.current(&uri).await.expect("reloaded");
    assert_eq!(recorder.take(), ["corp refresh ok"]);

    drop(op);
    tokio::time::sleep(Duration::from_millis(400)).await;
    cache.current(&uri).await.expect("stale keys");
    assert_eq!(recorder.take(), ["corp refresh error"]);
}

// ---------------------------------------------------------------- bounded staleness

#[tokio::test]
async fn stale_keys_are_served_only_until_jwks_max_stale_seconds() {
    // Issue 6, item 5: while the JWKS cannot be fetched, the last good keys verify logins, but
    // only for `jwks_max_stale_seconds` after the last successful fetch.
    let h = Harness::with(
        op_config(),
        json!({ "jwks_max_stale_seconds": 1, "jwks_refetch_interval_seconds": 1 }),
    )
    .await;
    h.ready().await;
    let fetched = std::time::Instant::now();
    assert_eq!(h.op.counters().jwks, 1);
    // An unknown kid forces a refetch, which fails: the last good keys are served from now on.
    break_jwks_and_fail_a_refetch(&h).await;
    // Within the bound: stale keys still verify.
    h.login("alice").await.expect("within the bound");
    assert!(
        fetched.elapsed() < Duration::from_secs(1),
        "the test ran too slowly"
    );

    // Past the bound: the keys are no longer used, the login fails as the provider being
    // unavailable, and no identity comes out.
    tokio::time::sleep(
        Duration::from_secs(1).saturating_sub(fetched.elapsed()) + Duration::from_millis(100),
    )
    .await;
    let err = h.login("alice").await.expect_err("past the bound");
    match &err {
        ProviderError::Upstream(detail) => {
            assert!(detail.contains("jwks_max_stale_seconds"), "{detail}")
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert!(
        h.op.counters().jwks >= 3,
        "a fetch was tried past the bound"
    );

    // The JWKS endpoint recovers: the next login fetches fresh keys and works.
    h.behave(Behavior::default());
    h.login("alice").await.expect("fresh keys");
    h.assert_no_userinfo();
}

#[tokio::test]
async fn the_stale_bound_holds_in_the_cache_itself() {
    let op = MockOp::spawn(op_config()).await;
    let uri = jwks_uri(&op);
    let cache = JwksCache::new(
        fresh_connections(),
        Duration::from_millis(200),
        Duration::from_secs(1),
    )
    .with_max_stale(Duration::from_millis(700));
    let good = cache.current(&uri).await.expect("first load");
    drop(op);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stale = cache
        .current(&uri)
        .await
        .expect("stale keys within the bound");
    assert!(Arc::ptr_eq(&good, &stale));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let err = cache.current(&uri).await.expect_err("past the bound");
    assert!(matches!(err, ProviderError::Upstream(_)), "{err:?}");
}
