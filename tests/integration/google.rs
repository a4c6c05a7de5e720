//! Google (`type = "google"`) against mock-op: the `hosted_domains` allow-list on the signed
//! token's `hd`, and the issuer compared exactly.

use mock_op::{Behavior, MockOp};
use serde_json::{Value, json};

use crate::helpers::{
    Options, SUCCESS, TestApp, assert_refused, mock_config, param, without_query,
};
use crate::idp::{CLIENT_ID, CLIENT_SECRET};

async fn setup() -> (TestApp, MockOp) {
    let google = MockOp::spawn(mock_config()).await;
    let extra_toml = format!(
        r#"
[providers.google]
type = "google"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
hosted_domains = ["example.test"]
"#,
        issuer = google.issuer()
    );
    let app = TestApp::spawn_with(Options {
        extra_toml,
        ..Options::mock()
    })
    .await;
    (app, google)
}

fn claims(google: &MockOp, patch: Value) {
    let Value::Object(claims_patch) = patch else {
        panic!("claims must be an object");
    };
    google.set_behavior(Behavior {
        claims_patch,
        ..Behavior::default()
    });
}

#[tokio::test]
async fn a_listed_hosted_domain_logs_in() {
    let (app, google) = setup().await;
    claims(&google, json!({"hd": "example.test"}));
    let landed = app.login_via_mock("google", &google, "alice").await;
    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    assert_eq!(
        param(&landed, "userId"),
        Some(
            app.id_key
                .user_id(&google.issuer(), "alice")
                .as_str()
                .to_string()
        )
    );
}

#[tokio::test]
async fn other_or_missing_hosted_domains_and_other_issuers_are_refused() {
    let (app, google) = setup().await;
    let scheme_less = google.issuer().replace("http://", "");
    let cases = [
        (
            json!({"hd": "other.test"}),
            "access_denied",
            403,
            Some("hosted_domains"),
        ),
        (
            json!({"hd": null}),
            "access_denied",
            403,
            Some("hosted_domains"),
        ),
        (
            json!({"hd": ["example.test"]}),
            "access_denied",
            403,
            Some("hosted_domains"),
        ),
        // Google's legacy scheme-less spelling (see providers/google): refused, fail closed.
        (
            json!({"hd": "example.test", "iss": scheme_less}),
            "id_token_malformed",
            401,
            None,
        ),
        (
            json!({"hd": "example.test", "iss": format!("{}/", google.issuer())}),
            "id_token_issuer_mismatch",
            401,
            None,
        ),
    ];
    for (patch, kind, code, rule) in cases {
        claims(&google, patch);
        app.emulator.clear_calls();
        let landed = app.login_via_mock("google", &google, "alice").await;
        assert_refused(&app, &landed, kind, code, rule);
    }
}
