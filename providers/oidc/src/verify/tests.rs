//! Unit tests of the ID-token checks that need no provider (the rest run against mock-op in
//! `tests/oidc`).

use super::*;
use base64::Engine as _;

fn token(payload: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(payload))
}

/// Found by the `id_token` fuzz target: openidconnect panicked on an HMAC signature of the
/// wrong length. It must be an ordinary rejection.
#[test]
fn a_short_hmac_signature_is_rejected_not_a_panic() {
    let raw = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL29wLmV4YW1wbGUuY29tIiwiYXVkIjoiaWRwLWJyaWRnZSIsInN1YiI6InItMSIsImV4cCI6NDA2MCwiaWF0IjoxNX0.b8c";
    let expected = Expectations {
        issuer: openidconnect::IssuerUrl::new("https://op.example.com".into()).expect("issuer"),
        client_id: ClientId::new("idp-bridge".into()),
        client_secret: Secret::new("0123456789abcdef0123456789abcdef".into()),
        allowed_algs: vec![CoreJwsSigningAlgorithm::HmacSha256],
        trusted_audiences: vec![],
        leeway: Duration::from_secs(30),
        max_age: Duration::from_secs(600),
        accepted_issuers: None,
    };
    let result = verify_id_token(
        raw,
        &KeySet::new(vec![]),
        &expected,
        &Secret::new("n".into()),
        None,
        DateTime::<Utc>::from_timestamp(100, 0).expect("time"),
    );
    match result {
        Err(VerifyError::Rejected(ProviderError::Rejected(r))) => {
            assert_eq!(r.reason, "id_token_signature_invalid");
        }
        other => panic!("expected a signature rejection, got {other:?}"),
    }
}

#[test]
fn only_the_boolean_true_counts_as_verified() {
    assert!(email_verified_is_true(&token(r#"{"email_verified":true}"#)));
    for payload in [
        r#"{"email_verified":"true"}"#,
        r#"{"email_verified":false}"#,
        r#"{"email_verified":1}"#,
        r#"{}"#,
        r#"{"email_verified":true,"email_verified":true}"#,
        r#"{"email_verified":[true]}"#,
        "[true]",
        " \n[true]",
        "not json",
    ] {
        assert!(!email_verified_is_true(&token(payload)), "{payload}");
    }
    assert!(!email_verified_is_true("garbage"));
}

/// 64 bytes (an ES256 signature) in canonical base64url: 86 characters, the last with 4 spare
/// bits.
fn es256_signature() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 64])
}

/// An ES256 token with `signature` as its third segment.
fn es256_token(signature: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"alg":"ES256"}"#);
    format!("{header}.{}.{signature}", b64.encode(r#"{"sub":"a"}"#))
}

/// A signature has one spelling: the spare low bits of its last base64url character are zero.
/// openidconnect's own decoder ignores them, so the check is ours.
#[test]
fn a_signature_with_spare_bits_set_is_malformed() {
    let token = es256_token(&es256_signature());
    assert!(check_header(&token).is_ok());
    let others = mock_op::spellings::spare_bit_spellings(&token);
    assert_eq!(others.len(), 15);
    for other in others {
        match check_header(&other) {
            Err(VerifyError::Rejected(ProviderError::Rejected(r))) => {
                assert_eq!(r.reason, "id_token_malformed", "{other}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The refusal of a signature that is not canonical base64url says which of the three rules it
/// breaks (and where), so that whoever built the token can fix it.
#[test]
fn a_malformed_signature_says_what_is_wrong_with_it() {
    let signature = es256_signature();
    let head = &signature[..signature.len() - 1];
    for (bad, why) in [
        (format!("{signature}=="), "padding"),
        (
            format!("{head}+"),
            "outside the base64url alphabet at position 86",
        ),
        (
            format!("ab/{}", &signature[3..]),
            "outside the base64url alphabet at position 3",
        ),
        (format!("{head}x"), "non-zero spare bits"),
    ] {
        match check_header(&es256_token(&bad)) {
            Err(VerifyError::Rejected(ProviderError::Rejected(r))) => {
                assert_eq!(r.reason, "id_token_malformed", "{bad}");
                assert!(r.detail.contains(why), "{why}: {}", r.detail);
                let rules = ["padding", "alphabet", "spare bits"].iter();
                let named = rules.filter(|rule| r.detail.contains(*rule)).count();
                assert_eq!(named, 1, "names one rule: {}", r.detail);
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}
