//! The browser's unit tests: start URLs, the balancer, the open loop.

use super::*;

#[test]
fn the_balancer_sends_each_request_at_its_address_to_the_next_instance() {
    let instances = [
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
        "http://127.0.0.1:3",
    ];
    let balancer = Balancer::new(
        "http://127.0.0.1:9",
        instances.iter().map(|i| i.to_string()).collect(),
    );
    let routed: Vec<String> = (0..4)
        .map(|_| balancer.route("http://127.0.0.1:9/v1/auth/corp/callback?code=c"))
        .collect();
    let expected: Vec<String> = [1, 2, 3, 1]
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}/v1/auth/corp/callback?code=c"))
        .collect();
    assert_eq!(routed, expected);
    // Anything else (the OP, another port that starts with the same digits) goes as it is.
    for elsewhere in [
        "http://127.0.0.1:8/authorize?x=1",
        "http://127.0.0.1:90/v1/auth",
    ] {
        assert_eq!(balancer.route(elsewhere), elsewhere);
    }
}

/// A gateway whose `start` answers 503, but only once `n` requests are waiting for it.
async fn held_starts(n: usize) -> String {
    let everyone = Arc::new(tokio::sync::Barrier::new(n));
    let app = axum::Router::new().route(
        &format!("/v1/auth/{PROVIDER}/start"),
        axum::routing::get(move || {
            let everyone = everyone.clone();
            async move {
                everyone.wait().await;
                StatusCode::SERVICE_UNAVAILABLE
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Open loop: each login is sent on schedule whether or not earlier ones have finished. A
/// driver that waits for an answer before sending more (a closed loop, or a paced pool of
/// fewer browsers than the 20 the gateway holds back) never gets one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_loop_sends_on_schedule_whether_or_not_earlier_logins_finished() {
    const N: usize = 20;
    let url = held_starts(N).await;
    let balancer = Arc::new(Balancer::new(&url, vec![url.clone()]));
    let start = start_url(&url, None);
    let logins = open_round(&start, &balancer, N, 200.0, Duration::from_secs(30));
    // A guard against hanging, not a timed assertion: an open loop needs no time at all.
    let round = tokio::time::timeout(Duration::from_secs(60), logins)
        .await
        .expect("every start is sent before any is answered");
    assert_eq!(round.failures, N);
    assert_eq!(
        round.first_failure.as_deref(),
        Some("start: HTTP 503 Service Unavailable")
    );
}

#[test]
fn long_start_urls_have_the_asked_length() {
    let url = start_url("http://127.0.0.1:1", Some(2048));
    let parsed = Url::parse(&url).expect("url");
    let mut seen = Vec::new();
    for (name, value) in parsed.query_pairs() {
        if name == "success" || name == "failure" {
            assert_eq!(value.len(), 2048, "{name}");
            assert!(value.starts_with(APP));
            seen.push(name.into_owned());
        }
    }
    assert_eq!(seen, ["success", "failure"], "both URLs, once each");
    assert!(url.contains("login_hint=alice"));
}
