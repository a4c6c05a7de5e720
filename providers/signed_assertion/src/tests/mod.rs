//! Whole exchanges through the provider, with keys generated per run, an in-memory replay
//! cache and no Appwrite.

use std::sync::OnceLock;

use idp_jose::{EncodingKey, Header};
use idp_provider_api::OutboundTls;
use idp_provider_api::testing::{MemoryReplay, NoDirectory};
use serde_json::json;

use super::*;

const ISSUER: &str = "https://backend.example.com";
const AUDIENCE: &str = "https://gw.example.com";
const SECRET: &str = "hmac-secret-0123456789abcdef-0123456789";

/// A signing key and its public PEM.
struct TestKey {
    alg: idp_jose::Algorithm,
    private_pem: String,
    public_pem: String,
}

fn rcgen_key(alg: &'static rcgen::SignatureAlgorithm, jws: idp_jose::Algorithm) -> TestKey {
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
        alg: idp_jose::Algorithm::RS256,
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
    KEY.get_or_init(|| rcgen_key(&rcgen::PKCS_ECDSA_P256_SHA256, idp_jose::Algorithm::ES256))
}

fn eddsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| rcgen_key(&rcgen::PKCS_ED25519, idp_jose::Algorithm::EdDSA))
}

fn rs256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| rsa_key(2048))
}

impl TestKey {
    fn sign(&self, claims: &Value) -> String {
        let key = match self.alg {
            idp_jose::Algorithm::ES256 => EncodingKey::from_ec_pem(self.private_pem.as_bytes()),
            idp_jose::Algorithm::EdDSA => EncodingKey::from_ed_pem(self.private_pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(self.private_pem.as_bytes()),
        }
        .expect("encoding key");
        idp_jose::encode(&Header::new(self.alg), claims, &key).expect("sign")
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

mod hmac_exchanges;
mod jwt_exchanges;
