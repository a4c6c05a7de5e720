//! The real binary, run with a config file shaped like config.example.toml at the most verbose log level,
//! logs a user in through the real provider, and its logs hold none of the secrets it handled.

use appwrite_emulator::{Emulator, EmulatorConfig};
use reqwest::StatusCode;

use crate::helpers::{
    FAILURE, Options, SUCCESS, Served, TestApp, assert_no_jwt_in, assert_no_secret_in, browser,
    config_toml, location, param,
};
use crate::idp::{CLIENT_SECRET, NodeIdp, follow_until, free_port};

#[tokio::test]
async fn serve_logs_a_user_in_and_no_secret_reaches_the_logs() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let idp = NodeIdp::spawn(
        &[format!("{gateway}/v1/auth/corp/callback")],
        "client_secret_basic",
    )
    .await;
    let options = Options::default();
    let served = Served::start(
        port,
        &config_toml(&gateway, &idp.issuer, &emulator, &options),
    )
    .await;
    let client = browser();

    // The whole login, as a browser does it.
    let start = format!(
        "{gateway}/v1/auth/corp/start?success={SUCCESS}&failure={FAILURE}&login_hint=alice"
    );
    let to_idp = location(&client.get(&start).send().await.expect("start"));
    let state = param(&to_idp, "state").expect("state");
    let nonce = param(&to_idp, "nonce").expect("nonce");
    let callback = follow_until(&client, to_idp, &format!("{gateway}/v1/auth/corp/callback")).await;
    let code = param(&callback, "code").expect("code");
    let landed = location(
        &client
            .get(callback.as_str())
            .send()
            .await
            .expect("callback"),
    );
    let user_id = param(&landed, "userId").unwrap_or_else(|| panic!("no userId in {landed}"));
    let secret = param(&landed, "secret").expect("secret");
    // A failing request too, so error paths are logged.
    let bad = client
        .get(format!(
            "{gateway}/v1/auth/corp/callback?state=forged&code={code}"
        ))
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let (status, _) = crate::helpers::create_session(&emulator, &user_id, &secret).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the minted secret makes a session"
    );

    let logs = served.stop().await;

    assert!(logs.lines().count() > 20, "trace logging was on:\n{logs}");
    assert!(logs.contains("login succeeded"), "{logs}");
    let success_line = logs
        .lines()
        .find(|l| l.contains("login succeeded"))
        .expect("line");
    assert!(
        success_line.contains("request_id"),
        "request id on the line: {success_line}"
    );
    // Every value is long enough to grep for; a short one fails here instead of being skipped.
    assert_no_secret_in(
        &logs,
        &[
            ("API key", emulator.api_key()),
            ("id key", options.id_key.as_str()),
            ("client secret", CLIENT_SECRET),
            ("authorization code", code.as_str()),
            ("minted secret", secret.as_str()),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
        ],
    );
    assert_no_jwt_in(&logs);
}

#[tokio::test]
async fn in_process_logins_render_no_secret_in_error_types() {
    // The failure JSON the app receives names the reason, never a detail that could hold a secret.
    let app = TestApp::spawn().await;
    let landed = app.login("deny").await;
    let error = param(&landed, "error").expect("error");
    assert!(!error.contains(CLIENT_SECRET) && !error.contains(app.emulator.api_key()));
}
