//! The `typingdna` provider through the real route (`POST /v1/auth/{id}/exchange`), the
//! Appwrite emulator (users, account JWTs, tokens, sessions) and the TypingDNA emulator. Two
//! providers: `typing` (`step_up`, body `{"jwt","tp"}`) and `typelogin` (`login`, body
//! `{"email","tp"}`, its API secret and salt read from `_file` keys).
//!
//! Every refusal asserts its JSON error (`code` = status, the `type`), that no token was
//! minted, and that the trace-level logs hold no API secret, salt, pattern or JWT. That a
//! pattern is remembered per user, telling nothing about other emails, is in
//! `typingdna/replay.rs`; that no other answer of `login` mode tells either, in
//! `typingdna/login_mode.rs`.

mod login_mode;
mod replay;

use std::time::Duration;

use appwrite_emulator::{Emulator as Appwrite, EmulatorConfig, SeedUser};
use idp_provider_typingdna::user_handle;
use reqwest::StatusCode;
use serde_json::{Value, json};
use typingdna_emulator::{
    DOCUMENTED_ERRORS, Emulator as TypingDna, EmulatorConfig as TdnaConfig, Script, Verdict,
};

use crate::conformance::logs;
use crate::helpers::{Bare, BareGateway, create_session, exchange};
use idp_bridge::registry::Registry;

const SALT: &str = "typingdna-test-salt-0123456789abcdef";
const ALICE: &str = "alice@example.com";

struct Rig {
    url: String,
    appwrite: Appwrite,
    tdna: TypingDna,
    /// Every pattern and JWT sent, for the log check.
    sent: std::sync::Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
    _gateway: BareGateway,
}

