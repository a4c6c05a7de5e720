//! The whole redirect-login callback, end to end over loopback HTTP.
//!
//! Everything runs in this process on one multi-thread Tokio runtime: the mock OpenID provider
//! (`mock-op`: token endpoint, JWKS), the Appwrite emulator, and the real gateway built from the
//! library (`Config::from_toml` + `Application::with_listener`) on `127.0.0.1:0`. No log
//! subscriber is installed, so logging costs next to nothing.
//!
//! Benchmarks (`cargo bench --bench callback`):
//! - `login/callback_returning_user_rs256`: one browser callback
//!   `GET /v1/auth/corp/callback?code=..&state=..&iss=..` with the binding cookie: the gateway
//!   takes the transaction, redeems the code at the OP, verifies the RS256 ID token (keys cached),
//!   gets the existing Appwrite user ("alice" every time), mints a token and answers 302 to the
//!   success URL. Timed: that request only. Untimed per iteration: `start` and the OP's
//!   non-interactive `authorize`; afterwards every answer is checked to be a 302 to the success
//!   URL carrying `secret=`, so a failing pipeline panics instead of being measured.
//! - `login/callback_returning_user_es256`: the same with the OP signing ES256 and the gateway
//!   allowing `["RS256", "ES256"]`.
//! - `login/start`: `GET /v1/auth/corp/start?success=..&failure=..` alone (302 to the OP checked
//!   untimed).
//! - `mock_op/sign_id_token_{rs256,es256}`: the OP's signing alone, in-process, to tell how much
//!   of a callback is the test double's own work rather than the gateway's.

// A benchmark: a failed unwrap or expect ends the run, which is what it is for (the workspace
// lints warn about them in the product's code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use appwrite_emulator::{Emulator, EmulatorConfig};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use mock_op::{Behavior, MockOp, MockOpConfig, SigningAlg};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use tokio::runtime::Runtime;
use url::Url;

mod common;

use common::{Gateway, PROVIDER, spawn_gateway};

/// The app's two pages (under `common::APP`).
const SUCCESS: &str = "http://127.0.0.1:3000/app/done";
const FAILURE: &str = "http://127.0.0.1:3000/app/failed";
/// The user who logs in on every iteration (a returning user after the first login).
const USER: &str = "alice";

/// A gateway with its own OP and Appwrite emulator.
struct Stack {
    /// `{gateway}/v1/auth/corp/start?success=..&failure=..`.
    start_url: String,
    /// `{gateway}/v1/auth/corp/callback`.
    callback_prefix: String,
    op: MockOp,
    emulator: Emulator,
    /// The browser: redirects not followed; it keeps the binding cookie itself (see
    /// [`Stack::prepare_callback`]).
    browser: reqwest::Client,
    /// Stops the gateway when the stack is dropped.
    _gateway: Gateway,
}

/// What a gateway answered: status, `Location` and `Set-Cookie`s.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
}

/// A login ready for its callback: the URL the OP redirects to and the binding cookie.
struct Pending {
    url: String,
    /// `name=value`, as the browser sends it back.
    cookie: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("reqwest client")
}

impl Stack {
    /// Starts an OP signing with `alg`, an emulator and a gateway allowing `algs`, then runs
    /// one full login so that metadata and keys are cached and the user exists.
    async fn spawn(alg: SigningAlg, algs: &[&str]) -> Stack {
        let op = MockOp::spawn(MockOpConfig::default()).await;
        op.set_behavior(Behavior {
            alg: Some(alg),
            ..Default::default()
        });
        let emulator = Emulator::spawn(EmulatorConfig::default()).await;
        // 10 million: `login/start` opens a transaction per iteration and none is ever
        // finished, so the default cap of 100 000 would be reached within a run.
        let gateway = spawn_gateway(&op, &emulator, algs, 10_000_000).await;
        let gateway_url = gateway.url.clone();
        let mut start =
            Url::parse(&format!("{gateway_url}/v1/auth/{PROVIDER}/start")).expect("url");
        start
            .query_pairs_mut()
            .append_pair("success", SUCCESS)
            .append_pair("failure", FAILURE);
        let stack = Stack {
            start_url: start.into(),
            callback_prefix: format!("{gateway_url}/v1/auth/{PROVIDER}/callback"),
            op,
            emulator,
            browser: client(),
            _gateway: gateway,
        };
        // Warm-up: the first login loads discovery + JWKS and creates the user; the second is
        // the steady state the benchmark measures.
        for _ in 0..2 {
            let pending = stack.prepare_callback().await;
            let answer = stack.callback(&pending).await;
            stack.check_success(&pending, &answer);
        }
        assert_eq!(stack.emulator.users_count(), 1, "one user, created once");
        stack
    }

    /// Untimed setup: `start` in the browser, then the OP's non-interactive authorization as
    /// [`USER`]; returns the callback URL the OP redirects to (code, state, iss) and the
    /// binding cookie `start` set.
    ///
    /// The cookie is carried by hand rather than by reqwest's cookie jar: `cookie_store` keeps
    /// a cookie that the server deletes (`Max-Age=0`) as an expired entry forever and scans
    /// every entry on every request, so with a jar the client's own cost grows with each
    /// iteration (a few percent of a callback after a few thousand logins). A browser drops
    /// deleted cookies.
    async fn prepare_callback(&self) -> Pending {
        let answer = get(&self.browser, &self.start_url, None).await;
        let to_op = self.check_start(&answer);
        let cookie = binding_cookie(&answer)
            .unwrap_or_else(|| panic!("start set no binding cookie: {:?}", answer.set_cookies));
        let authorization = self
            .op
            .authorize(&to_op, USER)
            .unwrap_or_else(|e| panic!("the OP refused the gateway's request: {e}"));
        assert!(
            authorization.redirect_to.starts_with(&self.callback_prefix),
            "the OP redirects to the gateway's callback: {}",
            authorization.redirect_to
        );
        Pending {
            url: authorization.redirect_to,
            cookie,
        }
    }

