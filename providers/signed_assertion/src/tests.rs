//! Whole exchanges through the provider, with keys generated per run, an in-memory replay
//! cache and no Appwrite.

use std::sync::OnceLock;

use idp_provider_api::OutboundTls;
use idp_provider_api::testing::{MemoryReplay, NoDirectory};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;

const ISSUER: &str = "https://backend.example.com";
const AUDIENCE: &str = "https://gw.example.com";
const SECRET: &str = "hmac-secret-0123456789abcdef-0123456789";

/// A signing key and its public PEM.
struct TestKey {
    alg: jsonwebtoken::Algorithm,
    private_pem: String,
    public_pem: String,
}

fn rcgen_key(alg: &'static rcgen::SignatureAlgorithm, jws: jsonwebtoken::Algorithm) -> TestKey {
    let pair = rcgen::KeyPair::generate_for(alg).expect("generate key");
    TestKey {
        alg: jws,
        private_pem: pair.serialize_pem(),
        public_pem: pair.public_key_pem(),
    }
}

fn rsa_key(bits: usize) -> TestKey {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits).expect("generate RSA");
    TestKey {
        alg: jsonwebtoken::Algorithm::RS256,
        private_pem: private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pkcs8")
            .to_string(),
        public_pem: private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("spki"),
    }
}

fn es256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rcgen_key(
            &rcgen::PKCS_ECDSA_P256_SHA256,
            jsonwebtoken::Algorithm::ES256,
        )
    })
}

fn eddsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| rcgen_key(&rcgen::PKCS_ED25519, jsonwebtoken::Algorithm::EdDSA))
}

fn rs256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| rsa_key(2048))
}

impl TestKey {
    fn sign(&self, claims: &Value) -> String {
        let key = match self.alg {
            jsonwebtoken::Algorithm::ES256 => EncodingKey::from_ec_pem(self.private_pem.as_bytes()),
            jsonwebtoken::Algorithm::EdDSA => EncodingKey::from_ed_pem(self.private_pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(self.private_pem.as_bytes()),
        }
        .expect("encoding key");
        jsonwebtoken::encode(&Header::new(self.alg), claims, &key).expect("sign")
    }
}

/// A hand-made compact JWS with any header and signature.
fn forged(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}
use base64::Engine as _;

fn context() -> OpenContext {
    OpenContext::new(OutboundTls::new(None).expect("tls"))
        .with_public_url(Some(url::Url::parse(AUDIENCE).expect("url")))
}

fn info() -> ProviderInfo {
    ProviderInfo {
        id: "backend".into(),
        kind: KIND,
        display_name: "Backend".into(),
    }
}

fn jwt_provider(public_keys: Value) -> Arc<dyn Provider> {
    open(
        info(),
        json!({"format": "jwt", "issuer": ISSUER, "public_keys": public_keys}),
        &context(),
    )
    .expect("valid config")
}

fn all_keys_provider() -> Arc<dyn Provider> {
    jwt_provider(json!([
        es256().public_pem,
        eddsa().public_pem,
        rs256().public_pem
    ]))
}

fn hmac_provider(secrets: &[&str]) -> Arc<dyn Provider> {
    open(
        info(),
        json!({"format": "hmac", "hmac_secrets": secrets}),
        &context(),
    )
    .expect("valid config")
}

fn open_problems(table: Value) -> Vec<String> {
    match open(info(), table, &context()) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

fn now() -> i64 {
    unix_now()
}

fn claims(jti: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "iat": now(), "exp": now() + 120,
        "jti": jti, "email": "ada@example.test", "email_verified": true, "name": "Ada",
        "groups": ["staff"],
    })
}

async fn exchange_with(
    provider: &Arc<dyn Provider>,
    body: &[u8],
    headers: &http::HeaderMap,
    replay: &MemoryReplay,
) -> Result<Identity, ProviderError> {
    let flow = provider.assertion().expect("an assertion flow");
    flow.exchange(AssertionInput {
        body,
        headers,
        client_ip: None,
        replay,
        directory: &NoDirectory,
    })
    .await
}

async fn exchange_jwt(
    provider: &Arc<dyn Provider>,
    token: &str,
    replay: &MemoryReplay,
) -> Result<Identity, ProviderError> {
    let body = json!({ "assertion": token }).to_string();
    exchange_with(provider, body.as_bytes(), &http::HeaderMap::new(), replay).await
}

