//! End-to-end tests of the mock OP over HTTP, plus the token-signing API.

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_jose::{Algorithm, KeySet, PublicKey, Validation};
use mock_op::{AuthMethod, Behavior, Counters, MockOp, MockOpConfig, SigningAlg};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-verifier";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn authorize_url(op: &MockOp, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/authorize", op.base_url())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "gateway")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "state-123")
        .append_pair("nonce", "nonce-456")
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

fn query_of(location: &str) -> Map<String, Value> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

/// Follows `GET /authorize?login_hint=alice` by hand and returns the code.
async fn login_code(op: &MockOp, sub: &str) -> String {
    let response = http()
        .get(authorize_url(op, &[("login_hint", sub)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = query_of(&location);
    assert_eq!(query["state"], "state-123");
    assert_eq!(query["iss"], Value::String(op.issuer()));
    query["code"].as_str().unwrap().to_owned()
}

async fn exchange(op: &MockOp, code: &str, verifier: &str) -> reqwest::Response {
    http()
        .post(format!("{}/token", op.base_url()))
        .basic_auth("gateway", Some("gateway-secret-0123456789abcdef"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// Logs in as `sub` and returns the token response.
async fn token_response(op: &MockOp, sub: &str) -> Value {
    let code = login_code(op, sub).await;
    let response = exchange(op, &code, VERIFIER).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn split(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let decode = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]), parts[2].to_owned())
}

/// Verifies `token` against the JWKS (or the client secret for HS256) the
/// way an RP would; returns the claims.
fn verify(op: &MockOp, token: &str) -> Result<Value, idp_jose::errors::Error> {
    let header = idp_jose::decode_header(token)?;
    let key = if header.alg == Algorithm::HS256 {
        PublicKey::from_secret(op.config().client_secret.as_bytes())
    } else {
        let set: KeySet = serde_json::from_value(op.jwks()).unwrap();
        let kid = header.kid.clone().expect("kid");
        let jwk = set
            .find(&kid)
            .ok_or(idp_jose::errors::ErrorKind::InvalidKeyFormat)?;
        jwk.key().expect("a usable key").clone()
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["gateway"]);
    validation.set_issuer(&[op.issuer()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    Ok(idp_jose::decode::<Value>(token, &key, &validation)?.claims)
}

fn sample_claims(op: &MockOp) -> Value {
    op.id_token_claims("alice", "n-1")
}

fn patch(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn discovery_document_fields() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = op.base_url();
    assert_eq!(doc["issuer"], Value::String(op.issuer()));
    assert_eq!(doc["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{base}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/userinfo"));
    assert_eq!(doc["jwks_uri"], format!("{base}/jwks"));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA", "HS256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("openid"))
    );
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("email_verified"))
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(op.counters().discovery, 1);
}

#[tokio::test]
async fn issuer_suffix_is_published_and_discovery_served_under_it() {
    let op = MockOp::spawn(MockOpConfig {
        issuer_suffix: "/".into(),
        auth_method: AuthMethod::Basic,
        ..Default::default()
    })
    .await;
    assert!(op.issuer().ends_with('/'));
    let doc: Value = reqwest::get(format!("{}.well-known/openid-configuration", op.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], Value::String(op.issuer()));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic"])
    );
    // A trailing-slash issuer yields `//.well-known/...` when naively joined.
    let status = reqwest::get(format!("{}/.well-known/openid-configuration", op.issuer()))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn jwks_contents() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let doc: Value = reqwest::get(format!("{}/jwks", op.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc, op.jwks());
    let keys = doc["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "PS256", "ES256", "EdDSA"]);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
        assert!(key.get("d").is_none(), "private part leaked: {key}");
    }
    assert_eq!(keys[0]["kty"], "RSA");
    let n = URL_SAFE_NO_PAD
        .decode(keys[0]["n"].as_str().unwrap())
        .unwrap();
    assert_eq!(n.len(), 256, "RSA 2048");
    assert_eq!(keys[0]["e"], "AQAB");
    assert_eq!(keys[2]["kty"], "EC");
    assert_eq!(keys[2]["crv"], "P-256");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(keys[2]["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(keys[2]["y"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert_eq!(keys[3]["kty"], "OKP");
    assert_eq!(keys[3]["crv"], "Ed25519");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(keys[3]["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    // Every key reads as a verification key.
    let set: KeySet = serde_json::from_value(doc).unwrap();
    for jwk in set.keys() {
        jwk.key().unwrap();
    }
    assert_eq!(op.counters().jwks, 1);
}

#[tokio::test]
async fn full_non_interactive_login_verifies_and_userinfo_works() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let body = token_response(&op, "alice").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "openid email profile");
    let access_token = body["access_token"].as_str().unwrap();
    let id_token = body["id_token"].as_str().unwrap();

    let claims = verify(&op, id_token).expect("valid RS256 ID token");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "gateway");
    assert_eq!(claims["nonce"], "nonce-456");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice");
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 300);
    assert!(claims["auth_time"].as_u64().unwrap() <= iat);
    let digest = Sha256::digest(access_token.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    let (header, _, _) = split(id_token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");

    let info: Value = http()
        .get(format!("{}/userinfo", op.base_url()))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info,
        json!({"sub": "alice", "email": "alice@example.test", "email_verified": true, "name": "Alice"})
    );
    let unauthorized = http()
        .get(format!("{}/userinfo", op.base_url()))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);

    assert_eq!(
        op.counters(),
        Counters {
            discovery: 0,
            jwks: 0,
            authorize: 1,
            token: 1,
            userinfo: 2
        }
    );
}

#[tokio::test]
async fn bob_is_unverified() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let body = token_response(&op, "bob").await;
    let claims = verify(&op, body["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["email_verified"], false);
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let code = login_code(&op, "alice").await;
    let response = exchange(
        &op,
        &code,
        "a-different-verifier-that-is-long-enough-0123456789",
    )
    .await;
    assert_eq!(error_of(response).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn code_replay_is_invalid_grant() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let code = login_code(&op, "alice").await;
    assert_eq!(exchange(&op, &code, VERIFIER).await.status(), 200);
    let replay = exchange(&op, &code, VERIFIER).await;
    assert_eq!(error_of(replay).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn redirect_uri_must_match_at_token_endpoint() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let code = login_code(&op, "alice").await;
    let response = http()
        .post(format!("{}/token", op.base_url()))
        .basic_auth("gateway", Some("gateway-secret-0123456789abcdef"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn client_authentication_rules() {
    let op = MockOp::spawn(MockOpConfig {
        auth_method: AuthMethod::Post,
        ..Default::default()
    })
    .await;
    // Basic is refused when only client_secret_post is allowed.
    let code = login_code(&op, "alice").await;
    let basic = exchange(&op, &code, VERIFIER).await;
    assert!(basic.headers().get("www-authenticate").is_some());
    assert_eq!(error_of(basic).await, (401, "invalid_client".into()));

    let post = |secret: &'static str, code: String| {
        let base = op.base_url();
        async move {
            http()
                .post(format!("{base}/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                    ("client_id", "gateway"),
                    ("client_secret", secret),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let code = login_code(&op, "alice").await;
    let wrong = post("wrong-secret", code).await;
    assert_eq!(error_of(wrong).await, (401, "invalid_client".into()));
    let code = login_code(&op, "alice").await;
    assert_eq!(
        post("gateway-secret-0123456789abcdef", code).await.status(),
        200
    );
}

#[tokio::test]
async fn invalid_authorize_requests_get_400_and_never_redirect() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let cases: Vec<(String, &str)> = vec![
        (
            authorize_url(&op, &[]).replace(
                &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
                "https%3A%2F%2Fevil.example%2Fcb",
            ),
            "redirect_uri",
        ),
        (
            authorize_url(&op, &[]).replace("client_id=gateway", "client_id=other"),
            "client_id",
        ),
        (
            authorize_url(&op, &[])
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "S256",
        ),
        (
            authorize_url(&op, &[]).replace("nonce=", "x-nonce="),
            "nonce",
        ),
        (
            authorize_url(&op, &[]).replace("state=", "x-state="),
            "state",
        ),
        (
            authorize_url(&op, &[]).replace("response_type=code", "response_type=token"),
            "response_type",
        ),
        (
            authorize_url(&op, &[]).replace("scope=openid+", "scope="),
            "openid",
        ),
        (authorize_url(&op, &[("state", "again")]), "repeated"),
    ];
    for (url, reason) in cases {
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 400, "{url}");
        assert!(response.headers().get("location").is_none());
        let text = response.text().await.unwrap();
        assert!(text.contains(reason), "{reason} not in {text}");
    }
    // The API refuses the same way.
    let err = op
        .authorize(
            &authorize_url(&op, &[]).replace("code_challenge=", "x="),
            "alice",
        )
        .unwrap_err();
    assert!(err.reason.contains("code_challenge"), "{err}");
}

#[tokio::test]
async fn login_page_renders_and_post_login_yields_a_code() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let response = http().get(authorize_url(&op, &[])).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Sign in as Alice (alice@example.test)"),
        "{html}"
    );
    assert!(html.contains("Sign in as Bob (bob@example.test)"));
    assert!(html.contains("Cancel"));
    assert!(html.contains("action=\"/authorize/login\""));
    let request_id = html
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    let response = http()
        .post(format!("{}/authorize/login", op.base_url()))
        .form(&[("request_id", request_id.as_str()), ("sub", "bob")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let query = query_of(response.headers()["location"].to_str().unwrap());
    assert_eq!(query["state"], "state-123");
    assert_eq!(query["iss"], Value::String(op.issuer()));
    let code = query["code"].as_str().unwrap();
    let body: Value = exchange(&op, code, VERIFIER).await.json().await.unwrap();
    assert_eq!(
        verify(&op, body["id_token"].as_str().unwrap()).unwrap()["sub"],
        "bob"
    );

    // The pending request is single-use.
    let again = http()
        .post(format!("{}/authorize/login", op.base_url()))
        .form(&[("request_id", request_id.as_str()), ("sub", "bob")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn login_page_cancel_redirects_with_access_denied() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    // An unknown login_hint falls back to the page.
    let html = http()
        .get(authorize_url(&op, &[("login_hint", "mallory")]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let request_id = html
        .split("name=\"request_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let response = http()
        .post(format!("{}/authorize/login", op.base_url()))
        .form(&[("request_id", request_id.as_str()), ("cancel", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let query = query_of(response.headers()["location"].to_str().unwrap());
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "state-123");
    assert_eq!(query["iss"], Value::String(op.issuer()));
    assert!(query.get("code").is_none());
}

#[tokio::test]
async fn authorize_api_with_post_client_auth() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let auth = op.authorize(&authorize_url(&op, &[]), "alice").unwrap();
    assert_eq!(auth.state, "state-123");
    assert_eq!(auth.iss.as_deref(), Some(op.issuer().as_str()));
    assert_eq!(
        query_of(&auth.redirect_to)["code"],
        Value::String(auth.code.clone())
    );
    assert!(op.authorize(&authorize_url(&op, &[]), "mallory").is_err());
    let response = http()
        .post(format!("{}/token", op.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", auth.code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "gateway"),
            ("client_secret", "gateway-secret-0123456789abcdef"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(op.counters().authorize, 2);
}

#[tokio::test]
async fn rotate_keys_changes_kid_and_serves_only_new_keys() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let before = op.jwks();
    let old_token = op.sign_id_token(&sample_claims(&op), &Behavior::default());
    verify(&op, &old_token).unwrap();
    let old_kid = split(&old_token).0["kid"].as_str().unwrap().to_owned();

    op.rotate_keys();
    let after = op.jwks();
    let kids = |doc: &Value| -> Vec<String> {
        doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(kids(&before).iter().all(|kid| !kids(&after).contains(kid)));
    assert_ne!(
        before["keys"][0]["n"], after["keys"][0]["n"],
        "new RSA key material"
    );

    let new_token = op.sign_id_token(&sample_claims(&op), &Behavior::default());
    let new_kid = split(&new_token).0["kid"].as_str().unwrap().to_owned();
    assert_ne!(old_kid, new_kid);
    verify(&op, &new_token).unwrap();
    assert!(
        verify(&op, &old_token).is_err(),
        "old kid no longer published"
    );

    // The token endpoint signs with the new key too.
    let body = token_response(&op, "alice").await;
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(split(id_token).0["kid"], Value::String(new_kid));
    verify(&op, id_token).unwrap();
}

#[tokio::test]
async fn every_algorithm_verifies_and_at_hash_follows_alg() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    for (alg, expected) in [
        (SigningAlg::RS256, "RS256"),
        (SigningAlg::PS256, "PS256"),
        (SigningAlg::ES256, "ES256"),
        (SigningAlg::EdDSA, "EdDSA"),
        (SigningAlg::HS256, "HS256"),
    ] {
        op.set_behavior(Behavior {
            alg: Some(alg),
            ..Default::default()
        });
        let body = token_response(&op, "alice").await;
        let id_token = body["id_token"].as_str().unwrap();
        let (header, claims, _) = split(id_token);
        assert_eq!(header["alg"], expected);
        verify(&op, id_token).unwrap_or_else(|e| panic!("{expected}: {e}"));
        let access_token = body["access_token"].as_str().unwrap().as_bytes();
        let at_hash = match alg {
            SigningAlg::EdDSA => URL_SAFE_NO_PAD.encode(&Sha512::digest(access_token)[..32]),
            _ => URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token)[..16]),
        };
        assert_eq!(claims["at_hash"], at_hash, "{expected}");
    }
}

#[tokio::test]
async fn alg_none_has_empty_signature() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    op.set_behavior(Behavior {
        alg: Some(SigningAlg::None),
        ..Default::default()
    });
    let body = token_response(&op, "alice").await;
    let id_token = body["id_token"].as_str().unwrap();
    assert!(id_token.ends_with('.'));
    let (header, claims, signature) = split(id_token);
    assert_eq!(header["alg"], "none");
    assert!(header.get("kid").is_none());
    assert!(signature.is_empty());
    assert_eq!(claims["sub"], "alice");
    assert!(verify(&op, id_token).is_err());
}

#[tokio::test]
async fn corrupt_signature_fails_verification() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    for alg in [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::HS256] {
        let good = op.sign_id_token(
            &sample_claims(&op),
            &Behavior {
                alg: Some(alg),
                ..Default::default()
            },
        );
        let bad = op.sign_id_token(
            &sample_claims(&op),
            &Behavior {
                alg: Some(alg),
                corrupt_signature: true,
                ..Default::default()
            },
        );
        verify(&op, &good).unwrap();
        let (good_sig, bad_sig) = (split(&good).2, split(&bad).2);
        let xored: Vec<u8> = URL_SAFE_NO_PAD
            .decode(&good_sig)
            .unwrap()
            .iter()
            .map(|b| b ^ 0x5A)
            .collect();
        if alg != SigningAlg::ES256 {
            // ECDSA signatures are randomised; RSA PKCS#1 and HMAC are not.
            assert_eq!(URL_SAFE_NO_PAD.decode(&bad_sig).unwrap(), xored);
        }
        let err = verify(&op, &bad).unwrap_err();
        assert!(
            matches!(err.kind(), idp_jose::errors::ErrorKind::InvalidSignature),
            "{alg:?}: {err:?}"
        );
    }
    // Through the token endpoint as well.
    op.set_behavior(Behavior {
        corrupt_signature: true,
        ..Default::default()
    });
    let body = token_response(&op, "alice").await;
    assert!(verify(&op, body["id_token"].as_str().unwrap()).is_err());
}

#[tokio::test]
async fn claims_patch_replaces_adds_and_null_removes() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    op.set_behavior(Behavior {
        claims_patch: patch(json!({"sub": null, "iat": null, "aud": "gateway1", "azp": "x"})),
        ..Default::default()
    });
    let body = token_response(&op, "alice").await;
    let (_, claims, _) = split(body["id_token"].as_str().unwrap());
    assert!(claims.get("sub").is_none());
    assert!(claims.get("iat").is_none());
    assert_eq!(claims["aud"], "gateway1");
    assert_eq!(claims["azp"], "x");
    assert_eq!(claims["nonce"], "nonce-456");
}

#[tokio::test]
async fn header_patch_and_omit_kid() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    let token = op.sign_id_token(
        &sample_claims(&op),
        &Behavior {
            header_patch: patch(json!({"typ": null, "crit": ["exp"], "jku": "http://evil/jwks"})),
            ..Default::default()
        },
    );
    let (header, _, _) = split(&token);
    assert!(header.get("typ").is_none());
    assert_eq!(header["crit"], json!(["exp"]));
    assert_eq!(header["jku"], "http://evil/jwks");
    assert!(header["kid"].is_string());

    let token = op.sign_id_token(
        &sample_claims(&op),
        &Behavior {
            omit_kid: true,
            ..Default::default()
        },
    );
    assert!(split(&token).0.get("kid").is_none());
    // Still a correct RS256 signature by the published key.
    let set: KeySet = serde_json::from_value(op.jwks()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["gateway"]);
    idp_jose::decode::<Value>(&token, set.keys()[0].key().unwrap(), &validation).unwrap();
}

#[tokio::test]
async fn discovery_issuer_token_error_and_userinfo_sub() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    op.set_behavior(Behavior {
        discovery_issuer: Some("https://example.com".into()),
        token_error: Some((503, "temporarily_unavailable".into())),
        userinfo_sub: Some("alicefoobar".into()),
        ..Default::default()
    });
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "https://example.com");

    let code = login_code(&op, "alice").await;
    let response = exchange(&op, &code, VERIFIER).await;
    assert_eq!(
        error_of(response).await,
        (503, "temporarily_unavailable".into())
    );

    op.set_behavior(Behavior {
        userinfo_sub: Some("alicefoobar".into()),
        ..Default::default()
    });
    let body = token_response(&op, "alice").await;
    let info: Value = http()
        .get(format!("{}/userinfo", op.base_url()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], "alicefoobar");
    assert_eq!(info["email"], "alice@example.test");
}

#[tokio::test]
async fn extra_knobs_jwks_and_authorize_iss() {
    let op = MockOp::spawn(MockOpConfig::default()).await;
    op.set_behavior(Behavior {
        jwks_omit_kid: true,
        jwks_extra_keys: vec![json!({"kty": "oct", "k": "AAAA"})],
        omit_authorize_iss: true,
        ..Default::default()
    });
    let jwks = op.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 5);
    assert!(keys.iter().all(|k| k.get("kid").is_none()));
    let auth = op.authorize(&authorize_url(&op, &[]), "alice").unwrap();
    assert_eq!(auth.iss, None);
    assert!(!query_of(&auth.redirect_to).contains_key("iss"));

    // Algorithm confusion: HS256 keyed with the RSA public key PEM.
    let pem = op.rsa_public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let token = op.sign_id_token(
        &sample_claims(&op),
        &Behavior {
            alg: Some(SigningAlg::HS256),
            hmac_key: Some(pem.clone().into_bytes()),
            ..Default::default()
        },
    );
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["gateway"]);
    idp_jose::decode::<Value>(&token, &PublicKey::from_secret(pem.as_bytes()), &validation)
        .unwrap();
    assert!(
        verify(&op, &token).is_err(),
        "not valid with the client secret"
    );
}
