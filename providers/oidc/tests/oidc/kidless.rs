//! A provider that publishes its keys without `kid` and signs without one, then rotates its RSA
//! key: the cached key no longer verifies, and one refetch (on the unknown-`kid` budget) brings
//! the new one.

use mock_op::Behavior;
use openidconnect::Nonce;
use serde_json::json;

use crate::support::{Harness, op_config, reason};

fn kidless() -> Behavior {
    Behavior {
        omit_kid: true,
        jwks_omit_kid: true,
        ..Default::default()
    }
}

/// An RS256 token of alice's without `kid`, signed with the OP's current key (or `behavior`'s
/// forgery), and its nonce.
fn token(h: &Harness, behavior: &Behavior) -> (idp_provider_api::Secret<String>, String) {
    let nonce = Nonce::new_random().secret().clone();
    let raw =
        h.op.sign_id_token(&h.op.id_token_claims("alice", &nonce), behavior);
    (idp_provider_api::Secret::new(nonce), raw)
}

#[tokio::test]
async fn a_rotated_kidless_key_is_refetched_once() {
    let h = Harness::with(op_config(), json!({ "jwks_refetch_interval_seconds": 60 })).await;
    h.behave(kidless());
    h.login("alice").await.expect("the one kid-less RS256 key");
    assert_eq!(h.op.counters().jwks, 1);

    // New RSA material, still without kid: the cached key fails, the refetch finds the new one.
    h.op.rotate_keys();
    let id = h.login("alice").await.expect("verified after one refetch");
    assert_eq!(id.subject(), "alice");
    assert_eq!(h.op.counters().jwks, 2, "exactly one extra fetch");
    h.login("alice").await.expect("from the cache now");
    assert_eq!(h.op.counters().jwks, 2);
    h.assert_no_userinfo();
}

#[tokio::test]
async fn kidless_bad_signatures_spend_the_unknown_kid_budget() {
    let h = Harness::with(op_config(), json!({ "jwks_refetch_interval_seconds": 60 })).await;
    h.behave(kidless());
    h.ready().await;
    assert_eq!(h.op.counters().jwks, 1);
    let forged = Behavior {
        corrupt_signature: true,
        ..kidless()
    };
    // The first may refetch (it could be a rotation); the rest within the interval may not.
    for _ in 0..20 {
        let (nonce, raw) = token(&h, &forged);
        assert_eq!(
            reason(h.provider.verify(&raw, &nonce, None).await),
            "id_token_signature_invalid"
        );
    }
    assert_eq!(h.op.counters().jwks, 2, "one refetch for all of them");
    // Nor may an unknown kid: one budget.
    let (nonce, raw) = token(
        &h,
        &Behavior {
            header_patch: crate::support::obj(json!({ "kid": "unknown" })),
            ..Default::default()
        },
    );
    assert_eq!(
        reason(h.provider.verify(&raw, &nonce, None).await),
        "id_token_unknown_key"
    );
    assert_eq!(h.op.counters().jwks, 2);
    // Genuine kid-less tokens still verify from the cache.
    let (nonce, raw) = token(&h, &kidless());
    h.provider
        .verify(&raw, &nonce, None)
        .await
        .expect("genuine");
    assert_eq!(h.op.counters().jwks, 2);
}
