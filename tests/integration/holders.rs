//! Whoever already holds an identity's email in Appwrite, and what they can make a first login
//! do. Played as an attacker plays it: through Appwrite's client API only (any id, any email,
//! any password; the attacker's own session), never with the server key, which alone writes
//! labels and email verification. An unproven holder never blocks the identity, whatever the
//! shape of its id; a holder that proved the address still does; and the gateway believes no
//! user list that does not match the filter it asked for. (Only a `trusted_for_email` provider
//! writes an email, so these logins use one.)

use appwrite_emulator::{Emulator, Fault, FaultScope, SeedUser};
use idp_bridge::login::mapping::{AppwriteUserId, OWNER_LABEL};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{FAILURE, Options, SUCCESS, TestApp, error_of, param, without_query};

/// An id of the derived shape (`u` + 35 base32 characters) that anyone may choose.
const LOOK_ALIKE: &str = "usquattersquattersquattersquatters22";
/// An id of Appwrite's own shape (`ID.unique()`: 20 hex characters), also chosen.
const NATIVE: &str = "65f1c2a9e8b7d6c5b4a3";
const VICTIM_EMAIL: &str = "alice@example.test";

/// Trusted for email: only such a provider writes an email, so only its logins meet holders.
fn trusted() -> Options {
    Options {
        provider_extra: "trusted_for_email = true".into(),
        ..Options::mock()
    }
}

fn linking() -> Options {
    Options {
        provider_extra: "trusted_for_email = true\nlink_by_email = true".into(),
        ..Options::mock()
    }
}

/// A client API call (project header only, no key), as the account of `cookie` when given:
/// the status, the answer, and the session cookie it set (`name=value`).
async fn client(
    emulator: &Emulator,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    body: Value,
) -> (StatusCode, Value, Option<String>) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", emulator.endpoint()))
        .header("X-Appwrite-Project", emulator.project())
        .json(&body);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = request.send().await.expect("client API call");
    let name = format!("a_session_{}=", emulator.project());
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next())
        .find(|pair| pair.starts_with(&name))
        .map(str::to_owned);
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null), cookie)
}

