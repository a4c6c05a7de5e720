//! The `signed_assertion` provider through the real gateway and the Appwrite emulator: every
//! key type of the `jwt` format, the `hmac` format, keys from a JWKS URL that rotates, and the
//! Node example of the book (examples/appwrite-function/sign.mjs) signing what the gateway
//! then accepts. Every minted token makes exactly one Appwrite session. The refusals, with
//! their log checks, are in `assertion_logs.rs`.

use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};

use idp_jose::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, exchange};

/// The `iss` of the backend's assertions in these tests.
pub const BACKEND_ISSUER: &str = "https://backend.example.test";
/// The HMAC secret of the `hook` provider (at least 32 bytes).
pub const HOOK_SECRET: &str = "hook-secret-0123456789abcdef-0123456789";

/// A signing key made for this test run, with its public PEM.
pub struct TestKey {
    pub alg: Algorithm,
    pub kid: String,
    pub private_pem: String,
    pub public_pem: String,
}

fn rcgen_key(alg: &'static rcgen::SignatureAlgorithm, jws: Algorithm, kid: &str) -> TestKey {
    let pair = rcgen::KeyPair::generate_for(alg).expect("generate key");
    TestKey {
        alg: jws,
        kid: kid.into(),
        private_pem: pair.serialize_pem(),
        public_pem: pair.public_key_pem(),
    }
}

/// A fresh EC P-256 key (ES256).
pub fn new_es256(kid: &str) -> TestKey {
    rcgen_key(&rcgen::PKCS_ECDSA_P256_SHA256, Algorithm::ES256, kid)
}

/// The run's ES256 key.
pub fn es256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| new_es256("es-1"))
}

/// The run's Ed25519 key. ring writes PKCS#8 v2 (RFC 5958, the public key included), which
/// OpenSSL 3 (so Node) refuses; the same seed in a v1 document (RFC 8410) is read by all.
pub fn eddsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("generate key");
        let v2 = pair.serialize_der();
        let seed = &v2[16..48];
        let mut v1 = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        v1.extend_from_slice(seed);
        TestKey {
            alg: Algorithm::EdDSA,
            kid: "ed-1".into(),
            private_pem: format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                data_encoding::BASE64.encode(&v1)
            ),
            public_pem: pair.public_key_pem(),
        }
    })
}

/// The run's RSA 2048 key.
pub fn rs256() -> &'static TestKey {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let private =
            rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("generate RSA key");
        TestKey {
            alg: Algorithm::RS256,
            kid: "rsa-1".into(),
            private_pem: private
                .to_pkcs8_pem(LineEnding::LF)
                .expect("pkcs8")
                .to_string(),
            public_pem: private
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("spki"),
        }
    })
}

impl TestKey {
    fn encoding_key(&self) -> EncodingKey {
        let pem = self.private_pem.as_bytes();
        match self.alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => EncodingKey::from_rsa_pem(pem),
        }
        .expect("encoding key")
    }

    /// `claims` signed with this key, its `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        idp_jose::encode(&header, claims, &self.encoding_key()).expect("sign")
    }

    /// The public key as a JWK with its `kid`.
    pub fn jwk(&self) -> Value {
        let jwk = idp_jose::public_jwk(&self.encoding_key(), self.alg).expect("jwk");
        let mut jwk = serde_json::to_value(jwk).expect("json");
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk
    }
}

/// Seconds since 1970.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims of a valid assertion for `sub` addressed to `gateway`.
pub fn assertion_claims(gateway: &str, sub: &str, jti: &str) -> Value {
    json!({
        "iss": BACKEND_ISSUER, "aud": gateway, "sub": sub, "iat": now(), "exp": now() + 60,
        "jti": jti, "email": format!("{sub}@example.test"), "email_verified": true,
        "name": "Test User",
    })
}

/// `[providers.<id>]` of a `jwt` provider whose keys are `keys` (TOML lines after the header).
pub fn jwt_table(id: &str, keys: &str) -> String {
    format!(
        "[providers.{id}]\ntype = \"signed_assertion\"\nformat = \"jwt\"\n\
         issuer = \"{BACKEND_ISSUER}\"\n{keys}\n"
    )
}

/// A TOML multi-line literal string (PEM text holds no triple quote).
pub fn toml_text(text: &str) -> String {
    format!("'''\n{text}'''")
}

/// The `X-Bridge-Signature` of `body` at time `t` under `secret`.
pub fn hmac_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    let mac = ring::hmac::sign(&key, &message);
    format!("t={t},v1={}", data_encoding::HEXLOWER.encode(mac.as_ref()))
}

/// The `{"assertion"}` body of the `jwt` format.
pub fn jwt_body(assertion: &str) -> Vec<u8> {
    json!({ "assertion": assertion }).to_string().into_bytes()
}

/// Exchanges at `provider`, expects a token, and checks that it makes exactly one session.
pub async fn logs_in_once(app: &TestApp, provider: &str, body: &[u8], headers: &[(&str, &str)]) {
    let (status, answer) = exchange(&app.gateway, provider, body, headers).await;
    assert_eq!(status, StatusCode::OK, "{provider}: {answer}");
    let user_id = answer["userId"].as_str().expect("userId");
    let secret = answer["secret"].as_str().expect("secret");
    let (status, _) = app.create_session(user_id, secret).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{provider}: the token makes a session"
    );
    let (status, _) = app.create_session(user_id, secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{provider}: once");
}

