//! Signing keys: rotation and unknown-kid floods (rp-conformance.md section 2.2, section 4 #5),
//! as mechanics of the provider: exact fetch counts, concurrency, every key type, the refetch
//! interval. The verdict of §4 #5 (a flood of unknown kids through logins costs at most one
//! fetch and genuine tokens still pass) lives in `conformance::jwt_attacks::r05_unknown_kid_flood`.
//! Tokens without `kid` are in `kidless`, the cache on its own in `jwks_cache`.

use std::sync::Arc;
use std::time::Duration;

use mock_op::Behavior;
use openidconnect::CsrfToken;
use serde_json::json;

use crate::support::{EVERY_KEY_TYPE, Harness, alice_claims, op_config, reason, with_kid};

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

/// What `jwt_attacks::r05_unknown_kid_flood` cannot see through logins: the first unknown kid
/// costs exactly one fetch (the provider's own counter agrees), and then 50 sequential and 50
/// concurrent verifications within the interval cost none.
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
