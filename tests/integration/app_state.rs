//! The app's own `state` on the last hop. `start` takes it, and the gateway returns it unchanged
//! beside `userId` and `secret`, or beside `error`, so an app that keeps it in the browser and
//! checks it refuses a success link that another browser started (an attacker who logged into
//! their own account and forwarded the link: login CSRF on the last hop).

use reqwest::StatusCode;
use url::Url;

use crate::helpers::{
    FAILURE, Options, SUCCESS, TestApp, browser, error_of, fragment_param, location, param,
    without_query,
};

/// An app's state with every kind of character a URL needs encoded: the gateway never reads
/// it, so it must come back byte for byte.
const APP_STATE: &str = "v1 a&b=c;d#e%f+g/h?i\"j'k<l>m[n]o\\p`q{r}s|t~u";

/// The default start URL with the app's `state`.
fn start_url(app: &TestApp, state: &str) -> Url {
    let mut url = app.start_url(SUCCESS, FAILURE);
    url.query_pairs_mut().append_pair("state", state);
    url
}

/// How many times `url` carries `name` in its query and in its fragment.
fn count(url: &Url, name: &str) -> (usize, usize) {
    let fragment = url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes());
    (
        url.query_pairs().filter(|(k, _)| k == name).count(),
        fragment.filter(|(k, _)| k == name).count(),
    )
}

#[tokio::test]
async fn the_apps_state_comes_back_unchanged_beside_the_token() {
    let app = TestApp::spawn().await;
    let to_idp = app.start_with(start_url(&app, APP_STATE), "alice").await;
    // The provider sees the gateway's own state, never the app's.
    assert_ne!(param(&to_idp, "state").as_deref(), Some(APP_STATE));
    assert!(!to_idp.as_str().contains("v1+a%26b"), "{to_idp}");
    let callback = app.at_idp(to_idp, "alice").await;
    let landed = app.finish(&callback).await;

    assert_eq!(without_query(&landed), SUCCESS, "{landed}");
    assert_eq!(param(&landed, "state").as_deref(), Some(APP_STATE));
    assert_eq!(count(&landed, "state"), (1, 0));
    let user_id = param(&landed, "userId").expect("userId");
    let secret = param(&landed, "secret").expect("secret");
    let (status, session) = app.create_session(&user_id, &secret).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");

    // Without a state (or with an empty one) the link carries none: an app that checks it
    // refuses such a link too.
    let landed = app.login("alice").await;
    assert_eq!(count(&landed, "state"), (0, 0), "{landed}");
    let landed = app.login_from(start_url(&app, ""), "alice").await;
    assert!(param(&landed, "secret").is_some(), "{landed}");
    assert_eq!(count(&landed, "state"), (0, 0), "empty is absent: {landed}");
}

#[tokio::test]
async fn with_fragment_delivery_the_state_travels_in_the_fragment() {
    let app = TestApp::spawn_with(Options {
        delivery: "fragment",
        ..Options::default()
    })
    .await;
    let landed = app.login_from(start_url(&app, APP_STATE), "alice").await;
    assert_eq!(landed.query(), None, "{landed}");
    assert_eq!(fragment_param(&landed, "state").as_deref(), Some(APP_STATE));
    assert!(fragment_param(&landed, "secret").is_some(), "{landed}");

    // A failure carries it in the fragment too, where no server log or `Referer` sees it; the
    // error stays in the query, as Appwrite puts it.
    let landed = app.login_from(start_url(&app, APP_STATE), "deny").await;
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "provider_access_denied");
    assert_eq!(fragment_param(&landed, "state").as_deref(), Some(APP_STATE));
    assert_eq!(count(&landed, "state"), (0, 1), "{landed}");
    assert_eq!(count(&landed, "error"), (1, 0), "{landed}");
}

#[tokio::test]
async fn a_forwarded_success_link_carries_the_state_of_the_browser_that_started_it() {
    let app = TestApp::spawn().await;
    // The attacker's browser starts a login with its own state, signs into the attacker's
    // account and stops at the last redirect: that link is what the victim is sent.
    let forwarded = app
        .login_from(start_url(&app, "attacker-browser-state"), "bob")
        .await;
    assert!(param(&forwarded, "secret").is_some(), "{forwarded}");

    // The victim's app started its own login with a state only the victim's browser holds.
    let victim = browser();
    let mut victims_start = start_url(&app, "victim-browser-state-7f3a9c");
    victims_start
        .query_pairs_mut()
        .append_pair("login_hint", "alice");
    let started = victim
        .get(victims_start.as_str())
        .send()
        .await
        .expect("start");
    assert_eq!(started.status(), StatusCode::FOUND);

    // The link names the attacker's state, once and nowhere else: the victim's app compares it
    // with its own and refuses the link (the attacker cannot learn the victim's state, and
    // the gateway puts none but the one it stored).
    assert_eq!(
        param(&forwarded, "state").as_deref(),
        Some("attacker-browser-state")
    );
    assert_eq!(count(&forwarded, "state"), (1, 0));
    assert!(!forwarded.as_str().contains("victim-browser-state"));
}

