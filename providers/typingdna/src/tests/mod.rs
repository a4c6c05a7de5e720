//! The provider against the TypingDNA emulator, with in-memory stand-ins for the services the
//! gateway lends (the real route is tested in the gateway's integration tests).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use http::HeaderMap;
use idp_provider_api::testing::MemoryReplay as Replay;
use idp_provider_api::{
    AccountDirectory, AccountUser, AssertionInput, OpenContext, OutboundTls, ProviderError,
    ProviderInfo, Secret, ServiceError,
};
use serde_json::{Value, json};
use typingdna_emulator::{DOCUMENTED_ERRORS, Emulator, EmulatorConfig, Script, Verdict};

use super::*;

mod login;

const SALT: &str = "a-test-salt-of-32-bytes-0123456";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1c2VyMSJ9.c2lnbmF0dXJl";
const ALICE: &str = "alice@example.com";
const DESKTOP: &str = "0,3.2,0,0,6,2092090166,0,-1|1968,98|61,49";
const MOBILE: &str = "1,3.2,0,0,6,2092090166,0,-1|1968,98|61,49";

/// A distinct desktop pattern (the replay cache refuses a repeat).
fn tp(n: usize) -> String {
    format!("{DESKTOP}|{n},{n}")
}

struct Directory {
    by_jwt: HashMap<String, AccountUser>,
    by_email: HashMap<String, AccountUser>,
}

#[async_trait]
impl AccountDirectory for Directory {
    async fn user_for_jwt(
        &self,
        jwt: &Secret<String>,
    ) -> Result<Option<AccountUser>, ServiceError> {
        Ok(self.by_jwt.get(jwt.expose()).cloned())
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<AccountUser>, ServiceError> {
        Ok(self.by_email.get(email).cloned())
    }
}

fn user1() -> AccountUser {
    AccountUser {
        id: "user1".into(),
        email: ALICE.into(),
        email_verified: true,
        name: "Alice".into(),
        active: true,
    }
}

struct Rig {
    tdna: Emulator,
    provider: Arc<TypingDnaProvider>,
    replay: Replay,
    directory: Directory,
    headers: HeaderMap,
}

impl Rig {
    async fn new(mode: &str, extra: Value) -> Self {
        let tdna = Emulator::spawn(EmulatorConfig::default()).await;
        let mut config = json!({
            "mode": mode,
            "api_url": tdna.url(),
            "api_key": tdna.api_key(),
            "api_secret": tdna.api_secret(),
            "id_salt": SALT,
            "timeout_ms": 500,
        });
        for (k, v) in extra.as_object().expect("object") {
            config[k] = v.clone();
        }
        let info = ProviderInfo {
            id: "td".into(),
            kind: KIND,
            display_name: "Typing".into(),
        };
        let context = OpenContext::new(OutboundTls::new(None).expect("tls"));
        let provider = open_typingdna(info, config, &context).expect("valid config");
        let user = user1();
        Self {
            tdna,
            provider,
            replay: Replay::default(),
            directory: Directory {
                by_jwt: HashMap::from([(JWT.to_string(), user.clone())]),
                by_email: HashMap::from([(ALICE.to_string(), user)]),
            },
            headers: HeaderMap::new(),
        }
    }

    fn handle(&self) -> String {
        user_handle(SALT, "user1")
    }

    async fn send(&self, body: Value) -> Result<Identity, ProviderError> {
        let body = body.to_string();
        self.provider
            .exchange(AssertionInput {
                body: body.as_bytes(),
                headers: &self.headers,
                client_ip: Some("203.0.113.7".parse().expect("ip")),
                replay: &self.replay,
                directory: &self.directory,
            })
            .await
    }

    async fn step_up(&self, tp: &str) -> Result<Identity, ProviderError> {
        self.send(json!({"jwt": JWT, "tp": tp})).await
    }

    async fn login(&self, email: &str, tp: &str) -> Result<Identity, ProviderError> {
        self.send(json!({"email": email, "tp": tp})).await
    }

