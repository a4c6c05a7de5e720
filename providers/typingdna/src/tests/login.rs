//! `login` mode: by email, `/verify` only, and an answer that tells nothing about whether the
//! email has an account (the same refusal, after about as long, for every email).
//!
//! The tests that check how long a refusal waits run on Tokio's paused clock
//! (`start_paused`): the padding is a `sleep_until` on that clock, and the time a request kept
//! its caller waiting is read from it, exactly, rather than from the wall clock.

use super::*;

/// `request`'s answer, and how long it kept its caller waiting by Tokio's clock.
async fn timed<T>(request: impl Future<Output = T>) -> (T, Duration) {
    let started = tokio::time::Instant::now();
    let answer = request.await;
    (answer, started.elapsed())
}

/// Checks that a refusal waited as long as the padding draws: 75%..125% of the learned
/// latency `mean` (plus the timer's rounding to whole milliseconds).
#[track_caller]
fn assert_padded(took: Duration, mean: Duration, what: &str) {
    assert!(
        took >= mean * 3 / 4 && took <= mean * 5 / 4 + Duration::from_millis(2),
        "{what}: waited {took:?}, not about as long as a TypingDNA call ({mean:?})"
    );
}

/// An unknown email, and a pattern sent again with a known one, are refused without
/// TypingDNA, each after about as long as a TypingDNA call: an instant refusal of either would
/// tell an email with an account from one without.
#[tokio::test(start_paused = true)]
async fn login_answers_an_unknown_email_or_a_reused_pattern_like_a_failed_match() {
    let rig = Rig::new("login", json!({})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    rig.tdna.set_verdict(Verdict::NoMatch);
    let known = refusal(rig.login(ALICE, &tp(1)).await);
    assert_eq!(known, (reason::NO_MATCH, 401));
    for (email, pattern) in [("nobody@example.com", tp(2)), (ALICE, tp(1))] {
        let (answer, took) = timed(rig.login(email, &pattern)).await;
        assert_eq!(refusal(answer), known, "{email}");
        assert_padded(took, rig.provider.latency.mean(), email);
    }
    assert_eq!(
        rig.typing_calls(),
        1,
        "only the first request reached TypingDNA"
    );
}

#[tokio::test]
async fn login_only_verifies_and_never_touches_a_profile() {
    let rig = Rig::new("login", json!({})).await;
    // Alice enrolled on a desktop; a stranger types her email on a phone, several times and
    // at once: with `/auto` the first three would have enrolled the stranger's typing.
    rig.tdna.enroll(&rig.handle(), 3);
    let attempts = [
        MOBILE.to_owned(),
        format!("{MOBILE}1"),
        format!("{MOBILE}2"),
    ];
    let answers = futures::future::join_all(attempts.iter().map(|tp| rig.login(ALICE, tp))).await;
    for answer in answers {
        assert_eq!(refusal(answer), (reason::NO_MATCH, 401));
    }
    assert_eq!(rig.tdna.stored(&rig.handle()), (3, 0), "nothing was stored");
    let calls = rig.tdna.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.path.starts_with("/verify/") && c.authorized),
        "login mode calls /verify only: {calls:?}"
    );
    assert_eq!(rig.typing_calls(), 3);
    // A user without any profile is refused, and still has none.
    rig.tdna.enroll(&rig.handle(), 0);
    assert_eq!(
        refusal(rig.login(ALICE, &tp(1)).await),
        (reason::NO_MATCH, 401)
    );
    assert_eq!(rig.tdna.stored(&rig.handle()), (0, 0));
}

