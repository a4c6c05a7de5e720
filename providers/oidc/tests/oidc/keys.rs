//! Signing keys: rotation, unknown-kid floods, kid-less tokens and the JWKS cache
//! (rp-conformance.md section 2.2, section 4 #5).

use std::sync::Arc;
use std::time::Duration;

use idp_provider_api::{
    EventReporter, KeyFetchCause, KeyFetchResult, ProviderError, ProviderEvents, Secret,
};
use idp_provider_oidc::jwks::JwksCache;
use mock_op::{Behavior, MockOp};
use openidconnect::{CsrfToken, JsonWebKey as _, Nonce};
use serde_json::{Value, json};
use url::Url;

use crate::support::{EVERY_KEY_TYPE, Harness, obj, op_config, reason};

/// A fresh nonce and alice's standard claims for it, ready for `sign_id_token`.
fn alice_claims(op: &MockOp) -> (Secret<String>, Value) {
    let nonce = Nonce::new_random().secret().clone();
    let claims = op.id_token_claims("alice", &nonce);
    (Secret::new(nonce), claims)
}

fn with_kid(kid: &str) -> Behavior {
    Behavior {
        header_patch: obj(json!({ "kid": kid })),
        ..Default::default()
    }
}

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

// ---------------------------------------------------------------- rotation