    /// Calls to the endpoints that judge a pattern: `/auto` (step_up) and `/verify` (login).
    fn typing_calls(&self) -> usize {
        self.tdna.judging_calls()
    }
}

/// The refusal's public type and status; panics on anything else.
#[track_caller]
fn refusal(result: Result<Identity, ProviderError>) -> (&'static str, u16) {
    match result {
        Err(ProviderError::Rejected(r)) => (r.reason, r.status),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_typingdna_id_is_hex_hmac_sha256_of_the_user_id() {
    // RFC 4231, test case 2.
    assert_eq!(
        user_handle("Jefe", "what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[tokio::test]
async fn step_up_enrolls_three_patterns_then_verifies_the_jwt_user() {
    let rig = Rig::new("step_up", json!({})).await;
    for n in 0..3 {
        assert_eq!(refusal(rig.step_up(&tp(n)).await), (reason::ENROLLING, 403));
    }
    let identity = rig.step_up(&tp(3)).await.expect("verified");
    assert_eq!(identity.existing_user_id(), Some("user1"));
    assert_eq!(identity.verified_email(), Some(ALICE));
    assert!(identity.auth_time().is_some());
    let calls = rig.tdna.calls();
    assert_eq!(calls.len(), 4);
    let last = &calls[3];
    assert_eq!(last.path, format!("/auto/{}", rig.handle()));
    assert!(last.authorized, "HTTP Basic api_key:api_secret");
    assert_eq!(last.field("tp"), Some(tp(3).as_str()));
    assert!(
        last.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    );
}

#[tokio::test]
async fn a_jwt_appwrite_refuses_never_reaches_typingdna() {
    let rig = Rig::new("step_up", json!({})).await;
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ4In0.Zm9yZ2Vk";
    let result = rig.send(json!({"jwt": forged, "tp": tp(0)})).await;
    assert_eq!(refusal(result), (reason::JWT_INVALID, 401));
    assert!(rig.tdna.calls().is_empty());
}

#[tokio::test]
async fn no_match_and_low_confidence_follow_require_high_confidence() {
    let rig = Rig::new("step_up", json!({})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    rig.tdna.push(Script::Verdict(Verdict::NoMatch));
    assert_eq!(refusal(rig.step_up(&tp(1)).await), (reason::NO_MATCH, 401));
    rig.tdna.push(Script::Verdict(Verdict::LowConfidence));
    rig.step_up(&tp(2))
        .await
        .expect("step_up does not require high confidence by default");

    let strict = Rig::new("step_up", json!({"require_high_confidence": true})).await;
    strict.tdna.enroll(&strict.handle(), 3);
    strict.tdna.push(Script::Verdict(Verdict::LowConfidence));
    assert_eq!(
        refusal(strict.step_up(&tp(1)).await),
        (reason::NO_MATCH, 401)
    );

    let login = Rig::new("login", json!({})).await;
    login.tdna.enroll(&login.handle(), 3);
    login.tdna.push(Script::Verdict(Verdict::LowConfidence));
    assert_eq!(
        refusal(login.login(ALICE, &tp(1)).await),
        (reason::NO_MATCH, 401)
    );
    let identity = login.login(ALICE, &tp(2)).await.expect("a confident match");
    assert_eq!(identity.existing_user_id(), Some("user1"));
}

#[tokio::test]
async fn a_pattern_is_accepted_once_and_a_repeat_never_reaches_typingdna() {
    let rig = Rig::new("step_up", json!({})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    rig.step_up(&tp(1)).await.expect("first use");
    assert_eq!(
        refusal(rig.step_up(&tp(1)).await),
        (reason::PATTERN_REUSED, 401)
    );
    // Hidden inside a multi-pattern request too.
    let mixed = format!("{};{}", tp(2), tp(1));
    assert_eq!(
        refusal(rig.step_up(&mixed).await),
        (reason::PATTERN_REUSED, 401)
    );
    assert_eq!(rig.typing_calls(), 1);
}

#[tokio::test]
async fn every_documented_typingdna_error_fails_closed_with_its_own_type() {
    let rig = Rig::new(
        "step_up",
        json!({"per_user_per_minute": 1000, "per_ip_per_minute": 1000}),
    )
    .await;
    rig.tdna.enroll(&rig.handle(), 3);
    for (n, error) in DOCUMENTED_ERRORS.iter().enumerate() {
        rig.tdna.push(Script::Error(error.status));
        let result = rig.step_up(&tp(n)).await;
        let expected = match error.status {
            429 | 452 => Some((api::reason::RATE_LIMITED, 429)),
            400 | 445 | 447 | 448 | 449 | 450 | 453 | 458 | 459 => {
                Some((api::reason::PATTERN_INVALID, 400))
            }
            456 | 461 | 462 => Some((api::reason::QUOTA_EXCEEDED, 503)),
            401 | 403 | 404 | 405 | 444 => None,
            _ => Some((api::reason::UNAVAILABLE, 503)),
        };
        match expected {
            Some(expected) => assert_eq!(refusal(result), expected, "status {}", error.status),
            None => assert!(
                matches!(result, Err(ProviderError::Misconfigured(ref d)) if d.contains(&error.message_code.to_string())),
                "status {}: {result:?}",
                error.status
            ),
        }
    }
    assert_eq!(rig.typing_calls(), DOCUMENTED_ERRORS.len());
}

/// On the paused clock: the 2 s delay and the 200 ms timeout run in the clock's time, and the
/// request's own timer is the first to fire.
#[tokio::test(start_paused = true)]
async fn slow_down_or_garbled_typingdna_is_unavailable() {
    let rig = Rig::new("step_up", json!({"timeout_ms": 200})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    rig.tdna.push(Script::Delay(Duration::from_secs(2)));
    // It gave up at timeout_ms: the refusal says so (rather than how long it took).
    match rig.step_up(&tp(1)).await {
        Err(ProviderError::Rejected(r)) => {
            assert_eq!((r.reason, r.status), (api::reason::UNAVAILABLE, 503));
            assert!(
                r.detail.contains("no answer within 200 ms (timeout_ms)"),
                "{}",
                r.detail
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    rig.tdna.push(Script::Raw(502));
    assert_eq!(
        refusal(rig.step_up(&tp(2)).await),
        (api::reason::UNAVAILABLE, 503)
    );
    rig.tdna.stop();
    assert_eq!(
        refusal(rig.step_up(&tp(3)).await),
        (api::reason::UNAVAILABLE, 503)
    );
}

#[tokio::test]
async fn wrong_credentials_are_a_misconfiguration() {
    let rig = Rig::new("step_up", json!({"api_secret": "not-the-secret"})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    let result = rig.step_up(&tp(1)).await;
    assert!(
        matches!(result, Err(ProviderError::Misconfigured(_))),
        "{result:?}"
    );
    assert!(!rig.tdna.calls()[0].authorized);
}

#[tokio::test]
async fn attempts_are_limited_per_user_and_per_ip_before_typingdna() {
    let rig = Rig::new("login", json!({"per_user_per_minute": 2})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    rig.tdna.set_verdict(Verdict::NoMatch);
    for n in 0..2 {
        assert_eq!(
            refusal(rig.login(ALICE, &tp(n)).await),
            (reason::NO_MATCH, 401)
        );
    }
    assert_eq!(
        refusal(rig.login(ALICE, &tp(2)).await),
        (reason::TOO_MANY_ATTEMPTS, 429)
    );
    // An unknown email is counted the same way: the limit does not tell emails apart.
    for n in 3..5 {
        refusal(rig.login("ghost@example.com", &tp(n)).await);
    }
    assert_eq!(
        refusal(rig.login("ghost@example.com", &tp(5)).await),
        (reason::TOO_MANY_ATTEMPTS, 429)
    );
    assert_eq!(rig.typing_calls(), 2);

    let per_ip = Rig::new("step_up", json!({"per_ip_per_minute": 1})).await;
    per_ip.tdna.enroll(&per_ip.handle(), 3);
    per_ip.step_up(&tp(1)).await.expect("first");
    assert_eq!(
        refusal(per_ip.step_up(&tp(2)).await),
        (reason::TOO_MANY_ATTEMPTS, 429)
    );
    assert_eq!(per_ip.typing_calls(), 1);
}

#[tokio::test]
async fn a_bad_body_names_its_field_and_reaches_nobody() {
    let rig = Rig::new("login", json!({"max_pattern_bytes": 256})).await;
    let result = rig.login(ALICE, &"1".repeat(300)).await;
    assert!(
        matches!(
            result,
            Err(ProviderError::InvalidRequest { param: "tp", .. })
        ),
        "{result:?}"
    );
    let result = rig.send(json!({"jwt": JWT, "tp": tp(1)})).await;
    assert!(
        matches!(
            result,
            Err(ProviderError::InvalidRequest { param: "body", .. })
        ),
        "login mode takes no jwt: {result:?}"
    );
    assert!(rig.tdna.calls().is_empty());
}

#[tokio::test]
async fn debug_output_holds_no_secret() {
    let rig = Rig::new("step_up", json!({})).await;
    let text = format!("{:?}", rig.provider.api);
    assert!(!text.contains(rig.tdna.api_secret()), "{text}");
}