async fn exchange_hmac(
    provider: &Arc<dyn Provider>,
    body: &Value,
    secret: &str,
    t: i64,
    replay: &MemoryReplay,
) -> Result<Identity, ProviderError> {
    let body = body.to_string();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_str(&hmac::sign(secret, t, body.as_bytes())).expect("header"),
    );
    exchange_with(provider, body.as_bytes(), &headers, replay).await
}

#[track_caller]
fn assert_reason(result: Result<Identity, ProviderError>, expected: &str) {
    match result {
        Err(ProviderError::Rejected(r)) => assert_eq!(r.reason, expected, "{}", r.detail),
        other => panic!("expected {expected}, got {other:?}"),
    }
}

#[tokio::test]
async fn each_algorithm_logs_a_user_in_once() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::default();
    for (i, key) in [es256(), eddsa(), rs256()].into_iter().enumerate() {
        let token = key.sign(&claims(&format!("jti-{i}")));
        let identity = exchange_jwt(&provider, &token, &replay)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", key.alg));
        assert_eq!(identity.provider(), "backend");
        assert_eq!(identity.issuer(), ISSUER);
        assert_eq!(identity.subject(), "user-42");
        assert_eq!(identity.verified_email(), Some("ada@example.test"));
        assert_eq!(identity.name(), Some("Ada"));
        assert!(identity.auth_time().is_some_and(|t| (now() - t).abs() < 5));
        assert_eq!(identity.claims().get("groups"), Some(&json!(["staff"])));
        assert_reason(
            exchange_jwt(&provider, &token, &replay).await,
            "assertion_replayed",
        );
    }
}

#[tokio::test]
async fn several_pem_blocks_in_one_text_are_all_keys() {
    // What `public_keys_file` yields: one text with several PEM blocks.
    let provider = jwt_provider(json!(format!(
        "{}\n{}",
        es256().public_pem,
        eddsa().public_pem
    )));
    let replay = MemoryReplay::default();
    for key in [es256(), eddsa()] {
        let token = key.sign(&claims(&format!("{:?}", key.alg)));
        assert!(exchange_jwt(&provider, &token, &replay).await.is_ok());
    }
}

#[tokio::test]
async fn time_claims_are_enforced() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::default();
    let key = es256();
    let mut stale = claims("stale");
    stale["iat"] = json!(now() - 400);
    assert_reason(
        exchange_jwt(&provider, &key.sign(&stale), &replay).await,
        "assertion_expired",
    );
    let mut future = claims("future");
    future["iat"] = json!(now() + 120);
    assert_reason(
        exchange_jwt(&provider, &key.sign(&future), &replay).await,
        "assertion_issued_in_future",
    );
    let mut expired = claims("expired");
    expired["exp"] = json!(now() - 100);
    assert_reason(
        exchange_jwt(&provider, &key.sign(&expired), &replay).await,
        "assertion_expired",
    );
    let mut early = claims("early");
    early["nbf"] = json!(now() + 120);
    assert_reason(
        exchange_jwt(&provider, &key.sign(&early), &replay).await,
        "assertion_not_yet_valid",
    );
}

