//! `PATCH /v1/account/email`: an account changes its own address, as the account of a session
//! cookie or of a JWT, the way Appwrite does it (the password is checked only when the account
//! has one, and becomes its password otherwise; the new address is unverified; another account's
//! address is 409).

// Tests: a failed unwrap or expect fails the test, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use appwrite_emulator::{Emulator, EmulatorConfig, SeedUser};
use reqwest::{Client, Method, StatusCode, header};
use serde_json::{Value, json};

/// How a client proves who it is.
enum As<'a> {
    /// The `a_session_<project>` cookie, as `name=value`.
    Cookie(&'a str),
    /// An account JWT, in `X-Appwrite-JWT`.
    Jwt(&'a str),
    /// Nothing: a guest.
    Guest,
}

async fn call(emu: &Emulator, method: Method, path: &str, who: As<'_>, body: Value) -> Response {
    let mut request = Client::new()
        .request(method, format!("{}{path}", emu.endpoint()))
        .header("X-Appwrite-Project", emu.project())
        .json(&body);
    request = match who {
        As::Cookie(cookie) => request.header(header::COOKIE, cookie),
        As::Jwt(jwt) => request.header("X-Appwrite-JWT", jwt),
        As::Guest => request,
    };
    let response = request.send().await.expect("request");
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("a_session_{}=", emu.project())))
        .map(str::to_owned);
    let status = response.status();
    let body = response.json().await.expect("JSON answer");
    Response {
        status,
        body,
        cookie,
    }
}

struct Response {
    status: StatusCode,
    body: Value,
    /// The session cookie it set, as `name=value`.
    cookie: Option<String>,
}

#[track_caller]
fn assert_error(response: &Response, status: u16, kind: &str) {
    assert_eq!(response.status.as_u16(), status, "{}", response.body);
    assert_eq!(response.body["type"], kind, "{}", response.body);
}

async fn change(emu: &Emulator, who: As<'_>, email: &str, password: &str) -> Response {
    call(
        emu,
        Method::PATCH,
        "/account/email",
        who,
        json!({"email": email, "password": password}),
    )
    .await
}

#[tokio::test]
async fn an_account_without_a_password_changes_its_email_with_a_session_and_gets_one() {
    let emu = Emulator::spawn(EmulatorConfig::default()).await;
    // An account made by the email token route, logged in with the code its owner received.
    let made = call(
        &emu,
        Method::POST,
        "/account/tokens/email",
        As::Guest,
        json!({"userId": "mallory", "email": "mallory@evil.example"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let code = emu.messages().pop().expect("a code was sent").secret;
    let session = call(
        &emu,
        Method::POST,
        "/account/sessions/token",
        As::Guest,
        json!({"userId": "mallory", "secret": code}),
    )
    .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.body);
    let cookie = session.cookie.expect("a session cookie");

    let change_as_mallory = async |email: &str, password: &str| {
        change(&emu, As::Cookie(&cookie), email, password).await
    };
    let changed = change_as_mallory("Alice@Example.TEST", "chosen-password").await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["email"], "alice@example.test", "lowercased");
    assert_eq!(changed.body["emailVerification"], false);
    assert!(changed.body.get("password").is_none(), "the account model");
    let stored = emu.user("mallory").expect("mallory");
    assert_eq!(stored["email"], "alice@example.test");
    assert_ne!(
        stored["passwordUpdate"], "",
        "the password became the account's"
    );

    // From now on the account has a password, and it is checked.
    let refused = change_as_mallory("m2@evil.example", "another-password").await;
    assert_error(&refused, 401, "user_invalid_credentials");
    let again = change_as_mallory("m2@evil.example", "chosen-password").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);

    // A cookie of no live session is a guest's.
    let forged = format!("a_session_{}=e30=", emu.project());
    let guest = change(&emu, As::Cookie(&forged), "m3@evil.test", "chosen-pw").await;
    assert_error(&guest, 401, "general_unauthorized_scope");
}

#[tokio::test]
async fn a_jwt_account_needs_its_password_and_an_address_nobody_else_has() {
    let emu = Emulator::spawn(EmulatorConfig::default()).await;
    emu.seed_user(SeedUser {
        id: "bob".into(),
        email: Some("bob@example.test".into()),
        email_verification: true,
        password: Some("bob-password".into()),
        ..SeedUser::default()
    });
    emu.seed_user(SeedUser {
        id: "carol".into(),
        email: Some("carol@example.test".into()),
        ..SeedUser::default()
    });
    let jwt = call(&emu, Method::POST, "/users/bob/jwts", As::Guest, json!({})).await;
    // The JWT route is a server route: without the key it is refused.
    assert_error(&jwt, 401, "general_unauthorized_scope");
    let jwt = Client::new()
        .post(format!("{}/users/bob/jwts", emu.endpoint()))
        .header("X-Appwrite-Project", emu.project())
        .header("X-Appwrite-Key", emu.api_key())
        .json(&json!({}))
        .send()
        .await
        .expect("jwt")
        .json::<Value>()
        .await
        .expect("JSON")["jwt"]
        .as_str()
        .expect("a jwt")
        .to_owned();

    let wrong = change(&emu, As::Jwt(&jwt), "bob2@example.test", "not-bobs").await;
    assert_error(&wrong, 401, "user_invalid_credentials");
    let taken = change(&emu, As::Jwt(&jwt), "CAROL@example.test", "bob-password").await;
    assert_error(&taken, 409, "user_email_already_exists");
    assert_eq!(emu.user("bob").expect("bob")["email"], "bob@example.test");
    assert_eq!(emu.user("bob").expect("bob")["emailVerification"], true);

    let invalid = change(&emu, As::Jwt(&jwt), "not-an-email", "bob-password").await;
    assert_error(&invalid, 400, "general_argument_invalid");
    let short = change(&emu, As::Jwt(&jwt), "bob2@example.test", "short").await;
    assert_error(&short, 400, "general_argument_invalid");
    let guest = change(&emu, As::Guest, "bob2@example.test", "bob-password").await;
    assert_error(&guest, 401, "general_unauthorized_scope");

    let changed = change(&emu, As::Jwt(&jwt), "bob2@example.test", "bob-password").await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let stored = emu.user("bob").expect("bob");
    assert_eq!(stored["email"], "bob2@example.test");
    assert_eq!(
        stored["emailVerification"], false,
        "a new address is unverified"
    );

    // A blocked account changes nothing.
    emu.seed_user(SeedUser {
        id: "bob".into(),
        email: Some("bob2@example.test".into()),
        password: Some("bob-password".into()),
        status: false,
        ..SeedUser::default()
    });
    let blocked = change(&emu, As::Jwt(&jwt), "bob3@example.test", "bob-password").await;
    assert_error(&blocked, 403, "user_blocked");
}