#[tokio::test]
async fn login_answers_a_reused_or_invalid_pattern_like_a_failed_match() {
    let rig = Rig::new("login", json!({})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    rig.tdna.set_verdict(Verdict::NoMatch);
    let first = refusal(rig.login(ALICE, &tp(7)).await);
    let reused = refusal(rig.login(ALICE, &tp(7)).await);
    rig.tdna.push(Script::Error(445));
    let invalid = refusal(rig.login(ALICE, &tp(8)).await);
    let unknown = refusal(rig.login("nobody@example.com", &tp(9)).await);
    assert_eq!(first, (reason::NO_MATCH, 401));
    assert_eq!(reused, first, "a reused pattern reads like a failed match");
    assert_eq!(
        invalid, first,
        "an invalid pattern reads like a failed match"
    );
    assert_eq!(unknown, first);
}

/// Someone put Alice's address on their own account (anyone can, through the client API,
/// without proving it) and enrolled their own typing there through step-up. In login mode that
/// holder is no holder: the answer is exactly an unknown email's, after as long, and TypingDNA
/// is never asked.
#[tokio::test(start_paused = true)]
async fn login_treats_a_holder_who_never_verified_the_email_like_an_unknown_email() {
    let mut rig = Rig::new("login", json!({})).await;
    rig.tdna.enroll(&rig.handle(), 3);
    let squatter = AccountUser {
        email_verified: false,
        ..user1()
    };
    rig.directory.by_email.insert(ALICE.into(), squatter);
    let unknown = refusal(rig.login("nobody@example.com", &tp(1)).await);
    let (holder, took) = timed(rig.login(ALICE, &tp(2))).await;
    let holder = refusal(holder);
    assert_eq!(holder, unknown);
    assert_eq!(holder, (reason::NO_MATCH, 401));
    assert_padded(
        took,
        rig.provider.latency.mean(),
        "a holder who never verified",
    );
    assert_eq!(rig.typing_calls(), 0, "TypingDNA was not asked");
}

/// Once the email is looked up, whatever else goes wrong (TypingDNA throttling, failing, slow,
/// over quota, refusing the gateway's credentials, answering garbage; the replay store down)
/// is answered exactly as an unknown email is, after at least as long: an instant 429 or 503
/// would tell that the email has an account. The real cause is only in the log. On the paused
/// clock TypingDNA's slow answer (2 s) and the 200 ms `timeout_ms` run in the clock's time too:
/// the timeout fires first.
#[tokio::test(start_paused = true)]
async fn login_answers_every_failure_after_the_lookup_like_a_failed_match() {
    let limits = json!({"per_user_per_minute": 1000, "per_ip_per_minute": 1000, "timeout_ms": 200});
    let rig = Rig::new("login", limits.clone()).await;
    rig.tdna.enroll(&rig.handle(), 3);
    let unknown = refusal(rig.login("nobody@example.com", &tp(0)).await);
    assert_eq!(unknown, (reason::NO_MATCH, 401));
    let mut scripts: Vec<(String, Script)> = DOCUMENTED_ERRORS
        .iter()
        .map(|e| (format!("status {}", e.status), Script::Error(e.status)))
        .collect();
    scripts.push(("slow".into(), Script::Delay(Duration::from_secs(2))));
    scripts.push(("garbled 502".into(), Script::Raw(502)));
    for (n, (what, script)) in scripts.into_iter().enumerate() {
        rig.tdna.push(script);
        let (answer, took) = timed(rig.login(ALICE, &tp(n + 1))).await;
        assert_eq!(refusal(answer), unknown, "{what}");
        // Padded like an unknown email. None of these failures is learned, so the mean stays
        // the 250 ms first guess, and the slow answer, cut at 200 ms, is within the padding.
        assert_padded(took, rig.provider.latency.mean(), &what);
    }

    rig.tdna.stop();
    let answer = rig.login(ALICE, &tp(100)).await;
    assert_eq!(refusal(answer), unknown, "TypingDNA down");

    let mut down = Rig::new("login", limits).await;
    down.replay = Replay::down();
    let (answer, took) = timed(down.login(ALICE, &tp(1))).await;
    assert_eq!(refusal(answer), unknown, "the replay store down");
    assert_padded(took, down.provider.latency.mean(), "the replay store down");
}