    /// The measured request: the browser's callback, with its binding cookie.
    async fn callback(&self, pending: &Pending) -> Answer {
        get(&self.browser, &pending.url, Some(&pending.cookie)).await
    }

    /// `start` answered 302 to the OP; returns the authorization URL.
    fn check_start(&self, answer: &Answer) -> String {
        let location = answer.location.clone().unwrap_or_default();
        assert!(
            answer.status == StatusCode::FOUND && location.starts_with(&self.op.issuer()),
            "start must answer 302 to the OP, got {} {location:?}",
            answer.status
        );
        location
    }

    /// The callback answered 302 to the success URL with a minted secret, and deleted the
    /// binding cookie.
    fn check_success(&self, pending: &Pending, answer: &Answer) {
        let location = answer.location.as_deref().unwrap_or_default();
        assert!(
            answer.status == StatusCode::FOUND
                && location.starts_with(SUCCESS)
                && location.contains("secret=")
                && location.contains("userId="),
            "callback must answer 302 to the success URL with userId and secret, got {} {location:?}",
            answer.status
        );
        let name = pending.cookie.split('=').next().unwrap_or_default();
        assert!(
            answer
                .set_cookies
                .iter()
                .any(|c| c.starts_with(&format!("{name}=")) && c.contains("Max-Age=0")),
            "callback must delete the binding cookie {name}: {:?}",
            answer.set_cookies
        );
    }
}

/// One GET (with a `Cookie` header when given): status, `Location` and `Set-Cookie`s, body
/// read to the end (so the connection is reused).
async fn get(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> Answer {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers();
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let set_cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    response.bytes().await.expect("body");
    Answer {
        status,
        location,
        set_cookies,
    }
}

/// The binding cookie of a `start` answer, as `name=value`.
fn binding_cookie(answer: &Answer) -> Option<String> {
    answer.set_cookies.iter().find_map(|c| {
        let pair = c.split(';').next()?.trim();
        let (name, _) = pair.split_once('=')?;
        name.trim_start_matches("__Host-")
            .starts_with("idpb_")
            .then(|| pair.to_owned())
    })
}

fn bench_callback(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    stack: &Stack,
    name: &str,
) {
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let mut answers = Vec::with_capacity(usize::try_from(iters).unwrap_or(0));
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let pending = stack.prepare_callback().await;
                let began = Instant::now();
                let answer = stack.callback(&pending).await;
                total += began.elapsed();
                answers.push((pending, answer));
            }
            for (pending, answer) in &answers {
                stack.check_success(pending, answer);
            }
            // The emulator logs every call; keep the log from growing through the run.
            stack.emulator.clear_calls();
            total
        });
    });
}

fn bench_start(group: &mut BenchmarkGroup<'_, WallTime>, rt: &Runtime, stack: &Stack) {
    group.bench_function("start", |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let mut answers = Vec::with_capacity(usize::try_from(iters).unwrap_or(0));
            let began = Instant::now();
            for _ in 0..iters {
                answers.push(get(&stack.browser, &stack.start_url, None).await);
            }
            let total = began.elapsed();
            for answer in &answers {
                stack.check_start(answer);
                assert!(
                    binding_cookie(answer).is_some(),
                    "start sets the binding cookie"
                );
            }
            total
        });
    });
}

fn bench_signing(c: &mut Criterion, op: &MockOp) {
    let claims = op.id_token_claims(USER, "bench-nonce");
    let mut group = c.benchmark_group("mock_op");
    for (name, alg) in [
        ("sign_id_token_rs256", SigningAlg::RS256),
        ("sign_id_token_es256", SigningAlg::ES256),
    ] {
        let behavior = Behavior {
            alg: Some(alg),
            ..Default::default()
        };
        group.bench_function(name, |b| b.iter(|| op.sign_id_token(&claims, &behavior)));
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rs256 = rt.block_on(Stack::spawn(SigningAlg::RS256, &["RS256"]));
    let es256 = rt.block_on(Stack::spawn(SigningAlg::ES256, &["RS256", "ES256"]));

    let mut group = c.benchmark_group("login");
    bench_callback(&mut group, &rt, &rs256, "callback_returning_user_rs256");
    bench_callback(&mut group, &rt, &es256, "callback_returning_user_es256");
    bench_start(&mut group, &rt, &rs256);
    group.finish();
    bench_signing(c, &rs256.op);

    // Each stack's users: still the one created at warm-up, so every login was a returning one.
    assert_eq!(rs256.emulator.users_count(), 1);
    assert_eq!(es256.emulator.users_count(), 1);
    drop((rs256, es256));
    rt.shutdown_timeout(Duration::from_secs(1));
}

criterion_group!(callback, benches);
criterion_main!(callback);
