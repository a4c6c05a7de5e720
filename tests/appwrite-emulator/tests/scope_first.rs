//! Contract test: the API key's scope is checked before anything else a route does.
//!
//! Appwrite checks a key's scopes in its API init hook (`app/controllers/shared/api.php`), which
//! runs before the route's parameters are validated and before its action looks a user up. So
//! a write to a user id that breaks the id rule, or to a user that does not exist, answers 401
//! `general_unauthorized_scope` to a key without `users.write`, and 400 or 404 to a key with
//! it. The gateway's `check-config --online` learns whether a key has `users.write` from that
//! order without writing anything; the emulator must answer the same way, and change nothing.

use appwrite_emulator::{ApiKey, Emulator, EmulatorConfig, Operation, ROUTES};
use reqwest::Method;
use serde_json::{Value, json};

const READER: &str = "reader-key-0123456789";
const WRITER: &str = "writer-key-0123456789";

/// A body the route accepts, so that only the id and the scope decide the answer.
fn valid_body(operation: Operation) -> Value {
    match operation {
        Operation::UsersUpdateLabels => json!({"labels": []}),
        Operation::UsersUpdateEmailVerification => json!({"emailVerification": true}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn the_scope_is_checked_before_the_user_id_and_the_user_lookup() {
    let key = |secret: &str, scopes: &[&str]| ApiKey {
        secret: secret.into(),
        scopes: scopes.iter().map(|s| (*s).to_string()).collect(),
        expired: false,
    };
    let emu = Emulator::spawn(EmulatorConfig {
        project: "p1".into(),
        keys: vec![
            key(READER, &["users.read"]),
            key(WRITER, &["users.read", "users.write"]),
        ],
    })
    .await;
    let http = reqwest::Client::new();
    let writes: Vec<_> = ROUTES
        .iter()
        .filter(|r| r.scope == Some("users.write") && r.path_params.contains(&"userId"))
        .collect();
    assert!(
        writes.len() >= 4,
        "the users.write routes with a userId: {writes:?}"
    );
    for route in writes {
        for (id, with_scope) in [
            ("_impossible-id", (400, "general_argument_invalid")),
            ("no-such-user", (404, "user_not_found")),
        ] {
            for (secret, expected) in [
                (READER, (401, "general_unauthorized_scope")),
                (WRITER, with_scope),
            ] {
                let url = format!("{}{}", emu.endpoint(), route.path.replace("{userId}", id));
                let method = Method::from_bytes(route.method.as_bytes()).expect("method");
                let response = http
                    .request(method, url)
                    .header("X-Appwrite-Project", "p1")
                    .header("X-Appwrite-Key", secret)
                    .json(&valid_body(route.operation))
                    .send()
                    .await
                    .expect("send");
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("JSON");
                assert_eq!(
                    (status, body["type"].as_str().unwrap_or("")),
                    expected,
                    "{} {} as {secret}: {body}",
                    route.method,
                    route.path.replace("{userId}", id)
                );
            }
        }
    }
    assert_eq!(emu.users_count(), 0, "nothing was created");
    assert!(emu.tokens().is_empty(), "nothing was minted");
}