/// The gateway with both providers; `extra` is added to both tables.
async fn spawn(extra: &str) -> Rig {
    let appwrite = Appwrite::spawn(EmulatorConfig::default()).await;
    let tdna = TypingDna::spawn(TdnaConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("typingdna-secret");
    let salt_file = dir.path().join("typingdna-salt");
    std::fs::write(&secret_file, format!("{}\n", tdna.api_secret())).expect("write");
    std::fs::write(&salt_file, SALT).expect("write");
    let providers = format!(
        r#"
[providers.typing]
type = "typingdna"
mode = "step_up"
api_url = "{tdna_url}"
api_key = "{tdna_key}"
api_secret = "{tdna_secret}"
id_salt = "{SALT}"
timeout_ms = 300
{extra}
[providers.typelogin]
type = "typingdna"
mode = "login"
api_url = "{tdna_url}"
api_key = "{tdna_key}"
api_secret_file = "{secret_file}"
id_salt_file = "{salt_file}"
timeout_ms = 300
{extra}
"#,
        tdna_url = tdna.url(),
        tdna_key = tdna.api_key(),
        tdna_secret = tdna.api_secret(),
        secret_file = secret_file.display(),
        salt_file = salt_file.display(),
    );
    logs();
    let gateway = BareGateway::spawn(
        &appwrite,
        Bare {
            server_extra: "",
            rate_limit_per_minute: 0,
            providers: &providers,
            registry: Registry::default(),
        },
    )
    .await;
    appwrite.seed_user(SeedUser {
        id: "alice".into(),
        email: Some(ALICE.into()),
        name: "Alice".into(),
        email_verification: true,
        ..SeedUser::default()
    });
    appwrite.seed_user(SeedUser {
        id: "bob".into(),
        email: Some("bob@example.com".into()),
        email_verification: true,
        ..SeedUser::default()
    });
    Rig {
        url: gateway.url.clone(),
        appwrite,
        tdna,
        sent: std::sync::Mutex::new(Vec::new()),
        _dir: dir,
        _gateway: gateway,
    }
}

impl Rig {
    /// The id TypingDNA knows Appwrite user `id` by.
    fn handle(&self, id: &str) -> String {
        user_handle(SALT, id)
    }

    /// A fresh desktop pattern (each is accepted once), long enough to grep for in the logs.
    fn pattern(&self) -> String {
        let mut sent = self.sent.lock().expect("lock");
        let tp = format!(
            "0,3.2,0,0,6,2092090166,0,-1,-1,0|1968,98|61,49|{},{}",
            sent.len(),
            1000 + sent.len()
        );
        sent.push(tp.clone());
        tp
    }

    /// An Appwrite account JWT for `user` (server API `POST /users/{id}/jwts`).
    async fn jwt(&self, user: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/users/{user}/jwts", self.appwrite.endpoint()))
            .header("X-Appwrite-Project", self.appwrite.project())
            .header("X-Appwrite-Key", self.appwrite.api_key())
            .json(&json!({"duration": 60}))
            .send()
            .await
            .expect("jwt");
        let body: Value = response.json().await.expect("json");
        let jwt = body["jwt"].as_str().expect("jwt").to_owned();
        self.sent.lock().expect("lock").push(jwt.clone());
        jwt
    }

    async fn post(&self, provider: &str, body: Value) -> (StatusCode, Value) {
        exchange(&self.url, provider, body.to_string().as_bytes(), &[]).await
    }

    async fn step_up(&self, jwt: &str, tp: &str) -> (StatusCode, Value) {
        self.post("typing", json!({"jwt": jwt, "tp": tp})).await
    }

    async fn login(&self, email: &str, tp: &str) -> (StatusCode, Value) {
        self.post("typelogin", json!({"email": email, "tp": tp}))
            .await
    }

    /// Alice, enrolled, steps up once with a fresh pattern: her JWT, and the pattern now used.
    async fn alice_stepped_up(&self) -> (String, String) {
        self.tdna.enroll(&self.handle("alice"), 3);
        let jwt = self.jwt("alice").await;
        let tp = self.pattern();
        let (status, body) = self.step_up(&jwt, &tp).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (jwt, tp)
    }

    /// Calls to the endpoints that judge a pattern: `/auto` (step_up) and `/verify` (login).
    fn typing_calls(&self) -> usize {
        self.tdna.judging_calls()
    }

    /// The answer is the JSON error `kind` with `code`, and nothing was minted.
    #[track_caller]
    fn assert_refused(&self, (status, body): &(StatusCode, Value), code: u16, kind: &str) {
        assert_eq!(status.as_u16(), code, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["type"], kind, "{body}");
        assert!(body.get("secret").is_none(), "{body}");
        assert!(
            self.appwrite.tokens().is_empty(),
            "a refusal minted a token"
        );
    }

    /// No API secret, salt, pattern, JWT or Appwrite key in the trace-level logs.
    #[track_caller]
    fn assert_logs_clean(&self) {
        let sent = self.sent.lock().expect("lock").clone();
        let mut secrets = vec![
            ("TypingDNA API secret", self.tdna.api_secret()),
            ("id salt", SALT),
            ("Appwrite API key", self.appwrite.api_key()),
        ];
        secrets.extend(sent.iter().map(|s| ("pattern or JWT", s.as_str())));
        logs().assert_clean(&secrets);
    }

    /// `account.createSession` with the answer's secret works once.
    async fn assert_token_works_once(&self, body: &Value, user: &str) {
        assert_eq!(body["userId"], user, "{body}");
        assert!(body["expire"].is_string(), "{body}");
        let secret = body["secret"].as_str().expect("secret");
        let (status, _) = create_session(&self.appwrite, user, secret).await;
        assert_eq!(status, StatusCode::CREATED, "the token makes a session");
        let (status, _) = create_session(&self.appwrite, user, secret).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "but only once");
        let mut secrets = vec![("minted secret", secret)];
        let sent = self.sent.lock().expect("lock").clone();
        secrets.extend(sent.iter().map(|s| ("pattern or JWT", s.as_str())));
        secrets.push(("TypingDNA API secret", self.tdna.api_secret()));
        logs().assert_clean(&secrets);
    }
}

