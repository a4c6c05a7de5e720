//! The browser side of a login: `start`, the OP's authorization (which signs `alice` in at
//! once through `login_hint`), the callback; each answer checked, the last one end to end (a
//! 302 to the success page carrying `userId` and a `secret` of the configured length).
//!
//! Each worker is one browser with its own keep-alive connections (one `reqwest::Client`).
//! Several gateway instances behind one address are reached through a [`Balancer`]: the driver
//! plays the load balancer.

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
    login_via(client, start_url, None).await
}

/// Several gateway instances behind one address, as a load balancer shows them: every request
/// to `address` goes to the next instance in turn (round robin per request, done here in the
/// driver rather than by a proxy process, so a login's `start` and `callback` usually reach
/// different instances and the shared store is on the path).
#[derive(Debug)]
pub struct Balancer {
    address: String,
    instances: Vec<String>,
    next: AtomicUsize,
}

impl Balancer {
    /// `address` (the instances' common `public_url`) in front of `instances` (their own URLs).
    pub fn new(address: &str, instances: Vec<String>) -> Self {
        Self {
            address: address.to_string(),
            instances,
            next: AtomicUsize::new(0),
        }
    }

    /// The balancer's address (the `public_url` every instance is configured with).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Where a request for `url` goes: the next instance when `url` is under the balancer's
    /// address, `url` itself otherwise (the OP).
    pub fn route(&self, url: &str) -> String {
        // The address's own URLs only: `http://host:90` is not under `http://host:9`.
        let under = |rest: &&str| rest.is_empty() || rest.starts_with(['/', '?']);
        match url.strip_prefix(&self.address).filter(under) {
            Some(rest) if !self.instances.is_empty() => {
                let i = self.next.fetch_add(1, Ordering::Relaxed) % self.instances.len();
                format!("{}{rest}", self.instances[i])
            }
            _ => url.to_string(),
        }
    }
}

/// Where a request for `url` goes: through `balancer` when given, else to `url` itself.
fn routed(balancer: Option<&Balancer>, url: &str) -> String {
    balancer.map_or_else(|| url.to_string(), |b| b.route(url))
}

/// [`login`], with the gateway's requests sent through `balancer` when given.
///
/// # Errors
/// As [`login`].
pub async fn login_via(
    client: &reqwest::Client,
    start_url: &str,
    balancer: Option<&Balancer>,
) -> Result<String, LoginFailure> {
    let start = routed(balancer, start_url);
    let (to_op, cookie) = redirect(client, "start", &start, None).await?;
    let (to_callback, _) = redirect(client, "authorize", &to_op, None).await?;
    let callback = routed(balancer, &to_callback);
    let (to_app, _) = redirect(client, "callback", &callback, cookie.as_deref()).await?;
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
    /// so a stalled server is not hidden by the workers waiting on it. The workers still bound
    /// the logins in flight (a late login waits for a free worker); [`open_round`] does not.
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
    /// The most the driver fell behind its schedule ([`open_round`] only): its own lag, which
    /// the latencies include.
    pub send_lag: Duration,
}

impl Round {
    /// Counts one login: its latency when it succeeded, its failure otherwise.
    fn record(&mut self, outcome: Result<Duration, String>) {
        match outcome {
            Ok(latency) => self
                .latencies_us
                .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX)),
            Err(failure) => {
                self.failures += 1;
                self.first_failure.get_or_insert(failure);
            }
        }
    }

    /// Adds the logins of a task (or its failure, when it panicked) to the round.
    fn absorb(&mut self, task: Result<Round, tokio::task::JoinError>) {
        match task {
            Ok(mine) => {
                self.latencies_us.extend(mine.latencies_us);
                self.failures += mine.failures;
                if self.first_failure.is_none() {
                    self.first_failure = mine.first_failure;
                }
            }
            Err(e) => self.record(Err(e.to_string())),
        }
    }
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
                    let outcome = login(&client, &url).await;
                    mine.record(outcome.map(|_| due.elapsed()).map_err(|e| e.to_string()));
                }
                mine
            })
        })
        .collect();
    let mut total = Round::default();
    for task in tasks {
        total.absorb(task.await);
    }
    total.elapsed = began.elapsed();
    total
}

/// Runs `logins` logins arriving at `per_second` through `balancer`, open loop: login `i` is
/// sent `i / per_second` after the round began whether or not earlier ones have finished (each
/// on a task of its own, through one client whose pool grows with the logins in flight, as a
/// proxy's upstream pool does), so a saturated gateway meets a growing queue as it would in
/// production. A login not finished within `timeout` fails.
///
/// Coordinated omission: a login's latency counts from when it was *scheduled*, not from when
/// the driver sent it, so any delay (the gateway's queue, or the driver itself falling behind
/// its schedule on a busy machine) counts against the login, as in wrk2. `send_lag` says how
/// far behind the driver fell.
pub async fn open_round(
    start_url: &str,
    balancer: &Arc<Balancer>,
    logins: usize,
    per_second: f64,
    timeout: Duration,
) -> Round {
    let client = browser();
    let mut flying = tokio::task::JoinSet::new();
    let mut total = Round::default();
    let flatten = |done: Result<Result<Duration, String>, tokio::task::JoinError>| {
        done.unwrap_or_else(|e| Err(e.to_string()))
    };
    let began = Instant::now();
    for i in 0..logins {
        let due = began + Duration::from_secs_f64(i as f64 / per_second);
        tokio::time::sleep_until(due.into()).await;
        total.send_lag = total.send_lag.max(due.elapsed());
        let (client, balancer, url) = (client.clone(), balancer.clone(), start_url.to_string());
        flying.spawn(async move {
            match tokio::time::timeout(timeout, login_via(&client, &url, Some(&balancer))).await {
                Ok(Ok(_)) => Ok(due.elapsed()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
            }
        });
        // Results are taken as they come, so finished tasks do not pile up.
        while let Some(done) = flying.try_join_next() {
            total.record(flatten(done));
        }
    }
    while let Some(done) = flying.join_next().await {
        total.record(flatten(done));
    }
    total.elapsed = began.elapsed();
    total
}

/// Sends `n` `start` requests to `url` (through `balancer` when given), `concurrency` at once;
/// counts those that redirected to the OP (a login opened) and the others (refused).
pub async fn starts(
    url: &str,
    balancer: Option<&Arc<Balancer>>,
    n: usize,
    concurrency: usize,
) -> (usize, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let stored = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, stored, url) = (next.clone(), stored.clone(), url.to_string());
            let balancer = balancer.cloned();
            tokio::spawn(async move {
                let client = browser();
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let to = routed(balancer.as_deref(), &url);
                    let opened = redirect(&client, "start", &to, None)
                        .await
                        .is_ok_and(|(location, _)| location.contains("/authorize?"));
                    if opened {
                        stored.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let stored = stored.load(Ordering::Relaxed);
    (stored, n - stored)
}

#[cfg(test)]
mod tests;
