//! Every refusal of the assertion providers, through the real binary at `RUST_LOG=trace`:
//! `signed_assertion` (jwt with keys from `public_keys_file`, hmac with secrets from
//! `hmac_secrets_file`) and native-app ID-token exchange on `oidc`. Each refusal answers its
//! specific JSON error and mints nothing at the Appwrite emulator; the successes in between
//! make one session each; and afterwards the logs hold no secret, no assertion, no ID token and
//! no minted secret. Each exchange leaves exactly one audit event (in the log and in
//! `[audit] file`) naming its outcome and error type.

use appwrite_emulator::{Emulator, EmulatorConfig};
use idp_jose::{Algorithm, EncodingKey, Header};
use mock_op::{Behavior, MockOp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Options, Served, assert_no_jwt_in, assert_no_secret_in, config_toml, create_session, exchange,
    mock_config,
};
use crate::idp::{CLIENT_ID, CLIENT_SECRET, free_port};
use crate::signed_assertion::{
    BACKEND_ISSUER, HOOK_SECRET, assertion_claims, es256, hmac_signature, jwt_body, new_es256, now,
    rs256,
};

/// A secret that was in `hmac_secrets` once and has been rotated out.
const RETIRED_SECRET: &str = "retired-secret-0123456789abcdef-01234567";
/// The secret the hook rotates to (both are listed).
const NEXT_SECRET: &str = "next-secret-0123456789abcdef-0123456789ab";

/// One request to the exchange route and what it must answer.
struct Case {
    what: &'static str,
    provider: &'static str,
    body: Vec<u8>,
    signature: Option<String>,
    status: u16,
    kind: &'static str,
}

impl Case {
    fn jwt(what: &'static str, assertion: &str, kind: &'static str) -> Self {
        Self {
            what,
            provider: "backend",
            body: jwt_body(assertion),
            signature: None,
            status: 401,
            kind,
        }
    }

    fn hmac(what: &'static str, body: &Value, secret: &str, t: i64, kind: &'static str) -> Self {
        let body = body.to_string().into_bytes();
        Self {
            what,
            provider: "hook",
            signature: Some(hmac_signature(secret, t, &body)),
            body,
            status: 401,
            kind,
        }
    }

    fn id_token(what: &'static str, provider: &'static str, token: &str, nonce: &str) -> Self {
        Self {
            what,
            provider,
            body: json!({"id_token": token, "nonce": nonce})
                .to_string()
                .into_bytes(),
            signature: None,
            status: 401,
            kind: "",
        }
    }

    fn refused(mut self, status: u16, kind: &'static str) -> Self {
        self.status = status;
        self.kind = kind;
        self
    }

    /// Sends it with `request_id` as its `X-Request-Id`.
    async fn send(&self, gateway: &str, request_id: &str) -> (StatusCode, Value) {
        let mut headers: Vec<(&str, &str)> = self
            .signature
            .iter()
            .map(|s| ("X-Bridge-Signature", s.as_str()))
            .collect();
        headers.push(("X-Request-Id", request_id));
        exchange(gateway, self.provider, &self.body, &headers).await
    }

    /// The body as text, for the log check.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An ID token of `op` for alice with `nonce`, claims patched.
fn id_token(op: &MockOp, nonce: &str, patch: Value) -> String {
    let mut claims = op.id_token_claims("alice", nonce);
    for (key, value) in patch.as_object().cloned().unwrap_or_default() {
        claims[key] = value;
    }
    op.sign_id_token(&claims, &Behavior::default())
}

/// Exchanges and checks that the token makes exactly one session; returns the minted secret.
async fn accepted(case: &Case, gateway: &str, emulator: &Emulator) -> String {
    let (status, answer) = case.send(gateway, "accepted").await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", case.what);
    let user_id = answer["userId"].as_str().expect("userId");
    let secret = answer["secret"].as_str().expect("secret");
    let (status, _) = create_session(emulator, user_id, secret).await;
    assert_eq!(status, StatusCode::CREATED, "{}", case.what);
    secret.to_string()
}

#[tokio::test]
async fn every_assertion_refusal_mints_nothing_and_logs_no_secret() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let op = MockOp::spawn(mock_config()).await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tempdir");
    let keys_file = dir.path().join("backend-keys.pem");
    std::fs::write(
        &keys_file,
        format!("{}{}", es256().public_pem, rs256().public_pem),
    )
    .expect("write keys");
    let secrets_file = dir.path().join("hook-secrets");
    std::fs::write(&secrets_file, format!("{NEXT_SECRET}\n{HOOK_SECRET}\n")).expect("write");
    let options = Options {
        provider_extra: "allow_id_token_exchange = true".into(),
        extra_toml: format!(
            r#"
[providers.plain]
type = "oidc"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"

[providers.backend]
type = "signed_assertion"
format = "jwt"
issuer = "{BACKEND_ISSUER}"
public_keys_file = "{keys}"

[providers.hook]
type = "signed_assertion"
format = "hmac"
hmac_secrets_file = "{secrets}"
"#,
            issuer = op.issuer(),
            keys = keys_file.display(),
            secrets = secrets_file.display(),
        ),
        ..Options::mock()
    };
    let audit_file = dir.path().join("audit.jsonl");
    let config = format!(
        "{}\n[audit]\nfile = \"{}\"\n",
        config_toml(&gateway, &op.issuer(), &emulator, &options),
        audit_file.display()
    );
    let served = Served::start(port, &config).await;

