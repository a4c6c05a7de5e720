//! `verify_id_token` on arbitrary bytes as the token string: it must never panic, whatever the
//! header, payload, signature or encoding. Fixed JWKS (one RSA key, the public half of
//! tests/mock-op/keys/rsa-a.pem), fixed expectations and a fixed clock; the seeds in
//! fuzz/seeds/id_token/ include tokens that pass every check, so the fuzzer starts deep.

#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use idp_provider_api::Secret;
use idp_provider_oidc::jwk::KeySet;
use idp_provider_oidc::verify::{Expectations, verify_id_token};
use libfuzzer_sys::fuzz_target;
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{ClientId, IssuerUrl};

/// Written by fuzz/gen_id_token_seeds.js.
const JWKS: &str = r#"{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"fuzz-rsa","n":"k_H1EpbrUVBCbt4Ul6ybS87VZ2fV9oygrvwwKMOuA-yi8hi3tdGWjzHUzGyAQB3nM_U73yRT-O9xNAgngdjSCba3-iFUGoRUlaBibyKWdv3-4lysBWpPGbPRBn9R6OBq7-mm0uW59n-yj5rNrqpnUng6E7o5jClHDhzgJj05163vXkLBMTNq9gulne7OWK9K7t2kBzE1IL6pyouTlIB_HaHMzSFJuY5kfcp2WFoB7NIDGCzXu39BbQYELftfIEdq4ao8QygVVBUzTbGP8jJmBjsQUYQ_Pwm6uBOdsm6udFvRs3haEtKRdULJko0jjJTcfsKI2jvkwQXSWiK1qA3njQ","e":"AQAB"}]}"#;

/// 2024-01-01T00:00:00Z; the seed tokens are issued just before it.
const NOW: i64 = 1_704_067_200;

static KEYS: LazyLock<KeySet> = LazyLock::new(|| serde_json::from_str(JWKS).expect("valid JWKS"));

static EXPECTED: LazyLock<Expectations> = LazyLock::new(|| Expectations {
    issuer: IssuerUrl::new("https://op.example.com".to_string()).expect("issuer"),
    client_id: ClientId::new("idp-bridge".to_string()),
    client_secret: Secret::new("fuzz-client-secret".to_string()),
    allowed_algs: vec![
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        CoreJwsSigningAlgorithm::HmacSha256,
    ],
    trusted_audiences: vec!["https://api.example.com".to_string()],
    leeway: Duration::from_secs(60),
    max_age: Duration::from_secs(3600),
    accepted_issuers: None,
});

static NONCE: LazyLock<Secret<String>> = LazyLock::new(|| Secret::new("fuzz-nonce".to_string()));

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes, made a string the way a form or JSON body would: lossily.
    let raw = String::from_utf8_lossy(data);
    let now = DateTime::<Utc>::from_timestamp(NOW, 0).expect("valid time");
    let _ = verify_id_token(&raw, &KEYS, &EXPECTED, &NONCE, None, now);
    // Once more with an access token, so at_hash is checked when the token carries one.
    let _ = verify_id_token(
        &raw,
        &KEYS,
        &EXPECTED,
        &NONCE,
        Some("fuzz-access-token"),
        now,
    );
});