async fn spawn_with_tables(tables: String) -> TestApp {
    TestApp::spawn_with(Options {
        extra_toml: tables,
        ..Options::mock()
    })
    .await
}

/// The gateway with `backend` (jwt, one key of each type) and `hook` (hmac).
async fn spawn_backend_and_hook() -> TestApp {
    let keys = format!(
        "public_keys = [{}, {}, {}]",
        toml_text(&es256().public_pem),
        toml_text(&eddsa().public_pem),
        toml_text(&rs256().public_pem)
    );
    spawn_with_tables(format!(
        "{}\n[providers.hook]\ntype = \"signed_assertion\"\nformat = \"hmac\"\n\
         hmac_secrets = [\"{HOOK_SECRET}\"]\n",
        jwt_table("backend", &keys)
    ))
    .await
}

#[tokio::test]
async fn every_key_type_and_hmac_log_a_user_in_once() {
    let app = spawn_backend_and_hook().await;
    for (n, key) in [es256(), eddsa(), rs256()].into_iter().enumerate() {
        let claims = assertion_claims(&app.gateway, &format!("user-{n}"), &format!("jti-{n}"));
        logs_in_once(&app, "backend", &jwt_body(&key.sign(&claims)), &[]).await;
    }
    let body = json!({"sub": "hook-user", "jti": "h-1", "email": "h@example.test"}).to_string();
    let signature = hmac_signature(HOOK_SECRET, now(), body.as_bytes());
    logs_in_once(
        &app,
        "hook",
        body.as_bytes(),
        &[("X-Bridge-Signature", &signature)],
    )
    .await;
    assert_eq!(app.emulator.tokens().len(), 4);
    // The user is the one derived from (issuer, subject), like for any other provider.
    let expected = app.id_key.user_id(BACKEND_ISSUER, "user-0");
    assert!(app.emulator.user(expected.as_str()).is_some());
    let hook_user = app.id_key.user_id("hmac:hook", "hook-user");
    assert!(app.emulator.user(hook_user.as_str()).is_some());
}

/// A used assertion sent again in another spelling of its signature (the spare bits of its
/// last base64url character; for ES256 also `n - s`) is still used: jsonwebtoken decodes the
/// signature strictly, and the replay key is the `jti` claim, which the signature covers.
#[tokio::test]
async fn every_spelling_of_a_used_assertion_is_refused() {
    let app = spawn_backend_and_hook().await;
    let mut refused = std::collections::BTreeMap::new();
    for (n, key) in [es256(), rs256()].into_iter().enumerate() {
        let claims = assertion_claims(&app.gateway, "spelled-user", &format!("spelled-{n}"));
        let assertion = key.sign(&claims);
        logs_in_once(&app, "backend", &jwt_body(&assertion), &[]).await;
        for other in mock_op::spellings::respellings(&assertion) {
            let (status, body) = exchange(&app.gateway, "backend", &jwt_body(&other), &[]).await;
            let kind = format!(
                "{} {}",
                status.as_u16(),
                body["type"].as_str().unwrap_or("-")
            );
            *refused.entry((key.kid.clone(), kind)).or_insert(0) += 1;
        }
    }
    let expected = [
        (("es-1", "401 assertion_malformed"), 30),
        (("es-1", "401 assertion_replayed"), 1),
        (("rsa-1", "401 assertion_malformed"), 15),
    ]
    .map(|((kid, kind), n)| ((kid.to_string(), kind.to_string()), n));
    assert_eq!(refused, expected.into_iter().collect());
    assert_eq!(app.emulator.tokens().len(), 2, "one token per assertion");
}

/// A `jti` is unique for its issuer, not for the table that reads it: two `jwt` providers on one
/// issuer (the same backend behind two provider ids) accept each `jti` once between them, so a
/// stolen assertion cannot be spent once at each. The `hmac` format's issuer is
/// `hmac:{provider id}`: each `hmac` provider is its own issuer and keeps its own `jti`s.
#[tokio::test]
async fn a_jti_is_used_once_per_issuer_across_providers() {
    let keys = format!("public_keys = [{}]", toml_text(&es256().public_pem));
    let hook = |id: &str| {
        format!(
            "[providers.{id}]\ntype = \"signed_assertion\"\nformat = \"hmac\"\n\
             hmac_secrets = [\"{HOOK_SECRET}\"]\n"
        )
    };
    let app = spawn_with_tables(format!(
        "{}\n{}\n{}\n{}",
        jwt_table("backend", &keys),
        jwt_table("backend2", &keys),
        hook("hook"),
        hook("hook2")
    ))
    .await;
    let assertion = es256().sign(&assertion_claims(&app.gateway, "shared-user", "shared-1"));
    logs_in_once(&app, "backend", &jwt_body(&assertion), &[]).await;
    // The same assertion, and another one reusing its jti, at the other provider.
    let mut again = assertion_claims(&app.gateway, "shared-user", "shared-1");
    again["iat"] = json!(now() - 1);
    for other in [assertion, es256().sign(&again)] {
        let (status, body) = exchange(&app.gateway, "backend2", &jwt_body(&other), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["type"], "assertion_replayed", "{body}");
    }
    assert_eq!(app.emulator.tokens().len(), 1, "one token for one jti");

    let body = json!({"sub": "hook-user", "jti": "h-shared"}).to_string();
    let signature = hmac_signature(HOOK_SECRET, now(), body.as_bytes());
    for id in ["hook", "hook2"] {
        let headers = [("X-Bridge-Signature", signature.as_str())];
        logs_in_once(&app, id, body.as_bytes(), &headers).await;
    }
}