#[tokio::test]
async fn every_failure_of_a_login_with_a_state_carries_it() {
    let app = TestApp::spawn().await;
    // Refused at the provider.
    let landed = app.login_from(start_url(&app, APP_STATE), "deny").await;
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "provider_access_denied");
    assert_eq!(param(&landed, "state").as_deref(), Some(APP_STATE));

    // The callback opened in another browser (no binding cookie).
    let to_idp = app.start_with(start_url(&app, APP_STATE), "alice").await;
    let callback = app.at_idp(to_idp, "alice").await;
    let response = browser()
        .get(callback.as_str())
        .send()
        .await
        .expect("callback");
    let landed = location(&response);
    assert_eq!(error_of(&landed)["type"], "login_binding_invalid");
    assert_eq!(param(&landed, "state").as_deref(), Some(APP_STATE));
    assert_eq!(count(&landed, "state"), (1, 0));
    assert!(app.emulator.tokens().is_empty(), "nothing minted");
}

#[tokio::test]
async fn a_start_refused_at_the_failure_url_carries_the_state() {
    let app = TestApp::spawn_with(Options {
        max_open_transactions: 1,
        ..Options::mock()
    })
    .await;
    assert_eq!(
        app.get(app.start_url(SUCCESS, FAILURE).as_str())
            .await
            .status(),
        StatusCode::FOUND
    );
    let refused = app.get(start_url(&app, APP_STATE).as_str()).await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let landed = location(&refused);
    assert_eq!(without_query(&landed), FAILURE, "{landed}");
    assert_eq!(error_of(&landed)["type"], "login_capacity_exceeded");
    assert_eq!(param(&landed, "state").as_deref(), Some(APP_STATE));
}

#[tokio::test]
async fn a_state_up_to_512_printable_characters_is_taken_and_others_get_the_400_page() {
    let app = TestApp::spawn_with(Options::mock()).await;
    let longest = "~".repeat(512);
    let landed = app.login_from(start_url(&app, &longest), "alice").await;
    assert_eq!(param(&landed, "state"), Some(longest), "{landed}");
    app.emulator.clear_calls();

    // The page says which rule the state breaks, and where, never what it holds.
    let too_long = "x".repeat(513);
    for (refused, why) in [
        (too_long.as_str(), "longer than 512 characters"),
        ("a\u{7}b", "a control character at position 2"),
        ("line\nbreak", "a control character at position 5"),
        ("tab\there", "a control character at position 4"),
        ("del\u{7f}", "a control character at position 4"),
        ("caf\u{e9}", "a non-ASCII character at position 4"),
        ("\u{202e}rtl", "a non-ASCII character at position 1"),
    ] {
        let page = app.start_refused(start_url(&app, refused).as_str()).await;
        assert!(
            page.contains("`state`") && page.contains(why),
            "{refused:?}: {page}"
        );
        assert!(!page.contains(refused), "the page does not echo it");
    }

    // Two states are ambiguous.
    let mut twice = start_url(&app, "one");
    twice.query_pairs_mut().append_pair("state", "two");
    app.start_refused(twice.as_str()).await;
    assert!(
        app.emulator.calls().is_empty(),
        "no refused start reached Appwrite"
    );
}

#[tokio::test]
async fn a_success_or_failure_url_may_not_carry_state_itself() {
    let app = TestApp::spawn_with(Options::mock()).await;
    for (success, failure) in [
        ("http://127.0.0.1:3000/app/done?state=mine", FAILURE),
        (SUCCESS, "http://127.0.0.1:3000/app/failed?x=1&state="),
        ("http://127.0.0.1:3000/app/done?%73tate=mine", FAILURE),
    ] {
        let page = app
            .start_refused(app.start_url(success, failure).as_str())
            .await;
        assert!(page.contains("state"), "the page says why: {page}");
    }
}
