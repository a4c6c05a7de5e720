//! Open logins in a shared Redis are one budget for the whole fleet: `[store]
//! max_open_transactions` counts the logins open on every instance, and no instance starts a
//! login while Redis is above `[store] redis_high_water_percent` of its `maxmemory`. A start
//! refused either way ends at the failure URL as `login_capacity_exceeded` (never a 503 page),
//! and the memory left keeps replay entries and callbacks working: an anonymous `start` flood
//! never stops an exchange or a login already under way.

use futures::StreamExt;
use reqwest::StatusCode;
use url::Url;

use crate::helpers::{APP, FAILURE, SUCCESS, error_of, location};
use crate::redis::{Gateway, Shared, assert_logged_in, exchange, get, new_key, start};
use crate::redis_server::RedisServer;

/// How a `start` ended.
#[derive(Debug, PartialEq, Eq)]
enum Started {
    /// Sent to the IdP: the login is stored.
    Admitted,
    /// Sent to the failure URL as `login_capacity_exceeded`.
    Refused,
}

/// `GET url` (a start URL whose failure page is `failure`) with a client of its own; how it
/// ended. Anything but the two expected answers (a 503 page above all) fails the test.
async fn start_at(client: &reqwest::Client, url: &str, failure: &str) -> Started {
    let response = client.get(url).send().await.expect("start");
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "a start answers with a redirect, never an error page"
    );
    let landed = location(&response);
    if !landed.as_str().starts_with(APP) {
        return Started::Admitted;
    }
    assert!(landed.as_str().starts_with(failure), "{landed}");
    let error = error_of(&landed);
    assert_eq!(error["type"], "login_capacity_exceeded", "{error}");
    assert_eq!(error["code"], 503, "{error}");
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no binding cookie for a refused login"
    );
    Started::Refused
}

/// A start URL at `gateway` whose success and failure pages are `success` and `failure`.
fn start_url(gateway: &Gateway, success: &str, failure: &str) -> String {
    let mut url = Url::parse(&format!("{}/v1/auth/corp/start", gateway.url())).expect("url");
    url.query_pairs_mut()
        .append_pair("success", success)
        .append_pair("failure", failure);
    url.to_string()
}

/// A client without cookies or redirects: each flooding request stands alone.
fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}

/// `value` of the counter line `name` in a Prometheus text (0 when absent).
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_start_flood_against_a_small_redis_is_refused_at_the_failure_url_and_exchanges_go_on() {
    let redis = RedisServer::start().await;
    let mut connection = redis.connection().await;
    for (name, value) in [("maxmemory", "8mb"), ("maxmemory-policy", "noeviction")] {
        let () = ::redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query_async(&mut connection)
            .await
            .expect("CONFIG SET");
    }
    let shared = Shared::new(redis).await;
    let k1 = new_key("k1");
    let a = shared.gateway(true, &[&k1], "").await;
    let b = shared.gateway(false, &[&k1], "").await;

    // A redirect login is under way when the flood begins.
    let browser = crate::helpers::browser();
    let callback = shared.authorize(&start(&browser, &a).await, "alice");

    // The flood: anonymous starts on A with the longest URLs the allow-list takes (about 4 KB
    // per login once sealed), far more than 8 MB hold.
    let long = |page: &str| format!("{APP}{page}?{}", "q".repeat(1990));
    let (success, failure) = (long("done"), long("failed"));
    let url = start_url(&a, &success, &failure);
    let client = bare_client();
    let outcomes: Vec<Started> = futures::stream::iter(0..3000)
        .map(|_| start_at(&client, &url, &failure))
        .buffer_unordered(16)
        .collect()
        .await;
    let refused = outcomes.iter().filter(|o| **o == Started::Refused).count();
    assert!(refused > 0, "3000 logins of 4 KB were all stored in 8 MB");
    assert!(refused < outcomes.len(), "the flood stored no login at all");
    let info: String = ::redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut connection)
        .await
        .expect("INFO");
    let used = info
        .lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|used| used.trim().parse::<u64>().ok())
        .expect("used_memory");
    assert!(
        used < 8 << 20,
        "Redis reached its maxmemory ({used} bytes used)"
    );

    // The memory left keeps everything else working, on the other instance too.
    let assertion = exchange(&b, "jti-after-the-flood-0123456789").await;
    assert_eq!(assertion.status(), StatusCode::OK, "an exchange on B");
    assert_logged_in(&shared, get(&browser, &b.here(&callback)).await).await;
    assert_eq!(
        shared.minted(),
        2,
        "the exchange and the login: nothing else"
    );

    // Every refused start is counted.
    let metrics = get(&bare_client(), &format!("{}/metrics", a.url()))
        .await
        .text()
        .await
        .expect("metrics");
    let name =
        r#"idp_bridge_logins_failed_total{provider="corp",error_type="login_capacity_exceeded"}"#;
    assert_eq!(counter(&metrics, name), refused as u64, "{metrics}");
}

#[tokio::test]
async fn max_open_transactions_is_one_budget_for_every_instance() {
    let mut shared = Shared::new(RedisServer::start().await).await;
    shared.max_open_transactions = 4;
    let k1 = new_key("k1");
    let a = shared.gateway(true, &[&k1], "").await;
    let b = shared.gateway(false, &[&k1], "").await;

    // Two logins open on each instance spend the fleet's budget of four.
    let mut open = Vec::new();
    for gateway in [&a, &b, &a, &b] {
        let browser = crate::helpers::browser();
        let to_idp = start(&browser, gateway).await;
        assert!(!to_idp.as_str().starts_with(APP), "admitted: {to_idp}");
        open.push((browser, to_idp));
    }
    let client = bare_client();
    for gateway in [&a, &b] {
        assert_eq!(
            start_at(&client, &start_url(gateway, SUCCESS, FAILURE), FAILURE).await,
            Started::Refused,
            "a fifth login, on either instance"
        );
    }

    // A callback takes its login out of the budget: one more start is admitted, on the other
    // instance, and the one after it is refused again.
    let (browser, to_idp) = &open[0];
    let callback = shared.authorize(to_idp, "alice");
    assert_logged_in(&shared, get(browser, &b.here(&callback)).await).await;
    let url = start_url(&b, SUCCESS, FAILURE);
    assert_eq!(start_at(&client, &url, FAILURE).await, Started::Admitted);
    assert_eq!(start_at(&client, &url, FAILURE).await, Started::Refused);
    assert_eq!(shared.minted(), 1);
}
