//! ID-token validation with cached keys: the per-login CPU cost of `verify_id_token` (header and
//! claims parsing, key choice, signature, every claim check) for RS256, ES256 and EdDSA, and of
//! `email_verified_is_true`, the second read of the claims that every login makes.
//!
//! mock-op is spawned once, only to sign the tokens and publish its JWKS; the measured loop
//! makes no network call and reuses one parsed key set, as the provider does between JWKS
//! fetches.
//!
//! Run: `cargo bench -p idp-provider-oidc --bench id_token`

// A benchmark: a failed unwrap or expect ends the run, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use idp_provider_api::Secret;
use idp_provider_oidc::jwk::KeySet;
use idp_provider_oidc::verify::{Expectations, email_verified_is_true, verify_id_token};
use mock_op::{Behavior, MockOp, MockOpConfig, SigningAlg};
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{ClientId, IssuerUrl};

/// One signed token per algorithm, the JWKS to check them with, and the expectations.
struct Fixture {
    tokens: Vec<(&'static str, String)>,
    keys: KeySet,
    expectations: Expectations,
    nonce: Secret<String>,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let op = MockOp::spawn(MockOpConfig::default()).await;
        let nonce = "bench-nonce-0123456789";
        let claims = op.id_token_claims("alice", nonce);
        let tokens = [
            ("RS256", SigningAlg::RS256),
            ("ES256", SigningAlg::ES256),
            ("EdDSA", SigningAlg::EdDSA),
        ]
        .into_iter()
        .map(|(name, alg)| {
            let behavior = Behavior {
                alg: Some(alg),
                ..Default::default()
            };
            (name, op.sign_id_token(&claims, &behavior))
        })
        .collect();
        let keys: KeySet = serde_json::from_value(op.jwks()).expect("mock-op's JWKS parses");
        let expectations = Expectations {
            issuer: IssuerUrl::new(op.issuer()).expect("issuer URL"),
            client_id: ClientId::new(op.config().client_id.clone()),
            client_secret: Secret::new(op.config().client_secret.clone()),
            allowed_algs: vec![
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::EdDsa,
            ],
            trusted_audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            max_age: Duration::from_secs(600),
            accepted_issuers: None,
        };
        Fixture {
            tokens,
            keys,
            expectations,
            nonce: Secret::new(nonce.to_string()),
        }
    })
}

fn id_token_validation(c: &mut Criterion) {
    let f = fixture();
    // Fixed: the tokens stay valid however long the run takes.
    let now = Utc::now();
    let mut group = c.benchmark_group("verify_id_token");
    for (alg, raw) in &f.tokens {
        // A benchmark of a failing check would measure nothing useful.
        verify_id_token(raw, &f.keys, &f.expectations, &f.nonce, None, now)
            .unwrap_or_else(|e| panic!("{alg} token does not verify: {e:?}"));
        group.bench_function(*alg, |b| {
            b.iter(|| {
                verify_id_token(
                    black_box(raw),
                    &f.keys,
                    &f.expectations,
                    &f.nonce,
                    None,
                    now,
                )
            });
        });
    }
    group.finish();
    let (_, raw) = &f.tokens[0];
    assert!(
        email_verified_is_true(raw),
        "mock-op's token has email_verified: true"
    );
    c.bench_function("email_verified_is_true", |b| {
        b.iter(|| email_verified_is_true(black_box(raw)));
    });
}

criterion_group!(benches, id_token_validation);
criterion_main!(benches);