#[tokio::test]
async fn key_rotation_after_the_first_login() {
    // oidcc-client-test-signing-key-rotation.
    let h = Harness::new().await;
    h.ready().await;
    h.login("alice").await.expect("first login");
    assert_eq!(h.op.counters().jwks, 1);

    h.op.rotate_keys();
    h.login("alice").await.expect("second login, new kid");
    assert_eq!(h.op.counters().jwks, 2, "exactly one extra JWKS fetch");
    assert_eq!(h.provider.jwks_fetch_count(), 2);

    // The new keys are cached: no further fetch.
    h.login("bob").await.expect("third login");
    assert_eq!(h.op.counters().jwks, 2);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn key_rotation_just_before_the_first_signing() {
    // oidcc-client-test-signing-key-rotation-just-before-signing: the keys loaded at startup are
    // already stale when the first ID token is signed; the refetch guard must not block it.
    let h = Harness::new().await;
    h.ready().await;
    assert_eq!(h.op.counters().jwks, 1);
    h.op.rotate_keys();
    h.login("alice").await.expect("first login after rotation");
    assert_eq!(h.op.counters().jwks, 2);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn key_rotation_for_every_key_type() {
    for alg in EVERY_KEY_TYPE {
        let h = Harness::for_alg(alg).await;
        h.behave(Behavior {
            alg: Some(alg),
            ..Default::default()
        });
        h.login("alice").await.expect("before rotation");
        h.op.rotate_keys();
        h.login("alice").await.expect("after rotation");
        assert_eq!(h.op.counters().jwks, 2, "{alg:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_after_a_rotation_share_one_refetch() {
    // A genuine rotation under load: many tokens with the new kid arrive at once. One refetch
    // serves them all, and none is refused because another request did the refetch.
    let h = Harness::new().await;
    h.ready().await;
    h.op.rotate_keys();
    const LOGINS: usize = 16;
    // Signed beforehand and released together, so the verifications really overlap.
    let barrier = Arc::new(tokio::sync::Barrier::new(LOGINS));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..LOGINS {
        let (nonce, claims) = alice_claims(&h.op);
        let raw = h.op.sign_id_token(&claims, &Behavior::default());
        let provider = h.provider.clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            provider.verify(&raw, &nonce, None).await.map(|_| ())
        });
    }
    let mut refused = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result.expect("task") {
            refused.push(e);
        }
    }
    assert!(refused.is_empty(), "refused after a rotation: {refused:?}");
    assert_eq!(h.op.counters().jwks, 2, "one refetch for all");
}

// ---------------------------------------------------------------- unknown kid flood

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_flood_costs_one_fetch_per_interval() {
    let h = Harness::with(op_config(), json!({ "jwks_refetch_interval_seconds": 60 })).await;
    h.ready().await;
    assert_eq!(h.op.counters().jwks, 1);

    // The first unknown kid may refetch once.
    let (nonce, claims) = alice_claims(&h.op);
    let raw = h.op.sign_id_token(&claims, &with_kid("random-0"));
    assert_eq!(
        reason(h.provider.verify(&raw, &nonce, None).await),
        "id_token_unknown_key"
    );
    assert_eq!(h.op.counters().jwks, 2);

    // Then a flood, sequential and concurrent, within the interval: no fetch at all.
    for i in 1..=50 {
        let (nonce, claims) = alice_claims(&h.op);
        let kid = format!("random-{i}-{}", CsrfToken::new_random().secret());
        let raw = h.op.sign_id_token(&claims, &with_kid(&kid));
        assert_eq!(
            reason(h.provider.verify(&raw, &nonce, None).await),
            "id_token_unknown_key"
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (nonce, claims) = alice_claims(&h.op);
        let raw =
            h.op.sign_id_token(&claims, &with_kid(CsrfToken::new_random().secret()));
        let provider = h.provider.clone();
        tasks.spawn(async move { reason(provider.verify(&raw, &nonce, None).await) });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task"), "id_token_unknown_key");
    }
    assert_eq!(h.op.counters().jwks, 2, "no fetch during the flood");
    assert_eq!(h.provider.jwks_fetch_count(), 2);

    // Genuine tokens still pass meanwhile, from the cache.
    let (nonce, claims) = alice_claims(&h.op);
    let raw = h.op.sign_id_token(&claims, &Behavior::default());
    h.provider
        .verify(&raw, &nonce, None)
        .await
        .expect("known kid");
    assert_eq!(h.op.counters().jwks, 2);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn the_refetch_interval_runs_from_the_last_forced_refetch() {
    let h = Harness::with(op_config(), json!({ "jwks_refetch_interval_seconds": 1 })).await;
    h.ready().await;
    let (nonce, claims) = alice_claims(&h.op);
    let raw = h.op.sign_id_token(&claims, &with_kid("nope"));
    let _ = h.provider.verify(&raw, &nonce, None).await;
    let _ = h.provider.verify(&raw, &nonce, None).await;
    assert_eq!(h.op.counters().jwks, 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _ = h.provider.verify(&raw, &nonce, None).await;
    assert_eq!(h.op.counters().jwks, 3, "a new interval allows one more");
}

// ---------------------------------------------------------------- kid absent

#[tokio::test]
async fn kid_absent_with_one_matching_key() {
    // oidcc-client-test-kid-absent-single-jwks: one key per type, none with a kid.
    let h = Harness::new().await;
    h.behave(Behavior {
        omit_kid: true,
        jwks_omit_kid: true,
        ..Default::default()
    });
    let id = h.login("alice").await.expect("the single RS256 key");
    assert_eq!(id.subject(), "alice");

    // Kid-less token against a JWKS that does have kids: still exactly one RS256 key.
    let h = Harness::new().await;
    h.behave(Behavior {
        omit_kid: true,
        ..Default::default()
    });
    h.login("alice").await.expect("one RS256 key, kid ignored");
    h.assert_no_userinfo();
}

#[tokio::test]
async fn kid_absent_with_several_matching_keys() {
    // oidcc-client-test-kid-absent-multiple-jwks: we reject as ambiguous.
    let op = MockOp::spawn(op_config()).await;
    // An RS256 key of generation 1, then rotate so the OP signs with the other RSA key.
    let old_rsa = op.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "RS256")
        .cloned()
        .unwrap();
    op.rotate_keys();
    let mut extra = old_rsa.clone();
    extra.as_object_mut().unwrap().remove("kid");
    op.set_behavior(Behavior {
        omit_kid: true,
        jwks_omit_kid: true,
        jwks_extra_keys: vec![extra],
        ..Default::default()
    });
    let provider = crate::support::open_provider(&op, json!({}));
    let h = Harness { op, provider };
    assert_eq!(h.rejection("alice").await, "id_token_key_ambiguous");
}

#[tokio::test]
async fn kid_absent_with_no_matching_key() {
    let h = Harness::new().await;
    h.behave(Behavior {
        omit_kid: true,
        jwks_override: Some(json!({ "keys": [] })),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_unknown_key");
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

// ---------------------------------------------------------------- kid absent, keys without alg

/// The P-384 and X25519 public keys below were made once with `openssl genpkey`; they only
/// need to parse, nothing is signed with them.
const P384_X: &str = "cU_ZkZWkOh9uGauP7803Zxy2kgUWSkNMbi7GrjJrY-VIDrp64FpE0Rx5mBqEjqu1";
const P384_Y: &str = "6nOqkc61bjBf9P4Vm7j6cZKhyoOpCnQnpsUQ8Cgm7-qXQT5FayhttpNcURgkMJzE";
const X25519_X: &str = "bpzg9linfMwwdT1SArJalNkSbHC4VcXmNw6__2gZEG4";

/// The OP's own RSA, P-256 and Ed25519 keys, each once, without `kid`, `alg` or `use`, plus a
/// P-384 key and an X25519 key: one key per token key type (RSA for RS*/PS*, EC P-256 for
/// ES256, OKP Ed25519 for EdDSA), with other keys of the same `kty` beside them.
fn one_key_per_type_without_alg(op: &MockOp) -> Value {
    let mut keys: Vec<Value> = op.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] != "PS256")
        .cloned()
        .collect();
    for key in &mut keys {
        let key = key.as_object_mut().unwrap();
        key.remove("kid");
        key.remove("alg");
        key.remove("use");
    }
    keys.push(json!({ "kty": "EC", "crv": "P-384", "x": P384_X, "y": P384_Y }));
    keys.push(json!({ "kty": "OKP", "crv": "X25519", "x": X25519_X }));
    assert_eq!(keys.len(), 5);
    json!({ "keys": keys })
}

#[tokio::test]
async fn kid_absent_picks_the_one_key_of_the_token_key_type() {
    for alg in EVERY_KEY_TYPE {
        let h = Harness::for_alg(alg).await;
        h.behave(Behavior {
            alg: Some(alg),
            omit_kid: true,
            jwks_override: Some(one_key_per_type_without_alg(&h.op)),
            ..Default::default()
        });
        let id = h
            .login("alice")
            .await
            .unwrap_or_else(|e| panic!("{alg:?} without kid: {e}"));
        assert_eq!(id.subject(), "alice");
        h.assert_no_userinfo();
    }
}

#[tokio::test]
async fn kid_absent_ignores_keys_not_for_signatures_or_for_another_alg() {
    // Two RSA keys, but one is for encryption and one is for RS512: the RS256 token has one
    // candidate.
    let h = Harness::new().await;
    let mut keys = one_key_per_type_without_alg(&h.op)["keys"]
        .as_array()
        .unwrap()
        .clone();
    let rsa = keys.iter().find(|k| k["kty"] == "RSA").cloned().unwrap();
    let mut enc = rsa.clone();
    enc["use"] = json!("enc");
    let mut rs512 = rsa.clone();
    rs512["alg"] = json!("RS512");
    keys.extend([enc, rs512]);
    h.behave(Behavior {
        omit_kid: true,
        jwks_override: Some(json!({ "keys": keys })),
        ..Default::default()
    });
    h.login("alice").await.expect("one RS256 candidate");
}

#[tokio::test]
async fn kid_absent_with_two_rsa_keys_without_alg_is_ambiguous() {
    let h = Harness::new().await;
    let mut keys = one_key_per_type_without_alg(&h.op)["keys"]
        .as_array()
        .unwrap()
        .clone();
    let mut other = keys.iter().find(|k| k["kty"] == "RSA").cloned().unwrap();
    // The other fixed RSA key (generation 2 signs with it).
    h.op.rotate_keys();
    other["n"] = h.op.jwks()["keys"][0]["n"].clone();
    h.op.rotate_keys();
    keys.push(other);
    h.behave(Behavior {
        omit_kid: true,
        jwks_override: Some(json!({ "keys": keys })),
        ..Default::default()
    });
    assert_eq!(h.rejection("alice").await, "id_token_key_ambiguous");
}