    let claims = |jti: &str| assertion_claims(&gateway, "bob", jti);
    let with = |jti: &str, patch: Value| {
        let mut c = claims(jti);
        for (key, value) in patch.as_object().cloned().unwrap_or_default() {
            if value.is_null() {
                c.as_object_mut().expect("object").remove(&key);
            } else {
                c[key] = value;
            }
        }
        c
    };
    let hook_body = |jti: &str| json!({"sub": "hook-bob", "jti": jti});
    // Algorithm confusion: HS256 keyed with the text of the configured public key.
    let hs256 = |claims: &Value, key: &[u8]| {
        let key = EncodingKey::from_secret(key);
        idp_jose::encode(&Header::new(Algorithm::HS256), claims, &key).expect("sign")
    };
    let b64 = |v: &Value| data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes());

    // Successes, each exchanged once; their replays are refusals below.
    let ok_jwt = Case::jwt("es256", &es256().sign(&claims("ok-jwt")), "");
    let ok_rsa = Case::jwt("rs256", &rs256().sign(&claims("ok-rsa")), "");
    let ok_hook = Case::hmac("hmac", &hook_body("ok-hook"), HOOK_SECRET, now(), "");
    let ok_next = Case::hmac("hmac next", &hook_body("ok-next"), NEXT_SECRET, now(), "");
    let ok_token = id_token(&op, "native-nonce-0001", json!({}));
    let ok_id = Case::id_token("id token", "corp", &ok_token, "native-nonce-0001");
    let mut minted = Vec::new();
    for case in [&ok_jwt, &ok_rsa, &ok_hook, &ok_next, &ok_id] {
        minted.push(accepted(case, &gateway, &emulator).await);
    }

    let other_key = new_es256(&es256().kid);
    let cases = vec![
        Case::jwt(
            "jwt stale",
            &es256().sign(&with("stale", json!({"iat": now() - 400}))),
            "assertion_expired",
        ),
        Case::jwt(
            "jwt replayed",
            &es256().sign(&claims("ok-jwt")),
            "assertion_replayed",
        ),
        Case::jwt(
            "jwt bad signature",
            &other_key.sign(&claims("bad-sig")),
            "assertion_signature_invalid",
        ),
        Case::jwt(
            "jwt wrong audience",
            &es256().sign(&with(
                "aud",
                json!({"aud": "https://other-gateway.example.test"}),
            )),
            "assertion_audience_mismatch",
        ),
        Case::jwt(
            "jwt wrong issuer",
            &es256().sign(&with("iss", json!({"iss": "https://evil.example.test"}))),
            "assertion_issuer_mismatch",
        ),
        Case::jwt(
            "jwt alg none",
            &format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims("none"))),
            "assertion_alg_not_allowed",
        ),
        Case::jwt(
            "jwt HS256 keyed with the public key",
            &hs256(&claims("hs"), es256().public_pem.as_bytes()),
            "assertion_alg_not_allowed",
        ),
        Case::jwt(
            "jwt future iat",
            &es256().sign(&with("future", json!({"iat": now() + 300}))),
            "assertion_issued_in_future",
        ),
        Case::jwt(
            "jwt missing jti",
            &es256().sign(&with("x", json!({"jti": null}))),
            "assertion_claim_missing",
        ),
        Case::hmac(
            "hmac rotated-out secret",
            &hook_body("retired"),
            RETIRED_SECRET,
            now(),
            "assertion_signature_invalid",
        ),
        Case::hmac(
            "hmac stale",
            &hook_body("h-stale"),
            HOOK_SECRET,
            now() - 400,
            "assertion_expired",
        ),
        Case::hmac(
            "hmac future",
            &hook_body("h-future"),
            HOOK_SECRET,
            now() + 300,
            "assertion_issued_in_future",
        ),
        Case::hmac(
            "hmac replayed",
            &hook_body("ok-hook"),
            HOOK_SECRET,
            now(),
            "assertion_replayed",
        ),
        Case::hmac(
            "hmac missing jti",
            &json!({"sub": "hook-bob"}),
            HOOK_SECRET,
            now(),
            "assertion_claim_missing",
        ),
        Case::id_token("id token replayed", "corp", &ok_token, "native-nonce-0001")
            .refused(401, "id_token_replayed"),
        Case::id_token(
            "id token too old",
            "corp",
            &id_token(
                &op,
                "native-nonce-0002",
                json!({"iat": now() - 400, "auth_time": now() - 400}),
            ),
            "native-nonce-0002",
        )
        .refused(401, "id_token_too_old"),
        Case::id_token(
            "id token of another issuer",
            "corp",
            &id_token(
                &op,
                "native-nonce-0003",
                json!({"iss": "https://other-idp.example.test"}),
            ),
            "native-nonce-0003",
        )
        .refused(401, "id_token_issuer_mismatch"),
        Case::id_token(
            "id token for another client",
            "corp",
            &id_token(&op, "native-nonce-0004", json!({"aud": "another-client"})),
            "native-nonce-0004",
        )
        .refused(401, "id_token_audience_mismatch"),
        Case::id_token(
            "id token with another nonce",
            "corp",
            &id_token(&op, "native-nonce-0005", json!({})),
            "native-nonce-9999",
        )
        .refused(401, "id_token_nonce_mismatch"),
        Case::id_token(
            "id token at a provider without the opt-in",
            "plain",
            &id_token(&op, "native-nonce-0006", json!({})),
            "native-nonce-0006",
        )
        .refused(400, "provider_flow_unsupported"),
    ];
    let before = emulator.tokens().len();
    assert_eq!(before, minted.len());
    for (i, case) in cases.iter().enumerate() {
        let (status, answer) = case.send(&gateway, &format!("refusal-{i}")).await;
        assert_eq!(status.as_u16(), case.status, "{}: {answer}", case.what);
        assert_eq!(answer["type"], case.kind, "{}: {answer}", case.what);
        assert_eq!(answer["code"], case.status, "{}", case.what);
        assert_eq!(
            emulator.tokens().len(),
            before,
            "{}: a refusal minted a token",
            case.what
        );
    }

    served.signal("TERM");
    let (_, logs) = served.wait_exit(std::time::Duration::from_secs(20)).await;
    let audit = std::fs::read_to_string(&audit_file).expect("the audit file");
    let events = crate::audit::audit_events(&logs, &audit);
    let requests = crate::audit::by_request(&events);
    assert_eq!(requests["accepted"].len(), 5, "one event per success");
    for (i, case) in cases.iter().enumerate() {
        let found = &requests[&format!("refusal-{i}")];
        assert_eq!(found.len(), 1, "{}: {found:?}", case.what);
        assert_eq!(found[0]["event"], "exchange", "{}", case.what);
        assert_eq!(found[0]["error_type"], case.kind, "{}", case.what);
    }
    assert_eq!(events.len(), 5 + cases.len(), "no other event");
    let logs = format!("{logs}\n{audit}");
    assert!(logs.lines().count() > 20, "trace logging was on:\n{logs}");
    let texts: Vec<String> = [&ok_jwt, &ok_rsa, &ok_id]
        .into_iter()
        .chain(cases.iter())
        .map(Case::text)
        .collect();
    let mut secrets: Vec<(&str, &str)> = vec![
        ("API key", emulator.api_key()),
        ("id key", options.id_key.as_str()),
        ("client secret", CLIENT_SECRET),
        ("hmac secret", HOOK_SECRET),
        ("next hmac secret", NEXT_SECRET),
        ("retired hmac secret", RETIRED_SECRET),
        ("nonce", "native-nonce-0001"),
    ];
    secrets.extend(minted.iter().map(|s| ("minted secret", s.as_str())));
    for text in &texts {
        // The assertion or ID token inside each body.
        let token = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("assertion").or(v.get("id_token")).cloned())
            .and_then(|v| v.as_str().map(str::to_string));
        if let Some(token) = token {
            assert!(
                !logs.contains(&token),
                "an assertion or ID token is in the logs"
            );
        }
    }
    for case in [&ok_hook, &ok_next].into_iter().chain(cases.iter()) {
        if let Some(signature) = &case.signature {
            secrets.push(("X-Bridge-Signature", signature.as_str()));
        }
    }
    assert_no_secret_in(&logs, &secrets);
    assert_no_jwt_in(&logs);
}
