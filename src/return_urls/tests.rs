//! Tests of the allow-list and of building the success and failure URLs.

use super::*;

fn list() -> AllowList {
    AllowList::parse(&[
        "https://app.example.com/auth/".to_string(),
        "http://127.0.0.1:3000/cb".to_string(),
    ])
    .expect("valid list")
}

fn ok(raw: &str) -> bool {
    list().check("success", Some(raw)).is_ok()
}

#[test]
fn origins_are_written_as_browsers_send_them() {
    let list = AllowList::parse(&[
        "https://app.example.com/auth/".to_string(),
        "https://app.example.com:443/other/".to_string(),
        "http://127.0.0.1:3000/".to_string(),
        "http://[::1]:8080/cb".to_string(),
    ])
    .expect("list");
    assert_eq!(
        list.origins(),
        [
            "https://app.example.com",
            "http://127.0.0.1:3000",
            "http://[::1]:8080"
        ]
    );
}

#[test]
fn exact_origin_and_path_prefix() {
    assert!(ok("https://app.example.com/auth/done"));
    assert!(ok("https://app.example.com/auth/done?x=1"));
    assert!(ok("https://APP.example.com/auth/"));
    assert!(ok("https://app.example.com:443/auth/x"));
    assert!(ok("http://127.0.0.1:3000/cb"));
    assert!(ok("http://127.0.0.1:3000/cb/more"));
    assert!(!ok("http://127.0.0.1:3000/cbx"));
    assert!(!ok("https://app.example.com/other"));
    assert!(!ok("https://app.example.com/auth"));
    assert!(!ok("http://app.example.com/auth/"));
    assert!(!ok("https://app.example.com:8443/auth/"));
    assert!(!ok("https://app.example.com./auth/"));
    assert!(!ok("https://evil.app.example.com/auth/"));
    assert!(!ok("https://app.example.com.evil.com/auth/"));
    assert!(!ok("http://127.0.0.1:3001/cb"));
}

#[test]
fn tricky_forms_are_refused() {
    for raw in [
        "//app.example.com/auth/",
        "/auth/",
        "https://app.example.com@evil.com/auth/",
        "https://user:pw@app.example.com/auth/",
        "javascript:alert(1)//app.example.com/auth/",
        "data:text/html,hi",
        "https://app.example.com/auth/../admin",
        "https://app.example.com/auth/%2e%2e/admin",
        "https://app.example.com/auth/#frag",
        "https://app.example.com/auth/?secret=x",
        "https://app.example.com/auth/?state=x",
        "https://app.example.com/auth/?a=1&%73tate=",
        "https:\\\\evil.com\\auth\\",
    ] {
        assert!(!ok(raw), "{raw} must be refused");
    }
}

#[test]
fn a_checked_target_is_permitted_again_only_by_a_list_that_still_allows_it() {
    let target = list()
        .check("success", Some("https://app.example.com/auth/done?x=1"))
        .expect("allowed");
    assert!(list().permits(&target));
    let parse = |entries: &[&str]| {
        let entries: Vec<String> = entries.iter().map(ToString::to_string).collect();
        AllowList::parse(&entries).expect("valid entries")
    };
    assert!(parse(&["https://app.example.com/auth/done"]).permits(&target));
    for narrowed in [
        "https://app.example.com/other/",
        "https://app.example.com/auth/don",
        "https://app.example.com:8443/auth/",
        "https://evil.example.com/auth/",
    ] {
        assert!(!parse(&[narrowed]).permits(&target), "{narrowed}");
    }
    let loopback = list()
        .check("success", Some("http://127.0.0.1:3000/cb"))
        .expect("allowed");
    assert!(!parse(&["https://127.0.0.1:3000/cb"]).permits(&loopback));
}

#[test]
fn delivery_keeps_the_apps_query() {
    let target = list()
        .check(
            "success",
            Some("https://app.example.com/auth/?next=%2Fhome"),
        )
        .expect("allowed");
    let q = target.with_token("u1", "s3", None, Delivery::Query);
    assert_eq!(
        q.as_str(),
        "https://app.example.com/auth/?next=%2Fhome&userId=u1&secret=s3"
    );
    let f = target.with_token("u1", "s3", None, Delivery::Fragment);
    assert_eq!(
        f.as_str(),
        "https://app.example.com/auth/?next=%2Fhome#userId=u1&secret=s3"
    );
    let e = target.with_error("{\"type\":\"x\"}", None, Delivery::Query);
    assert_eq!(
        e.query(),
        Some("next=%2Fhome&error=%7B%22type%22%3A%22x%22%7D")
    );
}

