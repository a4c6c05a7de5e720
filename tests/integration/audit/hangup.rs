//! A client that hangs up mid-decision: the callback, the exchange and a back-channel logout
//! still run to their end and leave exactly one audit event each (Appwrite slowed by the
//! emulator's latency fault, the client giving up long before it answers).

use std::time::Duration;

use appwrite_emulator::{Emulator, EmulatorConfig, Fault, FaultScope};
use mock_op::{Behavior, MockOp};
use serde_json::{Value, json};
use url::Url;

use super::{audit_events, audit_options, by_request, config, start_url};
use crate::helpers::{Served, browser, location, mock_config};
use crate::idp::free_port;
use crate::signed_assertion::{HOOK_SECRET, hmac_signature, now};

/// How long the client waits before it hangs up: far less than the slowed Appwrite calls.
const CLIENT_PATIENCE: Duration = Duration::from_millis(300);
/// How long each Appwrite call is held: several of them make a decision last seconds.
const APPWRITE_LATENCY: Duration = Duration::from_millis(700);

/// The audit events of the run once `ids` each have one (or the gateway's budget is over).
async fn events_of(served: &Served, file: &std::path::Path, ids: &[&str]) -> Vec<Value> {
    // Well past the gateway's own 25 s budget for a decision.
    for _ in 0..300 {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if ids.iter().all(|id| text.contains(&format!("\"{id}\""))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(file).unwrap_or_default();
    audit_events(&served.logs(), &text)
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_decision_still_leaves_one_audit_event() {
    let emulator = Emulator::spawn(EmulatorConfig::default()).await;
    let op = MockOp::spawn(mock_config()).await;
    let port = free_port();
    let gateway = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.jsonl");
    let mut options = audit_options();
    options
        .provider_extra
        .push_str("\nbackchannel_logout = true");
    let served = Served::start(port, &config(&gateway, &op, &emulator, &options, &file)).await;

    // A login up to the provider's answer, before Appwrite is slowed.
    let client = browser();
    let to_idp = location(
        &client
            .get(start_url(&gateway, "corp").as_str())
            .send()
            .await
            .expect("start"),
    );
    let authorization = op.authorize(to_idp.as_str(), "alice").expect("authorize");
    let callback = Url::parse(&authorization.redirect_to).expect("callback");

    emulator.inject(Fault::Latency(APPWRITE_LATENCY), FaultScope::Always);
    let hung_up = client
        .get(callback.as_str())
        .header("X-Request-Id", "hangup-callback")
        .timeout(CLIENT_PATIENCE)
        .send()
        .await;
    assert!(
        hung_up.is_err(),
        "the callback answered before the client gave up"
    );

    let body = json!({"sub": "hook-hal", "jti": "hangup-0001", "email": "hal@example.org", "email_verified": true})
        .to_string();
    let hung_up = reqwest::Client::new()
        .post(format!("{gateway}/v1/auth/hook/exchange"))
        .header("Content-Type", "application/json")
        .header("X-Request-Id", "hangup-exchange")
        .header(
            "X-Bridge-Signature",
            hmac_signature(HOOK_SECRET, now(), body.as_bytes()),
        )
        .body(body)
        .timeout(CLIENT_PATIENCE)
        .send()
        .await;
    assert!(
        hung_up.is_err(),
        "the exchange answered before the client gave up"
    );

    let token = crate::backchannel::signed_by(&op, json!({}), &Behavior::default());
    let hung_up = reqwest::Client::new()
        .post(format!("{gateway}/v1/auth/corp/backchannel-logout"))
        .header("X-Request-Id", "hangup-logout")
        .form(&[("logout_token", token)])
        .timeout(CLIENT_PATIENCE)
        .send()
        .await;
    assert!(
        hung_up.is_err(),
        "the logout answered before the client gave up"
    );

    let ids = ["hangup-callback", "hangup-exchange", "hangup-logout"];
    let events = by_request(&events_of(&served, &file, &ids).await);
    for id in ids {
        let of_request = events.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            of_request.len(),
            1,
            "{id}: a decision whose client hung up left {} audit events: {of_request:?}",
            of_request.len()
        );
        assert_eq!(
            of_request[0]["outcome"], "success",
            "{id}: {}",
            of_request[0]
        );
    }
    emulator.clear_faults();
    served.stop().await;
}
