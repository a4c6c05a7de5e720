//! HMAC-signed bodies: a user logs in once, each refusal has its reason, and every listed
//! secret is accepted while the secrets rotate.

use super::*;

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
