//! The browser side of a login: `start`, the OP's authorization (which signs `alice` in at
//! once through `login_hint`), the callback; each answer checked, the last one end to end (a
//! 302 to the success page carrying `userId` and a `secret` of the configured length).
//!
//! Each worker is one browser with its own keep-alive connections (one `reqwest::Client`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use url::Url;

/// The app's pages, under the gateway's allow-list.
pub const APP: &str = "http://127.0.0.1:3000/app/";
/// The provider id in gateway URLs.
pub const PROVIDER: &str = "corp";
/// Who logs in, every time (a returning user after the first login).
pub const USER: &str = "alice";
/// Length of the minted secret (the gateway's default `[token] length`).
pub const SECRET_LENGTH: usize = 64;

/// `{base}/v1/auth/corp/start?success=..&failure=..&login_hint=alice`, with success and failure
/// URLs of `url_len` bytes when given (the longest the allow-list takes is 2048).
pub fn start_url(base: &str, url_len: Option<usize>) -> String {
    let page = |name: &str| {
        let short = format!("{APP}{name}");
        match url_len {
            Some(len) if len > short.len() + 1 => {
                format!("{short}/{}", "x".repeat(len - short.len() - 1))
            }
            _ => short,
        }
    };
    let mut url = format!("{base}/v1/auth/{PROVIDER}/start");
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("success", &page("done"))
        .append_pair("failure", &page("failed"))
        .append_pair("login_hint", USER)
        .finish();
    url.push('?');
    url.push_str(&query);
    url
}

/// A browser: no redirects followed (each one is checked), no proxy, keep-alive.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A login that did not end at the success page, and where it went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {detail}")]
pub struct LoginFailure {
    step: &'static str,
    detail: String,
}

fn fail(step: &'static str, detail: impl Into<String>) -> LoginFailure {
    LoginFailure {
        step,
        detail: detail.into(),
    }
}

/// `GET url` (with `cookie`) that must answer 302; returns the `Location` and the first
/// `Set-Cookie` as `name=value`.
async fn redirect(
    client: &reqwest::Client,
    step: &'static str,
    url: &str,
    cookie: Option<&str>,
) -> Result<(String, Option<String>), LoginFailure> {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request
        .send()
        .await
        .map_err(|e| fail(step, e.to_string()))?;
    if response.status() != StatusCode::FOUND {
        return Err(fail(step, format!("HTTP {}", response.status())));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header(LOCATION).ok_or_else(|| fail(step, "302 without Location"))?;
    let cookie = header(SET_COOKIE).and_then(|c| c.split(';').next().map(str::to_string));
    Ok((location, cookie))
}

/// One whole login from `start_url`; returns the Appwrite user id it ended with.
///
/// # Errors
/// The first step that did not answer as a successful login does.
pub async fn login(client: &reqwest::Client, start_url: &str) -> Result<String, LoginFailure> {
    let (to_op, cookie) = redirect(client, "start", start_url, None).await?;
    let (to_callback, _) = redirect(client, "authorize", &to_op, None).await?;
    let (to_app, _) = redirect(client, "callback", &to_callback, cookie.as_deref()).await?;
    let done = Url::parse(&to_app).map_err(|e| fail("callback", e.to_string()))?;
    if !done.as_str().starts_with(APP) {
        return Err(fail("callback", format!("redirected to {}", done.path())));
    }
    let param = |name: &str| {
        done.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match (param("userId"), param("secret")) {
        (Some(user), Some(secret)) if !user.is_empty() && secret.len() == SECRET_LENGTH => Ok(user),
        _ => Err(fail(
            "callback",
            format!(
                "the success redirect lacks userId or a {SECRET_LENGTH}-character secret (error: {:?})",
                param("error")
            ),
        )),
    }
}

/// How the logins of a round are paced.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Each worker starts its next login when the last one ends.
    Closed,
    /// Logins are due at this many per second; a login's latency counts from when it was due,
    /// so a stalled server is not hidden by the workers waiting on it.
    Rate(f64),
}

/// What a round of logins measured.
#[derive(Debug, Default)]
pub struct Round {
    /// Latency of each successful login, in microseconds.
    pub latencies_us: Vec<u32>,
    /// Logins that failed.
    pub failures: usize,
    /// The first failure, for the report.
    pub first_failure: Option<String>,
    /// Wall time of the round.
    pub elapsed: Duration,
}

/// Runs `logins` logins against `start_url` with `workers` browsers.
pub async fn round(start_url: &str, logins: usize, workers: usize, pace: Pace) -> Round {
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let tasks: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (next, url) = (next.clone(), start_url.to_string());
            tokio::spawn(async move {
                let client = browser();
                let mut mine = Round::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= logins {
                        break;
                    }
                    let due = match pace {
                        Pace::Closed => Instant::now(),
                        Pace::Rate(per_second) => {
                            let due = began + Duration::from_secs_f64(i as f64 / per_second);
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                    };
                    match login(&client, &url).await {
                        Ok(_) => mine
                            .latencies_us
                            .push(u32::try_from(due.elapsed().as_micros()).unwrap_or(u32::MAX)),
                        Err(e) => {
                            mine.failures += 1;
                            mine.first_failure.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut total = Round::default();
    for task in tasks {
        match task.await {
            Ok(mine) => {
                total.latencies_us.extend(mine.latencies_us);
                total.failures += mine.failures;
                if total.first_failure.is_none() {
                    total.first_failure = mine.first_failure;
                }
            }
            Err(e) => {
                total.failures += 1;
                total.first_failure.get_or_insert_with(|| e.to_string());
            }
        }
    }
    total.elapsed = began.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
