//! What the `typingdna` providers remember of a pattern, seen from outside: per user, so that a
//! pattern sent with one email tells nothing about another.

use reqwest::StatusCode;
use serde_json::Value;
use typingdna_emulator::Verdict;

use super::{ALICE, Rig, spawn};

/// The answer is the JSON error `kind` (401) and nothing more was minted than `minted`.
#[track_caller]
fn assert_refused_401(rig: &Rig, (status, body): &(StatusCode, Value), kind: &str, minted: usize) {
    assert_eq!(status.as_u16(), 401, "{body}");
    assert_eq!(body["type"], kind, "{body}");
    assert_eq!(
        rig.appwrite.tokens().len(),
        minted,
        "a refusal minted a token"
    );
}

/// The account-existence oracle: an attacker with an account of their own (bob) sends a pattern
/// they typed with a probed email, then with their own email. The second answer, and whether it
/// reaches TypingDNA, must not depend on whether the probed email has an account.
#[tokio::test]
async fn a_pattern_tried_on_another_email_tells_nothing_about_that_email() {
    let rig = spawn("").await;
    rig.tdna.enroll(&rig.handle("alice"), 3);
    rig.tdna.enroll(&rig.handle("bob"), 3);
    let mut seen = Vec::new();
    for probed in [ALICE, "nobody@example.com"] {
        let tp = rig.pattern();
        let minted = rig.appwrite.tokens().len();
        // Alice's profile does not match bob's typing; bob's own does.
        rig.tdna.set_verdict(Verdict::NoMatch);
        let probe = rig.login(probed, &tp).await;
        assert_refused_401(&rig, &probe, "typingdna_no_match", minted);
        rig.tdna.set_verdict(Verdict::Match);
        let calls = rig.typing_calls();
        let (status, body) = rig.login("bob@example.com", &tp).await;
        let reached_typingdna = rig.typing_calls() - calls;
        if status == StatusCode::OK {
            assert_eq!(body["userId"], "bob", "{body}");
        }
        seen.push((status, body["type"].clone(), reached_typingdna));
    }
    assert_eq!(
        seen[0], seen[1],
        "bob's answer after probing an existing, then an unknown email"
    );
    assert_eq!(seen[1].0, StatusCode::OK, "{seen:?}");
    assert!(
        rig.appwrite.tokens().iter().all(|t| t.user_id == "bob"),
        "nothing for alice"
    );
    rig.assert_logs_clean();
}
