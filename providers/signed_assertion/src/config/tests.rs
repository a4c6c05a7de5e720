//! Unit tests of the signed-assertion provider's configuration: formats, secrets, keys and
//! algorithms.

use super::*;
use idp_provider_api::OutboundTls;

fn context() -> OpenContext {
    OpenContext::new(OutboundTls::new(None).expect("tls"))
        .with_public_url(Some(Url::parse("https://gw.example.com").expect("url")))
}

fn problems(v: serde_json::Value) -> Vec<String> {
    let config: Config = match serde_json::from_value(v) {
        Ok(c) => c,
        Err(e) => return vec![e.to_string()],
    };
    match config.check("backend", &context()) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn a_minimal_hmac_table_passes_and_defaults_the_audience() {
    let config: Config = serde_json::from_value(serde_json::json!({
        "format": "hmac", "hmac_secrets": [SECRET],
    }))
    .expect("parses");
    let checked = config.check("backend", &context()).expect("valid");
    assert_eq!(
        checked.audiences,
        vec!["https://gw.example.com/", "https://gw.example.com"]
    );
    assert_eq!(checked.max_age, Duration::from_secs(300));
}

#[test]
fn hmac_secrets_may_be_one_per_line_as_a_file_gives_them() {
    let config: Config = serde_json::from_value(serde_json::json!({
        "format": "hmac", "hmac_secrets": format!("{SECRET}\r\n\n{SECRET}x\n"),
    }))
    .expect("parses");
    match config.check("backend", &context()).expect("valid").format {
        CheckedFormat::Hmac { secrets } => assert_eq!(secrets.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn short_hmac_secrets_are_refused_without_printing_them() {
    let p = problems(serde_json::json!({"format": "hmac", "hmac_secrets": ["short-secret"]}));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("providers.backend.hmac_secrets: secret #1 is 12 bytes"));
    assert!(!p[0].contains("short-secret"));
}

#[test]
fn format_is_required_and_keys_of_the_other_format_are_refused() {
    assert_eq!(
        problems(serde_json::json!({})),
        vec!["providers.backend.format: is required: \"jwt\" or \"hmac\""]
    );
    let p = problems(serde_json::json!({
        "format": "hmac", "hmac_secrets": [SECRET], "issuer": "x",
    }));
    assert_eq!(
        p,
        vec!["providers.backend.issuer: belongs to format = \"jwt\", not \"hmac\""]
    );
}

#[test]
fn none_and_hmac_algorithms_are_refused_at_config_time() {
    for alg in ["none", "None", "HS256", "hs256", "ES512", "es256"] {
        let p = problems(serde_json::json!({
            "format": "jwt", "issuer": "https://backend.example.com",
            "jwks_url": "https://backend.example.com/jwks", "allowed_algs": ["ES256", alg],
        }));
        assert_eq!(p.len(), 1, "{alg}: {p:?}");
        assert!(
            p[0].starts_with("providers.backend.allowed_algs: "),
            "{p:?}"
        );
    }
}

#[test]
fn jwt_needs_an_issuer_and_exactly_one_key_source() {
    let p = problems(serde_json::json!({"format": "jwt"}));
    assert!(
        p.iter()
            .any(|m| m.starts_with("providers.backend.issuer: is required"))
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("providers.backend.public_keys: format"))
    );
    let p = problems(serde_json::json!({
        "format": "jwt", "issuer": "i", "public_keys": [], "jwks_url": "https://k.example/",
    }));
    assert!(p[0].contains("not both"), "{p:?}");
}

#[test]
fn jwks_url_follows_the_https_or_loopback_rule() {
    let p = problems(serde_json::json!({
        "format": "jwt", "issuer": "i", "jwks_url": "http://keys.example.com/jwks",
    }));
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("providers.backend.jwks_url: "), "{p:?}");
    assert!(
        problems(serde_json::json!({
            "format": "jwt", "issuer": "i", "jwks_url": "http://127.0.0.1:9/jwks",
        }))
        .is_empty()
    );
}

#[test]
fn unknown_keys_and_bad_ranges_name_the_key() {
    let p = problems(serde_json::json!({"format": "hmac", "hmac_secret": [SECRET]}));
    assert!(p[0].contains("unknown field `hmac_secret`"), "{p:?}");
    let p = problems(serde_json::json!({
        "format": "hmac", "hmac_secrets": [SECRET], "max_age_seconds": 0,
    }));
    assert_eq!(
        p,
        vec!["providers.backend.max_age_seconds: 0 is outside 1..=3600"]
    );
}
