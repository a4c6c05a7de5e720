//! Native-app ID-token exchange on an `oidc` provider (`allow_id_token_exchange = true`)
//! through the real gateway: an ID token from mock-op, as a native app would have received it,
//! exchanged at `POST /v1/auth/corp/exchange`, makes one Appwrite session for the same user a
//! redirect login of that person gets, however its signature is spelled. The refusals, with
//! their log checks, are in `assertion_logs.rs`.

use std::collections::BTreeMap;

use appwrite_emulator::{Emulator, EmulatorConfig};
use idp_bridge::registry::Registry;
use mock_op::{Behavior, MockOp, SigningAlg};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Bare, BareGateway, Options, TestApp, exchange, mock_config};
use crate::idp::{CLIENT_ID, CLIENT_SECRET};
use crate::signed_assertion::logs_in_once;

/// mock-op's ID token for `sub` with `nonce`, as the OP issues it now.
pub fn id_token(app: &TestApp, sub: &str, nonce: &str) -> String {
    let mock = app.mock();
    mock.sign_id_token(
        &mock.id_token_claims(sub, nonce),
        &mock_op::Behavior::default(),
    )
}

#[tokio::test]
async fn a_native_apps_id_token_logs_the_same_user_in_once() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "allow_id_token_exchange = true".into(),
        ..Options::mock()
    })
    .await;
    let token = id_token(&app, "alice", "native-nonce-1");
    let body = json!({"id_token": token, "nonce": "native-nonce-1"}).to_string();
    logs_in_once(&app, "corp", body.as_bytes(), &[]).await;
    let user = app.user_id("alice");
    assert!(
        app.emulator.user(user.as_str()).is_some(),
        "the user a redirect login of alice maps to"
    );
    // The same token again: refused, nothing minted.
    let (status, answer) = exchange(&app.gateway, "corp", body.as_bytes(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["type"], "id_token_replayed");
    assert_eq!(app.emulator.tokens().len(), 1);
}

/// As an attacker who saw one ES256 and one RS256 token would try: every other spelling of its
/// signature (the spare bits of the last base64url character, 16 spellings; for ES256 also
/// `n - s`, 32 in all), sent after the genuine exchange. One token minted per token; the
/// spare-bit spellings are refused as malformed, the `n - s` spelling (a valid signature) as
/// replayed.
#[tokio::test]
async fn every_spelling_of_a_used_id_token_is_refused_and_mints_nothing() {
    let app = TestApp::spawn_with(Options {
        provider_extra: "allow_id_token_exchange = true\nallowed_algs = [\"RS256\", \"ES256\"]"
            .into(),
        ..Options::mock()
    })
    .await;
    let mut minted = 0;
    let (mut outcomes, mut expected) = (Vec::new(), Vec::new());
    for (alg, spellings, refusals) in [
        (SigningAlg::RS256, 16, vec![("id_token_malformed", 15)]),
        (
            SigningAlg::ES256,
            32,
            vec![("id_token_malformed", 30), ("id_token_replayed", 1)],
        ),
    ] {
        let nonce = format!("native-nonce-{alg:?}");
        let mock = app.mock();
        let token = mock.sign_id_token(
            &mock.id_token_claims("alice", &nonce),
            &Behavior {
                alg: Some(alg),
                ..Default::default()
            },
        );
        let body = json!({"id_token": token, "nonce": nonce}).to_string();
        logs_in_once(&app, "corp", body.as_bytes(), &[]).await;
        minted += 1;
        let others = mock_op::spellings::respellings(&token);
        assert_eq!(others.len() + 1, spellings, "{alg:?}");
        let mut refused = BTreeMap::new();
        for other in &others {
            let body = json!({"id_token": other, "nonce": nonce}).to_string();
            let (status, answer) = exchange(&app.gateway, "corp", body.as_bytes(), &[]).await;
            let kind = match answer["type"].as_str() {
                Some(kind) if status == StatusCode::UNAUTHORIZED => kind.to_string(),
                _ => format!(
                    "{status}: {}",
                    answer.get("secret").map_or("", |_| "minted")
                ),
            };
            *refused.entry(kind).or_insert(0) += 1;
        }
        let want: BTreeMap<String, usize> = refusals
            .into_iter()
            .map(|(kind, n)| (kind.to_string(), n))
            .collect();
        outcomes.push((alg, refused, app.emulator.tokens().len()));
        expected.push((alg, want, minted));
    }
    assert_eq!(outcomes, expected, "refusals and tokens minted so far");
    assert_eq!(app.emulator.users_count(), 1, "alice, created once");
}

/// Two providers on one issuer with one client id (one IdP application serving two buttons,
/// say): an ID token is one token wherever it is presented. Exchanged at one, it is used up at
/// the other too, and one stolen token logs nobody in twice.
#[tokio::test]
async fn a_token_used_at_one_provider_is_used_at_another_on_the_same_issuer() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let op = MockOp::spawn(mock_config()).await;
    let table = |id: &str| {
        format!(
            "[providers.{id}]\ntype = \"oidc\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret = \"{CLIENT_SECRET}\"\nallow_id_token_exchange = true\n",
            op.issuer()
        )
    };
    let gateway = BareGateway::spawn(
        &emulator,
        Bare {
            server_extra: "",
            rate_limit_per_minute: 0,
            providers: &format!("{}\n{}", table("corp"), table("corp2")),
            registry: Registry::default(),
        },
    )
    .await;
    let token = op.sign_id_token(
        &op.id_token_claims("alice", "native-nonce-2"),
        &Behavior::default(),
    );
    let body = json!({"id_token": token, "nonce": "native-nonce-2"}).to_string();
    let (status, answer) = exchange(&gateway.url, "corp", body.as_bytes(), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = exchange(&gateway.url, "corp2", body.as_bytes(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer["type"], "id_token_replayed", "{answer}");
    assert_eq!(
        emulator.tokens().len(),
        1,
        "one token minted for one ID token"
    );
}
