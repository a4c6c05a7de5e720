//! Unit tests of the logout token's parts: `typ`, `events`, `nonce`, the payload's shape and
//! the logout keys.

use super::*;

#[test]
fn typ_is_jwt_or_logout_jwt_in_any_case() {
    for typ in [
        "JWT",
        "jwt",
        "logout+jwt",
        "application/logout+jwt",
        "Logout+JWT",
    ] {
        assert!(logout_typ(typ), "{typ}");
    }
    for typ in ["at+jwt", "JOSE", "", "application/", "secevent+jwt"] {
        assert!(!logout_typ(typ), "{typ}");
    }
}

#[test]
fn only_an_object_holding_the_event_object_is_a_logout() {
    let with = |events: Value| {
        let payload: Payload =
            serde_json::from_value(serde_json::json!({ "events": events })).expect("payload");
        check_event(&payload).is_ok()
    };
    assert!(with(serde_json::json!({ LOGOUT_EVENT: {} })));
    assert!(with(serde_json::json!({ LOGOUT_EVENT: {}, "other": 1 })));
    assert!(!with(serde_json::json!({ LOGOUT_EVENT: true })));
    assert!(!with(serde_json::json!([LOGOUT_EVENT])));
    assert!(!with(serde_json::json!({ "http://example.com/other": {} })));
    assert!(!with(Value::Null));
}

#[test]
fn a_nonce_is_present_even_when_null() {
    let payload: Payload =
        serde_json::from_value(serde_json::json!({ "nonce": null })).expect("payload");
    assert!(payload.nonce);
    let payload: Payload = serde_json::from_value(serde_json::json!({})).expect("payload");
    assert!(!payload.nonce);
}

#[test]
fn the_keys_are_checked_and_the_replay_window_fits_the_cache() {
    let problems = |patch: Value| {
        let mut table = serde_json::json!({
            "issuer": "https://op.example.com/", "client_id": "gw", "client_secret": "s",
        });
        for (key, value) in patch.as_object().cloned().unwrap_or_default() {
            table[key] = value;
        }
        let config: Config = serde_json::from_value(table).expect("config");
        config_problems(&config, "corp")
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert!(problems(serde_json::json!({"backchannel_logout": true})).is_empty());
    assert_eq!(
        problems(serde_json::json!({"backchannel_logout_sid_seconds": 60})),
        ["providers.corp.backchannel_logout_sid_seconds: 60 is outside 300..=31536000"]
    );
    // A day of token age and a minute of leeway would outlive the replay cache's day...
    let long = serde_json::json!({"max_token_age_seconds": 86_400, "leeway_seconds": 60});
    assert!(problems(long.clone()).is_empty(), "only with logout tokens");
    let mut with_logout = long;
    with_logout["backchannel_logout"] = true.into();
    let found = problems(with_logout);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("providers.corp.max_token_age_seconds: with backchannel_logout"),
        "{found:?}"
    );
}

#[test]
fn a_repeated_claim_or_an_array_is_no_payload() {
    assert!(object::<Payload>(br#"{"jti":"a","jti":"b"}"#).is_none());
    assert!(object::<Payload>(br#"["x"]"#).is_none());
    assert!(object::<Payload>(br#" {"jti":"a"}"#).is_some());
}
