//! Audit events through the real binary: every login, exchange and refusal of a run leaves
//! exactly one event (target `audit`, in the JSON log and in `[audit] file`), each valid
//! against the published schema (docs/reference/audit-event.schema.json), the policy rule
//! named on `access_denied`, and no secret, code, state, JWT or email in any of them.
//! Requests that are no decision (a start that goes on to the provider, an unknown provider)
//! leave none. An audit file that cannot be written changes no decision; the loss is counted.

use std::path::Path;

use appwrite_emulator::{Emulator, EmulatorConfig, Fault, FaultScope, SeedUser};
use idp_bridge::login::mapping::IdKey;
use mock_op::{Behavior, MockOp, MockOpConfig, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{
    FAILURE, Options, SUCCESS, Served, assert_no_jwt_in, assert_no_secret_in, browser, config_toml,
    location, mock_config, param,
};
use crate::idp::{CLIENT_SECRET, free_port};
use crate::signed_assertion::{HOOK_SECRET, hmac_signature, now};

mod hangup;
mod trail;

pub use trail::{AuditSchema, audit_events, by_request, logged_events};

/// A browser request with its own request id.
async fn get(client: &reqwest::Client, url: &str, id: &str) -> reqwest::Response {
    client
        .get(url)
        .header("X-Request-Id", id)
        .send()
        .await
        .expect("request")
}

/// `POST …/exchange` with a request id and, for the hmac format, its signature.
async fn exchange(gateway: &str, provider: &str, body: &Value, id: &str) -> (u16, Value) {
    let body = body.to_string();
    let signature = hmac_signature(HOOK_SECRET, now(), body.as_bytes());
    let response = reqwest::Client::new()
        .post(format!("{gateway}/v1/auth/{provider}/exchange"))
        .header("Content-Type", "application/json")
        .header("X-Request-Id", id)
        .header("X-Bridge-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("exchange");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// One redirect login at `provider` for `sub` on mock-op: the start and callback requests carry
/// `{id}-start` and `{id}`. Returns where the gateway sends the browser, and the callback URL.
async fn login(gateway: &str, op: &MockOp, sub: &str, id: &str) -> (Url, Url) {
    let client = browser();
    let start = start_url(gateway, "corp");
    let to_idp = location(&get(&client, start.as_str(), &format!("{id}-start")).await);
    let authorization = op.authorize(to_idp.as_str(), sub).expect("authorize");
    let callback = Url::parse(&authorization.redirect_to).expect("callback");
    let landed = location(&get(&client, callback.as_str(), id).await);
    (landed, callback)
}

fn start_url(gateway: &str, provider: &str) -> Url {
    let mut url = Url::parse(&format!("{gateway}/v1/auth/{provider}/start")).expect("url");
    url.query_pairs_mut()
        .append_pair("success", SUCCESS)
        .append_pair("failure", FAILURE);
    url
}

/// The run's gateway: `corp` (oidc at mock-op, verified emails required, linking by email on),
/// `corp2` (another redirect provider) and `hook` (signed_assertion hmac, addresses at
/// example.org only), auditing to `file`.
fn config(
    gateway: &str,
    op: &MockOp,
    emulator: &Emulator,
    options: &Options,
    file: &Path,
) -> String {
    let text = config_toml(gateway, &op.issuer(), emulator, options);
    format!("{text}\n[audit]\nfile = \"{}\"\n", file.display())
}

fn audit_options() -> Options {
    Options {
        provider_extra:
            "require_email_verified = true\ntrusted_for_email = true\nlink_by_email = true".into(),
        extra_toml: format!(
            "[providers.hook]\ntype = \"signed_assertion\"\nformat = \"hmac\"\n\
             hmac_secrets = [\"{HOOK_SECRET}\"]\nemail_domains = [\"example.org\"]\n\
             [providers.corp2]\ntype = \"oidc\"\nissuer = \"http://127.0.0.1:9/\"\n\
             client_id = \"other\"\nclient_secret = \"{CLIENT_SECRET}\"\nallow_insecure_http = true\n"
        ),
        ..Options::mock()
    }
}

#[tokio::test]
async fn every_decision_leaves_exactly_one_audit_event_and_none_holds_a_secret() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let op = MockOp::spawn(MockOpConfig {
        users: vec![
            User::new("alice", "alice@example.test", true, "Alice"),
            User::new("bob", "bob@example.test", false, "Bob"),
            User::new("carol", "carol@example.test", true, "Carol"),
            User::new("dave", "dave@example.test", true, "Dave"),
            User::new("erin", "erin@example.test", true, "Erin"),
        ],
        ..mock_config()
    })
    .await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.jsonl");
    let options = audit_options();
    let key = IdKey::parse(&options.id_key).expect("id key");
    // carol's verified address belongs to an Appwrite user already: her login links to it.
    emulator.seed_user(SeedUser {
        id: "carol-app-user".into(),
        email: Some("carol@example.test".into()),
        email_verification: true,
        ..SeedUser::default()
    });
    // dave's user exists (made by the gateway) and is blocked.
    let dave = key.user_id(&op.issuer(), "dave");
    emulator.seed_user(SeedUser {
        id: dave.as_str().into(),
        status: false,
        labels: vec![idp_bridge::login::mapping::OWNER_LABEL.into()],
        ..SeedUser::default()
    });
    // Someone else made a user (with a password) under erin's derived id.
    emulator.seed_user(SeedUser {
        id: key.user_id(&op.issuer(), "erin").as_str().into(),
        password: Some("squatter-password".into()),
        ..SeedUser::default()
    });
    let served = Served::start(port, &config(&gateway, &op, &emulator, &options, &file)).await;

    // (request id, expected error type, or "" for a success; None: no event at all).
    let mut expected: Vec<(&str, Option<&str>)> = Vec::new();
    let mut secrets: Vec<String> = Vec::new();

    // Logins: created, found again, linked by email.
    let (first, first_callback) = login(&gateway, &op, "alice", "alice-1").await;
    let alice = param(&first, "userId").expect("userId");
    let (again, _) = login(&gateway, &op, "alice", "alice-2").await;
    let (linked, _) = login(&gateway, &op, "carol", "carol-1").await;
    assert_eq!(param(&linked, "userId").as_deref(), Some("carol-app-user"));
    secrets.extend(["code", "state"].map(|p| param(&first_callback, p).expect("param")));
    for landed in [&first, &again, &linked] {
        secrets.push(param(landed, "secret").expect("secret"));
    }
    expected.extend([
        ("alice-1-start", None),
        ("alice-1", Some("")),
        ("alice-2-start", None),
        ("alice-2", Some("")),
        ("carol-1-start", None),
        ("carol-1", Some("")),
    ]);

    // Refused at the callback: by policy, a blocked user, a bad signature.
    let (bob, _) = login(&gateway, &op, "bob", "bob-1").await;
    assert!(bob.as_str().starts_with(FAILURE), "{bob}");
    let (blocked, _) = login(&gateway, &op, "dave", "dave-1").await;
    assert!(blocked.as_str().starts_with(FAILURE), "{blocked}");
    op.set_behavior(Behavior {
        corrupt_signature: true,
        ..Behavior::default()
    });
    let (forged, _) = login(&gateway, &op, "alice", "alice-forged").await;
    assert!(forged.as_str().starts_with(FAILURE), "{forged}");
    op.set_behavior(Behavior::default());
    let (squatted, _) = login(&gateway, &op, "erin", "erin-1").await;
    assert!(squatted.as_str().starts_with(FAILURE), "{squatted}");
    emulator.inject(
        Fault::Status(503),
        FaultScope::Route {
            method: "GET",
            path_prefix: "/users/".into(),
            times: None,
        },
    );
    let (outage, _) = login(&gateway, &op, "alice", "alice-outage").await;
    assert!(outage.as_str().starts_with(FAILURE), "{outage}");
    emulator.clear_faults();
    expected.extend([
        ("erin-1-start", None),
        ("erin-1", Some("user_id_conflict")),
        ("alice-outage-start", None),
        ("alice-outage", Some("appwrite_unavailable")),
        ("bob-1-start", None),
        ("bob-1", Some("access_denied")),
        ("dave-1-start", None),
        ("dave-1", Some("user_blocked")),
        ("alice-forged-start", None),
        ("alice-forged", Some("id_token_signature_invalid")),
    ]);

    // Plain pages: a replay, a forged or missing state, another browser, the provider's own
    // refusal; and an unknown provider, which is no decision.
    let client = browser();
    let replay = get(&client, first_callback.as_str(), "replay").await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let callback = format!("{gateway}/v1/auth/corp/callback");
    get(
        &client,
        &format!("{callback}?state=forged-state-0123456789&code=x"),
        "forged",
    )
    .await;
    get(&client, &format!("{callback}?code=x"), "stateless").await;
    let to_idp = location(
        &get(
            &client,
            start_url(&gateway, "corp").as_str(),
            "denied-start",
        )
        .await,
    );
    let state = param(&to_idp, "state").expect("state");
    let denied = get(
        &client,
        &format!("{callback}?state={state}&error=access_denied"),
        "denied",
    )
    .await;
    assert!(location(&denied).as_str().starts_with(FAILURE));
    let to_idp = location(
        &get(
            &client,
            start_url(&gateway, "corp").as_str(),
            "unbound-start",
        )
        .await,
    );
    let state = param(&to_idp, "state").expect("state");
    secrets.push(state.clone());
    get(
        &browser(),
        &format!("{callback}?state={state}&code=x"),
        "unbound",
    )
    .await;
    // A login started at corp comes back at corp2.
    let to_idp = location(&get(&client, start_url(&gateway, "corp").as_str(), "mixup-start").await);
    let state = param(&to_idp, "state").expect("state");
    let other = format!("{gateway}/v1/auth/corp2/callback?state={state}&code=x");
    assert!(
        location(&get(&client, &other, "mixup").await)
            .as_str()
            .starts_with(FAILURE)
    );
    get(
        &client,
        &format!("{gateway}/v1/auth/nope/callback?state=x"),
        "nope-callback",
    )
    .await;
    get(&client, start_url(&gateway, "nope").as_str(), "nope-start").await;
    expected.extend([
        ("replay", Some("login_transaction_unknown")),
        ("forged", Some("login_transaction_unknown")),
        ("stateless", Some("login_state_missing")),
        ("denied-start", None),
        ("denied", Some("provider_access_denied")),
        ("unbound-start", None),
        ("unbound", Some("login_binding_invalid")),
        ("mixup-start", None),
        ("mixup", Some("login_provider_mismatch")),
        ("nope-callback", None),
        ("nope-start", None),
    ]);

    // Refused at start: an URL off the allow-list, an over-long state, a provider without a
    // browser login.
    let mut off_list = start_url(&gateway, "corp");
    off_list.set_query(Some(
        "success=https://evil.example/&failure=https://evil.example/",
    ));
    get(&client, off_list.as_str(), "start-url").await;
    let mut long_state = start_url(&gateway, "corp");
    long_state
        .query_pairs_mut()
        .append_pair("state", &"s".repeat(600));
    get(&client, long_state.as_str(), "start-state").await;
    get(&client, start_url(&gateway, "hook").as_str(), "start-hook").await;
    expected.extend([
        ("start-url", Some("redirect_url_invalid")),
        ("start-state", Some("start_request_invalid")),
        ("start-hook", Some("provider_flow_unsupported")),
    ]);

    // Exchanges: a success, its replay, a policy refusal, a bad body, a redirect-only
    // provider, and an unknown one.
    let ok = json!({"sub": "hook-erin", "jti": "audit-ok-0001", "email": "erin@example.org", "email_verified": true});
    let (status, answer) = exchange(&gateway, "hook", &ok, "hook-ok").await;
    assert_eq!(status, 200, "{answer}");
    secrets.push(answer["secret"].as_str().expect("secret").to_string());
    let hook_user = answer["userId"].as_str().expect("userId").to_string();
    exchange(&gateway, "hook", &ok, "hook-replay").await;
    let outside = json!({"sub": "hook-finn", "jti": "audit-out-0001", "email": "finn@example.net", "email_verified": true});
    let (status, _) = exchange(&gateway, "hook", &outside, "hook-outside").await;
    assert_eq!(status, 403);
    exchange(&gateway, "hook", &json!([1]), "hook-bad").await;
    exchange(&gateway, "corp", &ok, "corp-exchange").await;
    exchange(&gateway, "nope", &ok, "nope-exchange").await;
    expected.extend([
        ("hook-ok", Some("")),
        ("hook-replay", Some("assertion_replayed")),
        ("hook-outside", Some("access_denied")),
        ("hook-bad", Some("exchange_request_invalid")),
        ("corp-exchange", Some("provider_flow_unsupported")),
        ("nope-exchange", None),
    ]);

    served.signal("TERM");
    let (_, logs) = served.wait_exit(std::time::Duration::from_secs(20)).await;
    let text = std::fs::read_to_string(&file).expect("the audit file");
    let events = audit_events(&logs, &text);
    let requests = by_request(&events);

    // Exactly one event per decision, none for the rest, and no event of another request.
    for (id, kind) in &expected {
        let found = requests.get(*id).map_or(0, Vec::len);
        let wanted = usize::from(kind.is_some());
        assert_eq!(
            found, wanted,
            "{id}: {found} audit events, not {wanted}:\n{text}"
        );
        let Some(kind) = kind else { continue };
        let event = &requests[*id][0];
        match *kind {
            "" => assert_eq!(event["outcome"], "success", "{id}: {event}"),
            kind => {
                assert_eq!(event["outcome"], "failure", "{id}: {event}");
                assert_eq!(event["error_type"], kind, "{id}: {event}");
            }
        }
    }
    assert_eq!(
        events.len(),
        expected.iter().filter(|(_, k)| k.is_some()).count()
    );

    // What each event knows.
    let one = |id: &str| requests[id][0].clone();
    let first = one("alice-1");
    assert_eq!(
        (
            &first["event"],
            &first["provider"],
            &first["subject"],
            &first["issuer"]
        ),
        (
            &json!("login"),
            &json!("corp"),
            &json!("alice"),
            &json!(op.issuer())
        )
    );
    assert_eq!(first["user_id"], alice.as_str());
    assert_eq!(
        (&first["created_user"], &first["linked_user"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(first["client_ip"], "127.0.0.1");
    assert_eq!(one("alice-2")["created_user"], false);
    let carol = one("carol-1");
    assert_eq!(
        (&carol["user_id"], &carol["linked_user"]),
        (&json!("carol-app-user"), &json!(true))
    );
    let bob = one("bob-1");
    assert_eq!(
        (&bob["rule"], &bob["subject"]),
        (&json!("require_email_verified"), &json!("bob"))
    );
    assert!(
        bob.get("user_id").is_none(),
        "refused before any user: {bob}"
    );
    assert_eq!(one("dave-1")["user_id"], dave.as_str());
    assert_eq!(one("hook-outside")["rule"], "email_domains");
    let hook = one("hook-ok");
    assert_eq!(
        (&hook["event"], &hook["user_id"]),
        (&json!("exchange"), &json!(hook_user))
    );
    assert!(one("stateless").get("subject").is_none());

    // No secret, code, state, JWT or email anywhere in the audit trail.
    let audit_lines: String = logs
        .lines()
        .filter(|l| l.contains("\"target\":\"audit\""))
        .chain(text.lines())
        .collect::<Vec<_>>()
        .join("\n");
    let mut named: Vec<(&str, &str)> = vec![
        ("API key", emulator.api_key()),
        ("id key", options.id_key.as_str()),
        ("client secret", CLIENT_SECRET),
        ("hmac secret", HOOK_SECRET),
    ];
    named.extend(
        secrets
            .iter()
            .map(|s| ("code, state or minted secret", s.as_str())),
    );
    assert_no_secret_in(&audit_lines, &named);
    assert_no_jwt_in(&audit_lines);
    assert!(
        !audit_lines.contains('@'),
        "an email in the audit trail:\n{audit_lines}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the audit file is the gateway's alone");
    }
}

#[tokio::test]
async fn an_audit_file_that_cannot_be_written_changes_no_decision_and_is_counted() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let op = MockOp::spawn(mock_config()).await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    // Every write to /dev/full fails with "no space left on device".
    let options = audit_options();
    let served = Served::start(
        port,
        &config(&gateway, &op, &emulator, &options, Path::new("/dev/full")),
    )
    .await;
    let ok = json!({"sub": "hook-gil", "jti": "full-ok-0001", "email": "gil@example.org", "email_verified": true});
    let (status, answer) = exchange(&gateway, "hook", &ok, "full-1").await;
    assert_eq!(status, 200, "the exchange is decided as usual: {answer}");
    let logs = served.wait_for_log("cannot write the audit file", 1).await;
    assert!(
        logs.contains("\"target\":\"audit\""),
        "the event is in the log"
    );
    let failures = "idp_bridge_audit_file_failures_total{cause=\"write\"}";
    let metrics = reqwest::get(format!("{gateway}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let count = metrics
        .lines()
        .find_map(|line| line.strip_prefix(failures))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert_eq!(count, Some(1.0), "{metrics}");
    served.stop().await;
}