#[test]
fn the_apps_state_travels_beside_the_result_as_one_parameter() {
    let target = list()
        .check(
            "success",
            Some("https://app.example.com/auth/?next=%2Fhome"),
        )
        .expect("allowed");
    // Characters that would split or end a parameter stay inside it, percent-encoded.
    let state = ReturnState::parse(Some("a b&userId=x#secret=y%z+"))
        .expect("printable ASCII")
        .expect("not empty");
    let encoded = "a+b%26userId%3Dx%23secret%3Dy%25z%2B";
    let q = target.with_token("u1", "s3", Some(&state), Delivery::Query);
    assert_eq!(
        q.as_str(),
        format!("https://app.example.com/auth/?next=%2Fhome&userId=u1&secret=s3&state={encoded}")
    );
    let f = target.with_token("u1", "s3", Some(&state), Delivery::Fragment);
    assert_eq!(
        f.as_str(),
        format!("https://app.example.com/auth/?next=%2Fhome#userId=u1&secret=s3&state={encoded}")
    );
    let e = target.with_error("{}", Some(&state), Delivery::Query);
    assert_eq!(
        e.query(),
        Some(format!("next=%2Fhome&error=%7B%7D&state={encoded}").as_str())
    );
    // With fragment delivery the state goes where the token would: the error stays in the
    // query, as Appwrite puts it.
    let ef = target.with_error("{}", Some(&state), Delivery::Fragment);
    assert_eq!(
        ef.as_str(),
        format!("https://app.example.com/auth/?next=%2Fhome&error=%7B%7D#state={encoded}")
    );
    let none = target.with_error("{}", None, Delivery::Fragment);
    assert_eq!(none.fragment(), None, "no state, no fragment");
    for url in [q, e] {
        let states: Vec<_> = url.query_pairs().filter(|(k, _)| k == "state").collect();
        assert_eq!(states.len(), 1, "{url}");
        assert_eq!(states[0].1, state.as_str());
        assert!(!url.query_pairs().any(|(k, v)| k == "userId" && v == "x"));
    }
}

#[test]
fn hidden_separators_in_a_candidate_path_are_refused() {
    for raw in [
        "https://app.example.com/auth/..%2Fadmin",
        "https://app.example.com/auth/..%2fadmin",
        "https://app.example.com/auth/..%5Cadmin",
        "https://app.example.com/auth/%2e%2e%2fadmin",
        "https://app.example.com/auth/%252e%252e/admin",
        "https://app.example.com/auth/%%32%65%%32%65/admin",
        "https://app.example.com/auth/..;/admin",
        "https://app.example.com/auth/x%252Fy",
        "http://127.0.0.1:3000/cb/..%2F..%2Fadmin",
    ] {
        match list().check("success", Some(raw)) {
            Err(RedirectError::Malformed { reason, .. }) => assert!(
                reason.contains("path segment"),
                "{raw}: refused for another reason: {reason}"
            ),
            other => panic!("{raw} must be refused for its path, got {other:?}"),
        }
    }
    // Decoded characters that separate nothing stay allowed.
    for raw in [
        "https://app.example.com/auth/file%2Ejs",
        "https://app.example.com/auth/%2e%2e%2e",
        "https://app.example.com/auth/a%2520b",
        "https://app.example.com/auth/?next=%2F..%2Fadmin",
    ] {
        assert!(ok(raw), "{raw} must be allowed");
    }
}

#[test]
fn entries_with_hidden_separators_are_refused() {
    for entry in [
        "https://app.example.com/auth%2F",
        "https://app.example.com/auth%2f..%2f",
        "https://app.example.com/auth%5C",
        "https://app.example.com/a/%252e%252e/",
        "https://app.example.com/a/..;/",
        "https://app.example.com/a/%2e%2e%2F",
    ] {
        let err =
            AllowList::parse(&[entry.to_string()]).expect_err(&format!("{entry} must be refused"));
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(
            err[0].contains(entry) && err[0].contains("path segment"),
            "{entry}: {}",
            err[0]
        );
    }
    assert!(AllowList::parse(&["https://app.example.com/a%2Eb/".to_string()]).is_ok());
}

#[test]
fn bad_entries_are_named() {
    let err =
        AllowList::parse(&["http://app.example.com/".to_string(), "nope".to_string()]).unwrap_err();
    assert_eq!(err.len(), 2);
    assert!(err[0].contains("http://app.example.com/"));
    assert!(AllowList::parse(&[]).is_err());
}