/// A JWKS endpoint whose document the test can change.
async fn serve_jwks(document: Arc<Mutex<Value>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    let router = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document.lock().expect("jwks").clone()) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

#[tokio::test]
async fn keys_from_a_jwks_url_follow_a_rotation() {
    let first = new_es256("first");
    let second = new_es256("second");
    let document = Arc::new(Mutex::new(json!({"keys": [first.jwk()]})));
    let url = serve_jwks(document.clone()).await;
    let app = spawn_with_tables(jwt_table("backend", &format!("jwks_url = \"{url}\""))).await;
    let claims = |jti: &str| assertion_claims(&app.gateway, "rotating-user", jti);
    logs_in_once(&app, "backend", &jwt_body(&first.sign(&claims("r1"))), &[]).await;
    // The signer rotates: the new kid is unknown to the cached keys, one refetch finds it.
    *document.lock().expect("jwks") = json!({"keys": [second.jwk()]});
    logs_in_once(&app, "backend", &jwt_body(&second.sign(&claims("r2"))), &[]).await;
    // A kid the JWKS never had is refused (and costs no more than the rate-limited refetch).
    let stranger = new_es256("stranger");
    let (status, body) = exchange(
        &app.gateway,
        "backend",
        &jwt_body(&stranger.sign(&claims("r3"))),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["type"], "assertion_unknown_key");
    assert_eq!(app.emulator.tokens().len(), 2);
}

/// Runs `code` as an ES module next to the example, with `env`, and returns its stdout.
async fn node(code: &str, env: &[(&str, &str)]) -> String {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("appwrite-function")
        .join("sign.mjs");
    let script = format!(
        "import * as example from {};\n{code}",
        json!(
            url::Url::from_file_path(&example)
                .expect("file URL")
                .to_string()
        )
    );
    let output = tokio::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("run node");
    assert!(
        output.status.success(),
        "node failed: {}\nenv: {env:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test]
async fn the_node_example_signs_what_the_gateway_accepts() {
    let app = spawn_backend_and_hook().await;
    for key in [es256(), eddsa(), rs256()] {
        let assertion = node(
            "console.log(example.signAssertion({ privateKeyPem: process.env.KEY, \
             issuer: process.env.ISSUER, audience: process.env.AUDIENCE, \
             user: { id: 'node-user', email: 'node@example.test', emailVerified: true } }));",
            &[
                ("KEY", &key.private_pem),
                ("ISSUER", BACKEND_ISSUER),
                ("AUDIENCE", &app.gateway),
            ],
        )
        .await;
        logs_in_once(&app, "backend", &jwt_body(assertion.trim()), &[]).await;
    }
    let signed: Value = serde_json::from_str(
        &node(
            "console.log(JSON.stringify(example.signBody({ secret: process.env.SECRET, \
             user: { id: 'node-hook-user', name: 'Node' } })));",
            &[("SECRET", HOOK_SECRET)],
        )
        .await,
    )
    .expect("node prints JSON");
    let body = signed["body"].as_str().expect("body");
    let signature = signed["signature"].as_str().expect("signature");
    logs_in_once(
        &app,
        "hook",
        body.as_bytes(),
        &[("X-Bridge-Signature", signature)],
    )
    .await;
    // The Appwrite Function wrapper answers {"assertion"} for the user its check returns.
    let answered = node(
        "const fn = example.appwriteHandler(async (req) => req.checked ? { id: 'fn-user' } : null,\
           { privateKeyPem: process.env.KEY, issuer: process.env.ISSUER, \
             audience: process.env.AUDIENCE });\n\
         const res = { json: (body, status = 200) => ({ body, status }) };\n\
         const ok = await fn({ req: { checked: true }, res, error: console.error });\n\
         const no = await fn({ req: { checked: false }, res, error: console.error });\n\
         console.log(JSON.stringify({ ok, no }));",
        &[
            ("KEY", &es256().private_pem),
            ("ISSUER", BACKEND_ISSUER),
            ("AUDIENCE", &app.gateway),
        ],
    )
    .await;
    let answered: Value = serde_json::from_str(&answered).expect("JSON");
    assert_eq!(answered["no"]["status"], 401);
    let assertion = answered["ok"]["body"]["assertion"]
        .as_str()
        .expect("assertion");
    logs_in_once(&app, "backend", &jwt_body(assertion), &[]).await;
}