#[tokio::test]
async fn audience_issuer_and_required_claims_are_enforced() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::default();
    let key = es256();
    let cases = [
        (
            "aud",
            json!("https://other-gateway.example.com"),
            "assertion_audience_mismatch",
        ),
        (
            "iss",
            json!("https://evil.example.com"),
            "assertion_issuer_mismatch",
        ),
        (
            "iss",
            json!([ISSUER, "https://evil.example.com"]),
            "assertion_issuer_mismatch",
        ),
    ];
    for (claim, value, reason) in cases {
        let mut c = claims("c");
        c[claim] = value;
        assert_reason(
            exchange_jwt(&provider, &key.sign(&c), &replay).await,
            reason,
        );
    }
    for claim in ["jti", "sub", "iat", "exp", "aud", "iss"] {
        let mut c = claims("missing");
        c.as_object_mut().expect("object").remove(claim);
        assert_reason(
            exchange_jwt(&provider, &key.sign(&c), &replay).await,
            "assertion_claim_missing",
        );
    }
    // The public URL may be named with or without its trailing slash.
    let mut slash = claims("slash");
    slash["aud"] = json!(format!("{AUDIENCE}/"));
    assert!(
        exchange_jwt(&provider, &key.sign(&slash), &replay)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn forged_signatures_and_algorithms_are_refused() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::default();
    // Signed by a key that is not configured.
    let stranger = rcgen_key(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        jsonwebtoken::Algorithm::ES256,
    );
    assert_reason(
        exchange_jwt(&provider, &stranger.sign(&claims("a")), &replay).await,
        "assertion_signature_invalid",
    );
    // alg none, in any spelling, with or without a signature.
    for alg in ["none", "None", "NONE"] {
        let token = forged(&json!({"alg": alg}), &claims("b"), b"");
        assert_reason(
            exchange_jwt(&provider, &token, &replay).await,
            "assertion_alg_not_allowed",
        );
    }
    // Algorithm confusion: HS256 keyed with the configured public key's PEM text.
    for public in [&es256().public_pem, &rs256().public_pem] {
        let key = EncodingKey::from_secret(public.as_bytes());
        let token = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims("c"),
            &key,
        )
        .expect("sign");
        assert_reason(
            exchange_jwt(&provider, &token, &replay).await,
            "assertion_alg_not_allowed",
        );
    }
    // An ES256 signature presented as RS256 (cross-family) finds no RS256 key that verifies it.
    let es = es256().sign(&claims("d"));
    let mut parts: Vec<String> = es.split('.').map(str::to_string).collect();
    parts[0] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    assert_reason(
        exchange_jwt(&provider, &parts.join("."), &replay).await,
        "assertion_signature_invalid",
    );
    // ECDSA "psychic signature" (r = s = 0).
    let psychic = forged(&json!({"alg": "ES256"}), &claims("e"), &[0u8; 64]);
    assert_reason(
        exchange_jwt(&provider, &psychic, &replay).await,
        "assertion_signature_invalid",
    );
    // `crit` is refused even on a validly signed token.
    let key = EncodingKey::from_ec_pem(es256().private_pem.as_bytes()).expect("key");
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.extras.insert("crit", json!(["exp"]));
    let crit = jsonwebtoken::encode(&header, &claims("f"), &key).expect("sign");
    assert_reason(
        exchange_jwt(&provider, &crit, &replay).await,
        "assertion_header_unsupported",
    );
}

