//! Discovery: the issuer must match exactly, the JWKS URI comes from the document, and a
//! failing discovery backs off instead of being fetched again by every login
//! (rp-conformance.md section 2.5, section 4 #16).

use idp_provider_api::{Provider, ProviderError};
use mock_op::{Behavior, MockOpConfig};
use serde_json::json;

use crate::support::{Harness, op_config, ready_through_trait};

// ---------------------------------------------------------------- discovery

#[tokio::test]
async fn discovery_issuer_mismatch_fails_readiness_and_login() {
    let h = Harness::new().await;
    let published = format!("{}INVALID", h.op.issuer());
    h.behave(Behavior {
        discovery_issuer: Some(published.clone()),
        ..Default::default()
    });
    let err = ready_through_trait(&h.provider)
        .await
        .expect_err("issuer mismatch");
    match &err {
        ProviderError::Misconfigured(detail) => {
            assert!(detail.contains(&published), "{detail}");
            assert!(detail.contains(&format!("{:?}", h.op.issuer())), "{detail}");
        }
        other => panic!("expected Misconfigured, got {other:?}"),
    }
    // No login starts: the authorization URL cannot be built.
    let err = h.login("alice").await.expect_err("no login");
    assert!(matches!(err, ProviderError::Misconfigured(_)), "{err:?}");
    let c = h.op.counters();
    assert_eq!(c.authorize, 0, "{c:?}");
    assert_eq!(c.jwks, 0, "keys never come from a rejected document: {c:?}");
    assert_eq!(c.token, 0);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn a_trailing_slash_difference_is_an_issuer_mismatch() {
    let op_config = MockOpConfig {
        issuer_suffix: "/".into(),
        ..op_config()
    };
    let op = mock_op::MockOp::spawn(op_config).await;
    let issuer = op.issuer();
    assert!(issuer.ends_with('/'));
    // Configured exactly: works.
    let provider = crate::support::open_provider(&op, json!({}));
    provider.ready().await.expect("exact issuer");
    // Configured without the slash: refused.
    let provider =
        crate::support::open_provider(&op, json!({ "issuer": issuer.trim_end_matches('/') }));
    let err = provider.ready().await.expect_err("slash differs");
    assert!(matches!(err, ProviderError::Misconfigured(_)), "{err:?}");
}

#[tokio::test]
async fn an_issuer_with_a_path_works_end_to_end() {
    let op_config = MockOpConfig {
        issuer_suffix: "/realms/corp".into(),
        ..op_config()
    };
    let h = Harness::with(op_config, json!({})).await;
    let id = h.login("alice").await.expect("tenant issuer");
    assert_eq!(id.issuer(), h.op.issuer());
    assert!(id.issuer().ends_with("/realms/corp"));
}

#[tokio::test]
async fn the_jwks_uri_comes_from_discovery() {
    // rp-discovery-jwks_uri-keys: a random jwks_uri suffix; keys must be fetched from it.
    let h = Harness::new().await;
    h.behave(Behavior {
        discovery_patch: crate::support::obj(
            json!({ "jwks_uri": format!("{}/jwks/r4nd0m", h.op.base_url()) }),
        ),
        ..Default::default()
    });
    h.login("alice")
        .await
        .expect("keys from the discovered URI");
    assert_eq!(h.op.counters().jwks, 1);
}

#[tokio::test]
async fn an_unreachable_provider_is_upstream() {
    let op = mock_op::MockOp::spawn(op_config()).await;
    let provider = crate::support::open_provider(&op, json!({ "timeout_ms": 2000 }));
    drop(op);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let err = provider.ready().await.expect_err("nobody listens");
    assert!(matches!(err, ProviderError::Upstream(_)), "{err:?}");
}

// ---------------------------------------------------------------- discovery backoff

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_discovery_backs_off_instead_of_refetching_per_login() {
    // Issue 6, item 3: a provider whose discovery fails is not asked again by every login.
    let h = Harness::new().await;
    h.behave(Behavior {
        discovery_error: Some(503),
        ..Default::default()
    });
    // Sequential logins within the backoff: one request, then fail fast.
    for i in 0..10 {
        let err = h.login("alice").await.expect_err("discovery fails");
        match &err {
            // The failure names its cause, also when replayed during the backoff.
            ProviderError::Upstream(detail) => assert!(detail.contains("HTTP 503"), "{detail}"),
            other => panic!("login {i}: expected Upstream, got {other:?}"),
        }
    }
    assert_eq!(h.op.counters().discovery, 1, "one request for ten logins");
    // Concurrent logins within the backoff: no request at all.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let provider = h.provider.clone();
        tasks.spawn(async move { ready_through_trait(&provider).await });
    }
    while let Some(result) = tasks.join_next().await {
        let err = result.expect("task").expect_err("still backing off");
        assert!(matches!(err, ProviderError::Upstream(_)), "{err:?}");
    }
    assert_eq!(
        h.op.counters().discovery,
        1,
        "no request during the backoff"
    );
    assert_eq!(h.op.counters().authorize, 0);

    // The provider comes back; once the first backoff (1 s) has passed, the next login
    // fetches again and works.
    h.behave(Behavior::default());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    h.login("alice").await.expect("discovery works again");
    assert_eq!(
        h.op.counters().discovery,
        2,
        "one more request after the backoff"
    );
    h.login("alice").await.expect("cached metadata");
    assert_eq!(h.op.counters().discovery, 2, "a success is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_share_one_failing_discovery() {
    let h = Harness::new().await;
    h.behave(Behavior {
        discovery_error: Some(500),
        ..Default::default()
    });
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let provider = h.provider.clone();
        let barrier = barrier.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            ready_through_trait(&provider).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        let err = result.expect("task").expect_err("discovery fails");
        assert!(matches!(err, ProviderError::Upstream(_)), "{err:?}");
    }
    assert_eq!(
        h.op.counters().discovery,
        1,
        "single-flight, and no retry within the backoff"
    );
}
