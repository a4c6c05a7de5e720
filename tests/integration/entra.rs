//! Microsoft Entra ID (`type = "entra"`, `tenant = "organizations"`) against mock-op scripted
//! like Entra's multi-tenant endpoint: discovery under `/organizations/v2.0` announcing the
//! literal `{tenantid}` issuer, tokens whose `iss` carries their own `tid`. Users are keyed on
//! the tenant and `oid`; a tenant outside `allowed_tenants`, or a `tid` that does not give the
//! token's `iss`, is refused before any Appwrite call.

use mock_op::{Behavior, MockOp, MockOpConfig};
use serde_json::{Value, json};

use crate::helpers::{
    Options, SUCCESS, TestApp, assert_refused, mock_config, param, without_query,
};
use crate::idp::{CLIENT_ID, CLIENT_SECRET};

const TENANT: &str = "3f1e0a2b-4c5d-4e6f-8a9b-0c1d2e3f4a5b";
const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";

struct Setup {
    app: TestApp,
    entra: MockOp,
}

async fn setup() -> Setup {
    setup_with("").await
}

/// [`setup`] with more lines in the `ms` table.
async fn setup_with(ms_lines: &str) -> Setup {
    let entra = MockOp::spawn(MockOpConfig {
        issuer_suffix: "/organizations/v2.0".into(),
        ..mock_config()
    })
    .await;
    // Entra's discovery document from the start: the gateway loads it at startup.
    entra.set_behavior(entra_behavior(&entra, json!({})));
    let extra_toml = format!(
        r#"
[providers.ms]
type = "entra"
tenant = "organizations"
allowed_tenants = ["{TENANT}"]
authority = "{authority}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
{ms_lines}
"#,
        authority = entra.base_url()
    );
    let app = TestApp::spawn_with(Options {
        extra_toml,
        ..Options::mock()
    })
    .await;
    Setup { app, entra }
}

/// Entra's behaviour, with the ID token's claims patched by `claims`.
fn entra_behavior(entra: &MockOp, claims: Value) -> Behavior {
    let Value::Object(claims_patch) = claims else {
        panic!("claims must be an object");
    };
    let Value::Object(discovery_patch) =
        json!({"authorization_response_iss_parameter_supported": null})
    else {
        unreachable!()
    };
    Behavior {
        discovery_issuer: Some(format!("{}/{{tenantid}}/v2.0", entra.base_url())),
        discovery_patch,
        omit_authorize_iss: true,
        claims_patch,
        ..Behavior::default()
    }
}

/// The issuer of `tenant` at the mock authority.
fn tenant_issuer(entra: &MockOp, tenant: &str) -> String {
    format!("{}/{tenant}/v2.0", entra.base_url())
}

#[tokio::test]
async fn an_allowed_tenant_logs_in_keyed_on_tid_and_oid() {
    let Setup { app, entra } = setup().await;
    let issuer = tenant_issuer(&entra, TENANT);
    entra.set_behavior(entra_behavior(
        &entra,
        json!({"iss": issuer, "tid": TENANT, "oid": OID}),
    ));
    let landed = app.login_via_mock("ms", &entra, "alice").await;
    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    let user_id = param(&landed, "userId").expect("userId");
    assert_eq!(
        user_id,
        app.id_key.user_id(&issuer, OID).as_str().to_string()
    );

    // Another `sub` (subjects are pairwise per application) with the same tid + oid is the
    // same user.
    let again = app.login_via_mock("ms", &entra, "bob").await;
    assert_eq!(param(&again, "userId").as_deref(), Some(user_id.as_str()));
    assert_eq!(app.emulator.users_count(), 1);
}

#[tokio::test]
async fn tenants_outside_the_allow_list_and_mismatched_tids_are_refused() {
    let Setup { app, entra } = setup().await;
    let cases = [
        // A genuine token of another tenant.
        (
            json!({"iss": tenant_issuer(&entra, OTHER_TENANT), "tid": OTHER_TENANT, "oid": OID}),
            "access_denied",
            403,
            Some("allowed_tenants"),
        ),
        // An allowed tid whose substitution does not give the token's iss.
        (
            json!({"iss": tenant_issuer(&entra, OTHER_TENANT), "tid": TENANT, "oid": OID}),
            "id_token_issuer_mismatch",
            401,
            None,
        ),
        // The literal template is nobody's issuer.
        (
            json!({"iss": format!("{}/{{tenantid}}/v2.0", entra.base_url()), "tid": TENANT, "oid": OID}),
            "id_token_issuer_mismatch",
            401,
            None,
        ),
        (
            json!({"iss": tenant_issuer(&entra, TENANT), "tid": null, "oid": OID}),
            "id_token_tenant_invalid",
            401,
            None,
        ),
        (
            json!({"iss": tenant_issuer(&entra, TENANT), "tid": TENANT}),
            "id_token_oid_missing",
            401,
            None,
        ),
    ];
    for (claims, kind, code, rule) in cases {
        entra.set_behavior(entra_behavior(&entra, claims.clone()));
        app.emulator.clear_calls();
        let landed = app.login_via_mock("ms", &entra, "alice").await;
        assert_refused(&app, &landed, kind, code, rule);
    }
}

#[tokio::test]
async fn an_entra_email_counts_as_verified_only_with_xms_edov() {
    // Entra's `email` is whatever an administrator of the user's tenant typed; Microsoft vouches
    // only that the tenant owns its domain, and only in `xms_edov`. An `email_verified` in the
    // token says nothing. What counts as verified is seen through `require_email_verified`.
    let Setup { app, entra } = setup_with("require_email_verified = true").await;
    let issuer = tenant_issuer(&entra, TENANT);
    let cases = [
        // `email_verified: true`, no `xms_edov`: not verified.
        (OID, json!({"email_verified": true}), false),
        (
            "00000000-0000-0000-66f3-3332eca7ea82",
            json!({"email_verified": true, "xms_edov": false}),
            false,
        ),
        // A string is not the boolean.
        (
            "00000000-0000-0000-66f3-3332eca7ea83",
            json!({"xms_edov": "true"}),
            false,
        ),
        // The tenant owns the domain: the address is the user's, as verified as Entra makes it.
        (
            "00000000-0000-0000-66f3-3332eca7ea84",
            json!({"email_verified": null, "xms_edov": true}),
            true,
        ),
    ];
    for (oid, patch, verified) in cases {
        let mut claims = json!({
            "iss": issuer, "tid": TENANT, "oid": oid, "email": "dana@contoso.test",
        });
        for (key, value) in patch.as_object().expect("object") {
            claims[key] = value.clone();
        }
        entra.set_behavior(entra_behavior(&entra, claims));
        app.emulator.clear_calls();
        let landed = app.login_via_mock("ms", &entra, "alice").await;
        if !verified {
            let rule = Some("require_email_verified");
            assert_refused(&app, &landed, "access_denied", 403, rule);
            continue;
        }
        assert_eq!(without_query(&landed), SUCCESS, "{patch}: {landed}");
        let user_id = param(&landed, "userId").expect("userId");
        // Admitted, but never written: an entra provider is never trusted for email.
        assert_eq!(
            app.emulator.user(&user_id).expect("created")["email"],
            "",
            "{patch}"
        );
    }
}