#[tokio::test]
async fn an_algorithm_outside_allowed_algs_is_refused_even_with_a_good_key() {
    let provider = open(
        info(),
        json!({"format": "jwt", "issuer": ISSUER, "public_keys": [es256().public_pem],
            "allowed_algs": ["ES256"]}),
        &context(),
    )
    .expect("valid");
    let replay = MemoryReplay::default();
    assert_reason(
        exchange_jwt(&provider, &eddsa().sign(&claims("a")), &replay).await,
        "assertion_alg_not_allowed",
    );
    assert!(
        exchange_jwt(&provider, &es256().sign(&claims("b")), &replay)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_refused_assertion_does_not_use_up_its_jti() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::default();
    let mut wrong = claims("same-jti");
    wrong["aud"] = json!("https://elsewhere.example.com");
    assert_reason(
        exchange_jwt(&provider, &es256().sign(&wrong), &replay).await,
        "assertion_audience_mismatch",
    );
    assert!(
        exchange_jwt(&provider, &es256().sign(&claims("same-jti")), &replay)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_replay_cache_failure_refuses() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::down();
    let result = exchange_jwt(&provider, &es256().sign(&claims("a")), &replay).await;
    assert!(
        matches!(result, Err(ProviderError::Service(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn malformed_bodies_are_invalid_requests() {
    let provider = all_keys_provider();
    let replay = MemoryReplay::default();
    for body in [
        &b"not json"[..],
        br#"{}"#,
        br#"{"assertion": 5}"#,
        br#"{"assertion":"x","more":1}"#,
    ] {
        let result = exchange_with(&provider, body, &http::HeaderMap::new(), &replay).await;
        assert!(
            matches!(
                result,
                Err(ProviderError::InvalidRequest {
                    param: "assertion",
                    ..
                })
            ),
            "{result:?}"
        );
    }
    assert_reason(
        exchange_jwt(&provider, "a.b", &replay).await,
        "assertion_malformed",
    );
}

#[test]
fn keys_that_must_not_verify_are_refused_at_config_time() {
    let p = open_problems(json!({"format": "jwt", "issuer": ISSUER,
        "public_keys": [es256().private_pem]}));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("providers.backend.public_keys: key #1 is a private key"),
        "{p:?}"
    );
    assert!(!p[0].contains("BEGIN"), "the key is never quoted");
    let weak = rsa_key(1024);
    let p = open_problems(json!({"format": "jwt", "issuer": ISSUER,
        "public_keys": [weak.public_pem]}));
    assert!(p[0].contains("RSA key of 1024 bits"), "{p:?}");
    let p = open_problems(json!({"format": "jwt", "issuer": ISSUER,
        "public_keys": [rs256().public_pem], "allowed_algs": ["ES256"]}));
    assert!(p[0].contains("not in allowed_algs"), "{p:?}");
    let p = open_problems(json!({"format": "jwt", "issuer": ISSUER,
        "public_keys": ["no pem here"]}));
    assert!(p[0].contains("entry #1 holds no PEM block"), "{p:?}");
}

fn hmac_body(jti: &str) -> Value {
    json!({"sub": "user-7", "jti": jti, "email": "bo@example.test", "email_verified": true,
        "name": "Bo"})
}

#[tokio::test]
async fn hmac_logs_a_user_in_once() {
    let provider = hmac_provider(&[SECRET]);
    let replay = MemoryReplay::default();
    let identity = exchange_hmac(&provider, &hmac_body("h1"), SECRET, now(), &replay)
        .await
        .expect("accepted");
    assert_eq!(identity.issuer(), "hmac:backend");
    assert_eq!(identity.subject(), "user-7");
    assert_eq!(identity.verified_email(), Some("bo@example.test"));
    assert_reason(
        exchange_hmac(&provider, &hmac_body("h1"), SECRET, now(), &replay).await,
        "assertion_replayed",
    );
}

#[tokio::test]
async fn hmac_refusals() {
    let old = "old-secret-0123456789abcdef-0123456789";
    let provider = hmac_provider(&[SECRET]);
    let replay = MemoryReplay::default();
    assert_reason(
        exchange_hmac(&provider, &hmac_body("r1"), old, now(), &replay).await,
        "assertion_signature_invalid",
    );
    assert_reason(
        exchange_hmac(&provider, &hmac_body("r2"), SECRET, now() - 400, &replay).await,
        "assertion_expired",
    );
    assert_reason(
        exchange_hmac(&provider, &hmac_body("r3"), SECRET, now() + 120, &replay).await,
        "assertion_issued_in_future",
    );
    let mut no_jti = hmac_body("x");
    no_jti.as_object_mut().expect("object").remove("jti");
    assert_reason(
        exchange_hmac(&provider, &no_jti, SECRET, now(), &replay).await,
        "assertion_claim_missing",
    );
    let mut elsewhere = hmac_body("r4");
    elsewhere["aud"] = json!("https://staging.example.com");
    assert_reason(
        exchange_hmac(&provider, &elsewhere, SECRET, now(), &replay).await,
        "assertion_audience_mismatch",
    );
    let mut here = hmac_body("r5");
    here["aud"] = json!(AUDIENCE);
    assert!(
        exchange_hmac(&provider, &here, SECRET, now(), &replay)
            .await
            .is_ok()
    );
    // Unsigned, or signed over other bytes.
    let body = hmac_body("r6").to_string();
    assert_reason(
        exchange_with(&provider, body.as_bytes(), &http::HeaderMap::new(), &replay).await,
        "assertion_signature_missing",
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_str(&hmac::sign(SECRET, now(), body.as_bytes())).expect("value"),
    );
    let tampered = body.replace("user-7", "user-8");
    assert_reason(
        exchange_with(&provider, tampered.as_bytes(), &headers, &replay).await,
        "assertion_signature_invalid",
    );
}

#[tokio::test]
async fn hmac_rotation_accepts_every_listed_secret() {
    let next = "next-secret-0123456789abcdef-012345678";
    let provider = hmac_provider(&[next, SECRET]);
    let replay = MemoryReplay::default();
    for (i, secret) in [next, SECRET].into_iter().enumerate() {
        let body = hmac_body(&format!("rot-{i}"));
        assert!(
            exchange_hmac(&provider, &body, secret, now(), &replay)
                .await
                .is_ok()
        );
    }
}
