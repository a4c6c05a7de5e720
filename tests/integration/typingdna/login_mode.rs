//! `login` mode seen from outside: once the email is looked up, nothing in the answer (status,
//! type, message) tells whether it has an account. A holder who never verified the address is
//! no holder, and TypingDNA or the gateway failing reads like a failed match.

use appwrite_emulator::SeedUser;
use typingdna_emulator::Script;

use super::{ALICE, spawn};

#[tokio::test]
async fn a_squatted_email_or_a_failing_typingdna_answers_exactly_like_an_unknown_email() {
    let rig = spawn("per_user_per_minute = 1000").await;
    // Carol put Dave's address on her own account (the client API lets anyone, unproven) and
    // enrolled her own typing through step-up.
    rig.appwrite.seed_user(SeedUser {
        id: "carol".into(),
        email: Some("dave@example.com".into()),
        name: "Carol".into(),
        email_verification: false,
        ..SeedUser::default()
    });
    rig.tdna.enroll(&rig.handle("carol"), 3);
    let unknown = rig.login("nobody@example.com", &rig.pattern()).await;
    rig.assert_refused(&unknown, 401, "typingdna_no_match");
    let squatted = rig.login("dave@example.com", &rig.pattern()).await;
    assert_eq!(squatted, unknown, "same status, type, code and message");
    assert_eq!(rig.typing_calls(), 0, "TypingDNA was never asked");

    // Alice's account is real; TypingDNA throttles, fails, is over quota, refuses the
    // gateway's credentials, answers garbage.
    rig.tdna.enroll(&rig.handle("alice"), 3);
    for script in [
        Script::Error(429),
        Script::Error(500),
        Script::Error(456),
        Script::Error(401),
        Script::Raw(502),
    ] {
        rig.tdna.push(script.clone());
        let answer = rig.login(ALICE, &rig.pattern()).await;
        assert_eq!(answer, unknown, "{script:?}");
    }
    assert!(rig.appwrite.tokens().is_empty());
    rig.assert_logs_clean();
}
