//! Native-app ID-token exchange (`allow_id_token_exchange`): tokens signed by mock-op, handed
//! to the provider's assertion flow as the gateway's `exchange` route does.

use std::time::SystemTime;

use idp_provider_api::testing::{MemoryReplay, NoDirectory};
use idp_provider_api::{AssertionInput, Identity, Provider, ProviderError};
use mock_op::{Behavior, SigningAlg};
use serde_json::{Value, json};

use crate::support::{Harness, now, op_config, reason};

async fn exchange(
    harness: &Harness,
    body: &Value,
    replay: &MemoryReplay,
) -> Result<Identity, ProviderError> {
    let provider: &dyn Provider = harness.provider.as_ref();
    let flow = provider
        .assertion()
        .expect("the opt-in gives an assertion flow");
    flow.exchange(AssertionInput {
        body: body.to_string().as_bytes(),
        headers: &http::HeaderMap::new(),
        client_ip: None,
        replay,
        directory: &NoDirectory,
    })
    .await
}

async fn opted_in() -> Harness {
    Harness::with(op_config(), json!({"allow_id_token_exchange": true})).await
}

/// An ID token from the harness's OP for `sub` with `nonce`, claims patched.
fn token(harness: &Harness, nonce: &str, patch: Value) -> String {
    let mut claims = harness.op.id_token_claims("alice", nonce);
    for (key, value) in patch.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(&key);
        } else {
            claims[key] = value;
        }
    }
    harness.op.sign_id_token(&claims, &Behavior::default())
}

#[tokio::test]
async fn a_fresh_token_is_exchanged_once_and_remembered_until_its_exp() {
    let harness = opted_in().await;
    let replay = MemoryReplay::default();
    let raw = token(&harness, "nonce-1", json!({}));
    let body = json!({"id_token": raw, "nonce": "nonce-1"});
    let identity = exchange(&harness, &body, &replay).await.expect("accepted");
    assert_eq!(identity.subject(), "alice");
    assert_eq!(identity.issuer(), harness.op.issuer());
    assert_eq!(identity.verified_email(), Some("alice@example.test"));
    assert_eq!(
        reason(exchange(&harness, &body, &replay).await),
        "id_token_replayed"
    );
    // mock-op's tokens live 300 s; the key is kept until then plus the 30 s leeway.
    let until = replay.untils()[0]
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    assert!(
        (until - (now() + 330)).abs() <= 3,
        "kept until exp + leeway: {until}"
    );
}

/// One token and every other spelling of its signature (the spare bits of its last base64url
/// character: 16 spellings of an RS256 or ES256 signature; for ES256 also `n - s`, 32 in all):
/// one exchange in all. The refusals are named in the gateway's test of the same attack
/// (`id_token_exchange::every_spelling_of_a_used_id_token_is_refused_and_mints_nothing`).
#[tokio::test]
async fn a_token_is_exchanged_once_however_its_signature_is_spelled() {
    let mut outcomes = Vec::new();
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let harness = Harness::with(
            op_config(),
            json!({"allow_id_token_exchange": true, "allowed_algs": [alg.as_str()]}),
        )
        .await;
        let replay = MemoryReplay::default();
        let claims = harness.op.id_token_claims("alice", "n-spelled");
        let behavior = Behavior {
            alg: Some(alg),
            ..Default::default()
        };
        let raw = harness.op.sign_id_token(&claims, &behavior);
        let mut every = vec![raw.clone()];
        every.extend(mock_op::spellings::respellings(&raw));
        let mut accepted = 0;
        for spelling in &every {
            let body = json!({"id_token": spelling, "nonce": "n-spelled"});
            accepted += usize::from(exchange(&harness, &body, &replay).await.is_ok());
        }
        outcomes.push((alg, every.len(), accepted));
    }
    assert_eq!(
        outcomes,
        [(SigningAlg::RS256, 16, 1), (SigningAlg::ES256, 32, 1)],
        "(alg, spellings, exchanges)"
    );
}

#[tokio::test]
async fn the_nonce_must_match_and_a_token_without_one_is_refused() {
    let harness = opted_in().await;
    let replay = MemoryReplay::default();
    let raw = token(&harness, "nonce-2", json!({}));
    let wrong = json!({"id_token": raw, "nonce": "nonce-X"});
    assert_eq!(
        reason(exchange(&harness, &wrong, &replay).await),
        "id_token_nonce_mismatch"
    );
    // A refused attempt does not use up the token's single use.
    let right = json!({"id_token": raw, "nonce": "nonce-2"});
    assert!(exchange(&harness, &right, &replay).await.is_ok());
    let bare = token(&harness, "unused", json!({"nonce": null}));
    let body = json!({"id_token": bare, "nonce": "anything"});
    assert_eq!(
        reason(exchange(&harness, &body, &replay).await),
        "id_token_nonce_mismatch"
    );
}

#[tokio::test]
async fn a_token_older_than_id_token_max_age_seconds_is_refused() {
    let harness = opted_in().await;
    let replay = MemoryReplay::default();
    // Older than the exchange allows (300 s), younger than a redirect login allows (600 s).
    let raw = token(
        &harness,
        "n",
        json!({"iat": now() - 400, "auth_time": now() - 400}),
    );
    let body = json!({"id_token": raw, "nonce": "n"});
    assert_eq!(
        reason(exchange(&harness, &body, &replay).await),
        "id_token_too_old"
    );
}

#[tokio::test]
async fn tokens_for_another_issuer_or_client_are_refused() {
    let harness = opted_in().await;
    let replay = MemoryReplay::default();
    for (patch, expected) in [
        (
            json!({"iss": "https://other-idp.example.com"}),
            "id_token_issuer_mismatch",
        ),
        (
            json!({"aud": "another-client"}),
            "id_token_audience_mismatch",
        ),
    ] {
        let body = json!({"id_token": token(&harness, "n", patch), "nonce": "n"});
        assert_eq!(reason(exchange(&harness, &body, &replay).await), expected);
    }
    // A token signed with a key this OP never published (another OP's, rotated away from
    // mock-op's fixed first key), naming this OP as its issuer.
    let other = opted_in().await;
    other.op.rotate_keys();
    let foreign = token(&other, "n", json!({"iss": harness.op.issuer()}));
    let body = json!({"id_token": foreign, "nonce": "n"});
    assert_eq!(
        reason(exchange(&harness, &body, &replay).await),
        "id_token_unknown_key"
    );
}

#[tokio::test]
async fn without_the_opt_in_there_is_no_assertion_flow() {
    let harness = Harness::new().await;
    let provider: &dyn Provider = harness.provider.as_ref();
    assert!(provider.assertion().is_none());
}

#[test]
fn id_token_max_age_seconds_is_bounded() {
    let op_issuer = "https://login.example.com/";
    let refused = idp_provider_oidc::open_oidc(
        idp_provider_api::ProviderInfo {
            id: "corp".into(),
            kind: "oidc",
            display_name: "Corp".into(),
        },
        json!({"issuer": op_issuer, "client_id": "gw", "client_secret": "s3cret",
            "allow_id_token_exchange": true, "id_token_max_age_seconds": 5}),
    );
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        "providers.corp.id_token_max_age_seconds: 5 is outside 10..=3600"
    );
}