/// `account.createSession({userId, secret})`: the session cookie.
async fn session(emulator: &Emulator, user_id: &str, secret: &str) -> String {
    let body = json!({"userId": user_id, "secret": secret});
    let (status, answer, cookie) = client(
        emulator,
        Method::POST,
        "/account/sessions/token",
        None,
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    cookie.expect("a session cookie")
}

/// Makes an account with the chosen `id` and the attacker's own mailbox, and logs into it
/// with the code that mailbox receives: the session cookie.
async fn own_account(emulator: &Emulator, id: &str, mailbox: &str) -> String {
    let body = json!({"userId": id, "email": mailbox});
    let (status, answer, _) =
        client(emulator, Method::POST, "/account/tokens/email", None, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let code = emulator
        .messages()
        .into_iter()
        .rfind(|m| m.to == mailbox)
        .expect("the code reached the attacker's mailbox");
    session(emulator, id, &code.secret).await
}

/// `account.updateEmail(email, password)` as the account of `cookie`.
async fn change_email(emulator: &Emulator, cookie: &str, email: &str) {
    let body = json!({"email": email, "password": "attacker-password"});
    let (status, answer, _) = client(
        emulator,
        Method::PATCH,
        "/account/email",
        Some(cookie),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["emailVerification"], false, "{answer}");
}

/// Alice's first login ends in a user of her own under her derived id, without the address
/// the holder took; the holder is exactly as it was; only Alice's user got a token.
async fn assert_alice_gets_her_own_user(app: &TestApp, holder: &str) {
    let before = app.emulator.user(holder).expect("the holder");
    let tokens_before = app.emulator.tokens().len();
    let landed = app.login("alice").await;
    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    let alice = app.user_id("alice");
    assert_eq!(param(&landed, "userId").as_deref(), Some(alice.as_str()));
    let user = app.emulator.user(alice.as_str()).expect("alice's user");
    assert_eq!(
        user["email"], "",
        "created without the address the holder took"
    );
    assert_eq!(user["labels"], json!([OWNER_LABEL]));
    let secret = param(&landed, "secret").expect("secret");
    assert_eq!(app.create_session(alice.as_str(), &secret).await.0, 201);
    assert_eq!(
        app.emulator.user(holder).expect("the holder"),
        before,
        "untouched"
    );
    let tokens = app.emulator.tokens();
    assert_eq!(tokens.len(), tokens_before + 1, "one token");
    assert_eq!(
        tokens.last().map(|t| t.user_id.as_str()),
        Some(alice.as_str())
    );
}

#[tokio::test]
async fn a_look_alike_id_registered_with_the_victims_email_does_not_lock_her_out() {
    assert!(
        AppwriteUserId::is_derived(LOOK_ALIKE),
        "the shape of a derived id"
    );
    for options in [trusted(), linking()] {
        let app = TestApp::spawn_with(options).await;
        // `account.create(LOOK_ALIKE, alice's address, a password)`: no code, no proof.
        let body =
            json!({"userId": LOOK_ALIKE, "email": VICTIM_EMAIL, "password": "attacker-password"});
        let (status, answer, _) = client(&app.emulator, Method::POST, "/account", None, body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_alice_gets_her_own_user(&app, LOOK_ALIKE).await;
        // And again: her user is found by its id from now on.
        let again = app.login("alice").await;
        assert_eq!(
            param(&again, "userId").as_deref(),
            Some(app.user_id("alice").as_str())
        );
    }
}

#[tokio::test]
async fn a_gateway_user_who_changed_their_email_to_the_victims_does_not_lock_her_out() {
    for options in [trusted(), linking()] {
        let app = TestApp::spawn_with(options).await;
        // Bob logs in through the gateway, opens the session the app would, and changes the
        // address of his account to Alice's (it has no password: his becomes one).
        let landed = app.login("bob").await;
        let bob = param(&landed, "userId").expect("bob's user");
        let secret = param(&landed, "secret").expect("secret");
        let cookie = session(&app.emulator, &bob, &secret).await;
        change_email(&app.emulator, &cookie, VICTIM_EMAIL).await;
        assert_alice_gets_her_own_user(&app, &bob).await;
        // Bob still logs into his own account.
        let again = app.login("bob").await;
        assert_eq!(param(&again, "userId").as_deref(), Some(bob.as_str()));
    }
}

#[tokio::test]
async fn a_client_api_user_who_changed_their_email_to_the_victims_does_not_lock_her_out() {
    for id in [LOOK_ALIKE, NATIVE] {
        for options in [trusted(), linking()] {
            let app = TestApp::spawn_with(options).await;
            let cookie = own_account(&app.emulator, id, "mallory@evil.example").await;
            change_email(&app.emulator, &cookie, VICTIM_EMAIL).await;
            assert_alice_gets_her_own_user(&app, id).await;
        }
    }
}

#[tokio::test]
async fn a_holder_that_proved_the_address_but_may_not_be_linked_is_still_a_conflict() {
    // Verified addresses: only the mailbox's owner (or the server key) gets there.
    let holders = [
        // The derived shape, no label: never linked (it may be a gateway user whose label
        // write failed).
        (LOOK_ALIKE, vec![]),
        // A user the gateway made for another identity.
        (NATIVE, vec![OWNER_LABEL.to_string()]),
    ];
    for (id, labels) in holders {
        for options in [trusted(), linking()] {
            let app = TestApp::spawn_with(options).await;
            app.emulator.seed_user(SeedUser {
                id: id.into(),
                email: Some(VICTIM_EMAIL.into()),
                email_verification: true,
                labels: labels.clone(),
                ..SeedUser::default()
            });
            let landed = app.login("alice").await;
            assert_eq!(without_query(&landed), FAILURE, "{id}: {landed}");
            assert_eq!(error_of(&landed)["type"], "user_email_conflict", "{id}");
            assert!(app.emulator.tokens().is_empty(), "{id}: nothing minted");
            assert_eq!(app.emulator.users_count(), 1, "{id}: nothing created");
        }
    }
}

/// The gateway's own create writes an email only for a provider trusted for email: an
/// unlabelled user under the derived id that holds the identity's address is what an unfinished
/// create of such a provider leaves (adopted), and for any other provider it is someone else's.
#[tokio::test]
async fn an_unlabelled_user_holding_the_identitys_email_is_adopted_only_for_a_trusted_provider() {
    for (options, adopted) in [(Options::mock(), false), (trusted(), true)] {
        let app = TestApp::spawn_with(options).await;
        let alice = app.user_id("alice");
        app.emulator.seed_user(SeedUser {
            id: alice.as_str().into(),
            email: Some("alice@example.test".into()),
            ..SeedUser::default()
        });
        let landed = app.login("alice").await;
        let labels = &app.emulator.user(alice.as_str()).expect("alice")["labels"];
        if adopted {
            assert_eq!(param(&landed, "userId").as_deref(), Some(alice.as_str()));
            assert_eq!(labels, &json!([OWNER_LABEL]));
        } else {
            assert_eq!(error_of(&landed)["type"], "user_id_conflict", "{landed}");
            assert_eq!(labels, &json!([]));
        }
    }
}

#[tokio::test]
async fn a_user_list_that_ignores_its_filter_is_not_believed() {
    // Somewhere between the gateway and Appwrite the list filter is lost (a proxy that strips
    // `queries[]`): every list answers every user. Bob's is the only one.
    let app = TestApp::spawn_with(Options::mock()).await;
    app.emulator.seed_user(SeedUser {
        id: NATIVE.into(),
        email: Some("bob@example.test".into()),
        email_verification: true,
        ..SeedUser::default()
    });
    app.emulator.inject(
        Fault::StripQueries,
        FaultScope::Route {
            method: "GET",
            path_prefix: "/users".into(),
            times: None,
        },
    );
    let landed = app.login("alice").await;
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "appwrite_error");
    assert!(app.emulator.tokens().is_empty(), "nothing minted");
    assert_eq!(app.emulator.users_count(), 1, "nothing created");
    assert_eq!(app.emulator.user(NATIVE).expect("bob")["labels"], json!([]));
}