#[tokio::test]
async fn step_up_enrolls_three_patterns_then_mints_a_token_that_works_once() {
    let rig = spawn("").await;
    let jwt = rig.jwt("alice").await;
    for _ in 0..3 {
        let answer = rig.step_up(&jwt, &rig.pattern()).await;
        rig.assert_refused(&answer, 403, "typingdna_enrolling");
    }
    assert_eq!(rig.tdna.stored(&rig.handle("alice")), (3, 0));
    let (status, body) = rig.step_up(&jwt, &rig.pattern()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(rig.appwrite.tokens().len(), 1);
    assert_eq!(rig.appwrite.users_count(), 2, "no user was created");
    let last = rig.tdna.calls().pop().expect("a call");
    assert_eq!(last.path, format!("/auto/{}", rig.handle("alice")));
    assert!(last.authorized);
    rig.assert_token_works_once(&body, "alice").await;
}

#[tokio::test]
async fn login_mints_for_an_enrolled_user_by_email() {
    let rig = spawn("").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    let (status, body) = rig.login("Alice@Example.com", &rig.pattern()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let call = rig.tdna.calls().pop().expect("a call");
    assert!(call.authorized, "the API secret came from api_secret_file");
    rig.assert_token_works_once(&body, "alice").await;
}

#[tokio::test]
async fn no_match_and_low_confidence_mint_nothing() {
    let rig = spawn("").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    let jwt = rig.jwt("alice").await;
    rig.tdna.push(Script::Verdict(Verdict::NoMatch));
    rig.assert_refused(
        &rig.step_up(&jwt, &rig.pattern()).await,
        401,
        "typingdna_no_match",
    );
    // login requires high confidence by default.
    rig.tdna.push(Script::Verdict(Verdict::LowConfidence));
    rig.assert_refused(
        &rig.login(ALICE, &rig.pattern()).await,
        401,
        "typingdna_no_match",
    );
    rig.tdna.push(Script::Verdict(Verdict::NoMatch));
    rig.assert_refused(
        &rig.login(ALICE, &rig.pattern()).await,
        401,
        "typingdna_no_match",
    );
    assert_eq!(rig.typing_calls(), 3);
    rig.assert_logs_clean();
}

#[tokio::test]
async fn an_unknown_email_gets_exactly_the_no_match_answer_and_typingdna_is_not_called() {
    let rig = spawn("").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    rig.tdna.set_verdict(Verdict::NoMatch);
    let known = rig.login(ALICE, &rig.pattern()).await;
    let unknown = rig.login("nobody@example.com", &rig.pattern()).await;
    rig.assert_refused(&unknown, 401, "typingdna_no_match");
    assert_eq!(known, unknown, "same status, type, code and message");
    assert_eq!(
        rig.typing_calls(),
        1,
        "only the known email reached TypingDNA"
    );
    rig.assert_logs_clean();
}

#[tokio::test]
async fn login_mode_never_enrolls_a_profile() {
    let rig = spawn("").await;
    // Bob never enrolled: a stranger typing his email cannot start his profile, and Alice's
    // desktop profile gains nothing from a stranger's patterns either.
    let answer = rig.login("bob@example.com", &rig.pattern()).await;
    rig.assert_refused(&answer, 401, "typingdna_no_match");
    assert_eq!(rig.tdna.stored(&rig.handle("bob")), (0, 0));
    rig.tdna.enroll(&rig.handle("alice"), 3);
    rig.tdna.set_verdict(Verdict::NoMatch);
    let answer = rig.login(ALICE, &rig.pattern()).await;
    rig.assert_refused(&answer, 401, "typingdna_no_match");
    assert_eq!(rig.tdna.stored(&rig.handle("alice")), (3, 0));
    let calls = rig.tdna.calls();
    assert!(
        calls.iter().all(|c| c.path.starts_with("/verify/")),
        "login mode only ever calls /verify, which stores nothing: {calls:?}"
    );
    rig.assert_logs_clean();
}

/// A used pattern is refused before TypingDNA, also in another spelling of the same numbers
/// (`3.2` and `3.20`, `61` and `061`: what TypingDNA reads is the same pattern).
#[tokio::test]
async fn a_reused_pattern_is_refused_before_typingdna() {
    let rig = spawn("").await;
    let (jwt, tp) = rig.alice_stepped_up().await;
    let minted = rig.appwrite.tokens().len();
    let respelled = tp.replace(",3.2,", ",3.20,").replace("|61,", "|061,");
    assert_ne!(respelled, tp);
    rig.sent.lock().expect("lock").push(respelled.clone());
    for tp in [&tp, &respelled] {
        let (status, body) = rig.step_up(&jwt, tp).await;
        assert_eq!(
            (status.as_u16(), body["type"].as_str()),
            (401, Some("typingdna_pattern_reused")),
            "{tp}"
        );
        // A pattern is used once across the gateway: the login provider refuses it too, and
        // in login mode a reused pattern reads like a failed match (it must not tell an
        // account from none).
        let (status, body) = rig.login(ALICE, tp).await;
        assert_eq!(
            (status.as_u16(), body["type"].as_str()),
            (401, Some("typingdna_no_match")),
            "{tp}"
        );
    }
    assert_eq!(rig.appwrite.tokens().len(), minted);
    assert_eq!(rig.typing_calls(), 1);
    rig.assert_logs_clean();
}

#[tokio::test]
async fn a_forged_or_expired_appwrite_jwt_never_reaches_typingdna() {
    let rig = spawn("").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    let jwt = rig.jwt("alice").await;
    let (head, _) = jwt.rsplit_once('.').expect("jwt");
    let forged = format!("{head}.Zm9yZ2VkLXNpZ25hdHVyZS12YWx1ZQ");
    rig.sent.lock().expect("lock").push(forged.clone());
    rig.assert_refused(
        &rig.step_up(&forged, &rig.pattern()).await,
        401,
        "appwrite_jwt_invalid",
    );
    rig.appwrite.advance_clock(Duration::from_secs(3600));
    rig.assert_refused(
        &rig.step_up(&jwt, &rig.pattern()).await,
        401,
        "appwrite_jwt_invalid",
    );
    assert!(rig.tdna.calls().is_empty(), "TypingDNA was never called");
    rig.assert_logs_clean();
}

#[tokio::test]
async fn typingdna_down_slow_throttled_or_failing_fails_closed() {
    let rig = spawn("per_user_per_minute = 1000").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    let jwt = rig.jwt("alice").await;
    rig.tdna.push(Script::Delay(Duration::from_secs(2)));
    rig.assert_refused(
        &rig.step_up(&jwt, &rig.pattern()).await,
        503,
        "typingdna_unavailable",
    );
    rig.tdna.push(Script::Error(429));
    rig.assert_refused(
        &rig.step_up(&jwt, &rig.pattern()).await,
        429,
        "typingdna_rate_limited",
    );
    rig.tdna.push(Script::Raw(502));
    rig.assert_refused(
        &rig.step_up(&jwt, &rig.pattern()).await,
        503,
        "typingdna_unavailable",
    );
    for error in DOCUMENTED_ERRORS {
        rig.tdna.push(Script::Error(error.status));
        let (code, kind) = match error.status {
            429 | 452 => (429, "typingdna_rate_limited"),
            400 | 445 | 447 | 448 | 449 | 450 | 453 | 458 | 459 => {
                (400, "typingdna_pattern_invalid")
            }
            456 | 461 | 462 => (503, "typingdna_quota_exceeded"),
            401 | 403 | 404 | 405 | 444 => (500, "provider_misconfigured"),
            _ => (503, "typingdna_unavailable"),
        };
        let answer = rig.step_up(&jwt, &rig.pattern()).await;
        rig.assert_refused(&answer, code, kind);
    }
    rig.tdna.stop();
    rig.assert_refused(
        &rig.step_up(&jwt, &rig.pattern()).await,
        503,
        "typingdna_unavailable",
    );
    rig.assert_logs_clean();
}

#[tokio::test]
async fn attempts_over_the_per_user_limit_are_refused_without_typingdna() {
    let rig = spawn("per_user_per_minute = 2").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    rig.tdna.set_verdict(Verdict::NoMatch);
    for _ in 0..2 {
        rig.assert_refused(
            &rig.login(ALICE, &rig.pattern()).await,
            401,
            "typingdna_no_match",
        );
    }
    let answer = rig.login(ALICE, &rig.pattern()).await;
    rig.assert_refused(&answer, 429, "typingdna_too_many_attempts");
    assert_eq!(rig.typing_calls(), 2);
    rig.assert_logs_clean();
}

#[tokio::test]
async fn a_body_without_a_pattern_is_a_400_naming_nothing_secret() {
    let rig = spawn("").await;
    let jwt = rig.jwt("alice").await;
    let (status, body) = rig.post("typing", json!({"jwt": jwt})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!body.to_string().contains(&jwt), "{body}");
    assert!(rig.appwrite.tokens().is_empty() && rig.tdna.calls().is_empty());
    rig.assert_logs_clean();
}
