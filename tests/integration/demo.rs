//! The README's promise about the local demo (`cargo run -p idp-bridge-demo`): a scripted login
//! through it ends with a session. The test starts the demo's own stack
//! (`crates/demo/src/stack.rs`) on free ports and does what a person does in a browser, reading
//! every link and form from the HTML it is served.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use url::Url;

#[allow(dead_code, reason = "the rest serves the demo binary")]
#[path = "../../crates/demo/src/stack.rs"]
pub(crate) mod stack; // also used by browser.rs

#[tokio::test]
async fn demo_login_ends_with_a_session() {
    let stack = stack::start(stack::Ports::ANY).await;
    stack
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("demo gateway ready");
    assert!(
        stack.notes.is_empty(),
        "port 0 never falls back: {:?}",
        stack.notes
    );

    // The browser: keeps cookies, shows each redirect.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // 1. The demo page: a Sign-in link to the gateway, and the script that makes the session.
    let page = browser
        .get(&stack.app_url)
        .send()
        .await
        .expect("GET demo page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(page.headers(), "referrer-policy"), "no-referrer");
    let html = page.text().await.expect("page body");
    assert!(
        html.contains("/account/sessions/token"),
        "the page's JS calls account/sessions/token"
    );
    assert!(
        html.contains("X-Appwrite-Project"),
        "the page's JS sends the project header"
    );
    assert!(
        html.contains("history.replaceState"),
        "the page's JS clears the address bar"
    );
    let sign_in = tag_with(&html, "<a ", "id=\"sign-in\"").expect("a Sign in link");
    assert!(html.contains(">Sign in</a>"), "the link reads Sign in");
    let start_url = attr(sign_in, "href").expect("href");
    assert_eq!(start_url, stack.start_url);
    assert!(start_url.starts_with(&format!("{}/v1/auth/demo/start?", stack.gateway_url)));

    // The second link asks for the token to be shown (for a session made by hand, with the
    // `curl` the demo prints): the same start, with `?show=token` on the success URL, which
    // the gateway accepts (its query is kept when userId and secret are added).
    let show = tag_with(&html, "<a ", "id=\"sign-in-show\"").expect("a show-the-token link");
    let show_url = Url::parse(&attr(show, "href").expect("href")).expect("show-token URL");
    let success = show_url
        .query_pairs()
        .find(|(k, _)| k == "success")
        .map(|(_, v)| v.into_owned());
    assert_eq!(success, Some(format!("{}?show=token", stack.app_url)));
    let shown = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(show_url)
        .send()
        .await
        .expect("GET show-token start");
    assert_eq!(shown.status(), StatusCode::FOUND, "the gateway accepts it");
    assert!(
        html.contains("show") && html.contains("curl -s -X POST"),
        "the page's JS builds the curl line"
    );

    // 2. Sign in: the gateway sends the browser to the OP.
    let start = browser.get(&start_url).send().await.expect("GET start");
    assert_eq!(start.status(), StatusCode::FOUND, "start answers 302");
    let authorize_url = header(start.headers(), "location");
    assert!(
        authorize_url.starts_with(&format!("{}/authorize?", stack.op.base_url())),
        "start redirects to the OP: {authorize_url}"
    );

    // 3. The OP's login page lists the users.
    let login = browser
        .get(&authorize_url)
        .send()
        .await
        .expect("GET authorize");
    assert_eq!(login.status(), StatusCode::OK);
    let login_html = login.text().await.expect("login page");
    assert!(
        login_html.contains("Sign in as Alice"),
        "the OP lists Alice"
    );

    // 4. Click "Sign in as Alice": post the form as the browser would.
    let form = tag_with(&login_html, "<form", "method=\"post\"").expect("a login form");
    let action = Url::parse(&authorize_url)
        .and_then(|base| base.join(&attr(form, "action").expect("form action")))
        .expect("form action URL");
    let mut fields: Vec<(String, String)> = tags(&login_html, "<input ")
        .filter(|tag| attr(tag, "type").as_deref() == Some("hidden"))
        .map(|tag| {
            (
                attr(tag, "name").expect("input name"),
                attr(tag, "value").unwrap_or_default(),
            )
        })
        .collect();
    let alice =
        button_labelled(&login_html, "Sign in as Alice").expect("a Sign in as Alice button");
    fields.push((
        attr(alice, "name").expect("button name"),
        attr(alice, "value").expect("button value"),
    ));
    let chosen = browser
        .post(action)
        .form(&fields)
        .send()
        .await
        .expect("POST login form");
    assert_eq!(chosen.status(), StatusCode::FOUND, "the OP answers 302");
    let callback_url = header(chosen.headers(), "location");
    assert!(
        callback_url.starts_with(&format!("{}/v1/auth/demo/callback?", stack.gateway_url)),
        "the OP returns to the gateway: {callback_url}"
    );

    // 5. The gateway's callback sends the browser back to the demo page with the token.
    let callback = browser
        .get(&callback_url)
        .send()
        .await
        .expect("GET callback");
    assert_eq!(callback.status(), StatusCode::FOUND, "callback answers 302");
    let back = Url::parse(&header(callback.headers(), "location")).expect("back URL");
    let mut landing = back.clone();
    landing.set_query(None);
    assert_eq!(landing.as_str(), stack.app_url, "back to the demo page");
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("error"), None, "the login succeeded");
    let user_id = param("userId").expect("userId in the return URL");
    let secret = param("secret").expect("secret in the return URL");

    // The page served for that address does not echo the secret (the script reads it).
    let landed = browser
        .get(back.as_str())
        .send()
        .await
        .expect("GET demo page with token");
    assert_eq!(landed.status(), StatusCode::OK);
    assert_eq!(header(landed.headers(), "cache-control"), "no-store");
    assert!(
        !landed.text().await.expect("page").contains(&secret),
        "the page never shows the secret"
    );

    // 6. What the page's script does: a cross-origin fetch to Appwrite. fetch() neither sends
    //    nor stores the Appwrite cookies cross-origin, so it gets a client without a cookie store.
    let page_origin = stack.app_url.trim_end_matches('/').to_owned();
    let script = reqwest::Client::new();
    let sessions_url = format!("{}/account/sessions/token", stack.appwrite_endpoint);
    let preflight = script
        .request(reqwest::Method::OPTIONS, &sessions_url)
        .header("Origin", &page_origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-appwrite-project",
        )
        .send()
        .await
        .expect("CORS preflight");
    assert!(
        preflight.status().is_success(),
        "preflight allowed: {}",
        preflight.status()
    );
    let exchange = || {
        script
            .post(&sessions_url)
            .header("Origin", &page_origin)
            .header("X-Appwrite-Project", &stack.project)
            .json(&serde_json::json!({ "userId": user_id, "secret": secret }))
            .send()
    };
    let created = exchange().await.expect("POST account/sessions/token");
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(
        created
            .headers()
            .contains_key("access-control-allow-origin"),
        "the browser may read the answer"
    );
    let session: serde_json::Value = created.json().await.expect("session JSON");
    assert_eq!(session["provider"], "token");
    assert_eq!(session["userId"], user_id.as_str());
    assert!(
        session["$id"].as_str().is_some_and(|id| !id.is_empty()),
        "a session id"
    );
    assert!(
        stack.emulator.user(&user_id).is_some(),
        "the gateway created the Appwrite user"
    );
    assert_eq!(stack.emulator.sessions_count(), 1);

    // The token was single use.
    let replay = exchange()
        .await
        .expect("second POST account/sessions/token");
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let error: serde_json::Value = replay.json().await.expect("error JSON");
    assert_eq!(error["type"], "user_invalid_token");
    assert_eq!(stack.emulator.sessions_count(), 1);

    stack.stop().await;
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("missing {name} header"))
        .to_str()
        .expect("ASCII header")
        .to_owned()
}

/// Every tag starting with `open` (e.g. `"<input "`), as the text up to its `>`.
fn tags<'a>(html: &'a str, open: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    html.match_indices(open)
        .filter_map(|(at, _)| html[at..].find('>').map(|end| &html[at..=at + end]))
}

/// The first tag starting with `open` whose text contains `marker`.
fn tag_with<'a>(html: &'a str, open: &'a str, marker: &str) -> Option<&'a str> {
    tags(html, open).find(|tag| tag.contains(marker))
}

/// The `<button ...>` tag whose label starts with `label`.
fn button_labelled<'a>(html: &'a str, label: &str) -> Option<&'a str> {
    html.match_indices("<button ").find_map(|(at, _)| {
        let end = html[at..].find('>')? + at;
        html[end + 1..].starts_with(label).then(|| &html[at..=end])
    })
}

/// A double-quoted attribute's value, HTML entities decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
