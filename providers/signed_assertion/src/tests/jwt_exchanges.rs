//! JWT assertions: every algorithm logs a user in once; time, audience, issuer and required
//! claims are enforced; forged signatures, unlisted algorithms, bad bodies and bad keys are
//! refused, and a refused assertion does not use up its `jti`.

use super::*;

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
    let stranger = rcgen_key(&rcgen::PKCS_ECDSA_P256_SHA256, idp_jose::Algorithm::ES256);
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
        let token = idp_jose::encode(&Header::new(idp_jose::Algorithm::HS256), &claims("c"), &key)
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
    let mut header = Header::new(idp_jose::Algorithm::ES256);
    header.extras.insert("crit", json!(["exp"]));
    let crit = idp_jose::encode(&header, &claims("f"), &key).expect("sign");
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
