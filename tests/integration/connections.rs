//! Slow clients: `[server] header_read_timeout_seconds` closes a connection whose request
//! headers are not complete in time, however slowly they dribble in, on the main listener and
//! on `metrics_listen`, and one whose request body is not complete in as long; a client that
//! stops reading its answers is cut when the gateway's writes make no progress for as long;
//! past `[server] max_connections`, new connections wait until slots free, and `/healthz` is
//! answered once the slow ones are cut. Request headers past the per-connection buffer are
//! refused with 431.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Options, TestApp};

/// How long a client waits for the gateway to cut it (or to answer): far above the one-second
/// header timeout of these tests, so only a server that never cuts a slow client runs into it.
/// A guard against a hang, not a claim about how fast the gateway cuts.
const PATIENCE: Duration = Duration::from_secs(30);

/// The gateway with `lines` in `[server]`.
async fn gateway(lines: &str) -> TestApp {
    TestApp::spawn_with(Options {
        server_extra: lines.into(),
        ..Options::mock()
    })
    .await
}

/// `host:port` of a URL such as `http://127.0.0.1:8080/metrics`.
fn address(url: &str) -> String {
    let url = url::Url::parse(url).expect("url");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    )
}

/// Whether the server closed `stream` (end of file, or a reset) before `until`; what it sent
/// first (an error status, perhaps) is added to `answer`.
async fn closed_by(stream: &mut TcpStream, until: Instant, answer: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(read)) => answer.extend_from_slice(&buf[..read]),
            Err(_) => return false,
        }
    }
}

/// The status of `GET /healthz`, waiting for it up to [`PATIENCE`].
async fn healthz(app: &TestApp) -> reqwest::Result<reqwest::StatusCode> {
    let client = reqwest::Client::builder()
        .timeout(PATIENCE)
        .no_proxy()
        .build()?;
    let response = client
        .get(format!("{}/healthz", app.gateway))
        .send()
        .await?;
    Ok(response.status())
}

/// The start of a request whose last header never ends.
const SLOW_HEADER: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ";

/// A client that sends `start` (the start of a request) and then one more byte every `every`
/// (the pace of a slow client, not a wait for anything), never ending it: what the server sent
/// before it closed the connection, `None` when it was still open after [`PATIENCE`].
async fn dribble(addr: &str, start: &[u8], every: Duration) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let until = Instant::now() + PATIENCE;
    let mut answer = Vec::new();
    if stream.write_all(start).await.is_err() {
        return Some(answer);
    }
    while Instant::now() < until {
        if stream.write_all(b"a").await.is_err() {
            // Cut while writing: what it sent is still there to read.
            closed_by(&mut stream, until, &mut answer).await;
            return Some(answer);
        }
        let next = (Instant::now() + every).min(until);
        if closed_by(&mut stream, next, &mut answer).await {
            return Some(answer);
        }
    }
    None
}

#[tokio::test]
async fn dribbled_request_headers_are_cut_at_the_header_read_timeout_on_both_listeners() {
    let app = gateway("header_read_timeout_seconds = 1\nmetrics_listen = \"127.0.0.1:0\"").await;
    let (main, metrics) = (address(&app.gateway), address(&app.metrics_url));
    assert_ne!(main, metrics);
    let every = Duration::from_millis(200);
    let clients = (0..24).map(|i| {
        let addr = if i % 2 == 0 { &main } else { &metrics };
        dribble(addr, SLOW_HEADER, every)
    });
    let cut = futures::future::join_all(clients).await;
    let open = cut.iter().filter(|cut| cut.is_none()).count();
    assert_eq!(
        open, 0,
        "{open} of 24 connections dribbling a header byte every 200 ms were still open after {PATIENCE:?}"
    );
    // Cut by the timeout, with no answer: not refused as a malformed or oversized request.
    for answer in cut.into_iter().flatten() {
        assert!(
            answer.is_empty(),
            "answered: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    // The instance serves on.
    let health = app.get(&format!("{}/healthz", app.gateway)).await;
    assert_eq!(health.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn past_max_connections_healthz_waits_for_a_slot_and_is_answered_once_slow_ones_are_cut() {
    let app = gateway("header_read_timeout_seconds = 1\nmax_connections = 2").await;
    let addr = address(&app.gateway);
    let until = Instant::now() + PATIENCE;
    // Two slow clients take both slots: each sends a request line and nothing more.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .expect("write");
        slow.push(stream);
    }
    // The first slow client to be cut, and the /healthz asked after them: answered only once
    // a slot is free (were connections not capped, it would be answered at once, a second
    // before any slow client is cut). Which came first is told by the order the test saw them
    // in, not by a clock.
    let seen = AtomicUsize::new(0);
    let first_cut = async {
        let (mut one, mut two) = (slow.remove(0), slow.remove(0));
        let (mut sent_one, mut sent_two) = (Vec::new(), Vec::new());
        let cut = tokio::select! {
            cut = closed_by(&mut one, until, &mut sent_one) => cut,
            cut = closed_by(&mut two, until, &mut sent_two) => cut,
        };
        cut.then(|| seen.fetch_add(1, Ordering::SeqCst))
    };
    let health = async {
        let status = healthz(&app).await.expect("/healthz is answered");
        (status, seen.fetch_add(1, Ordering::SeqCst))
    };
    let (first_cut, (status, answered)) = tokio::join!(first_cut, health);
    assert_eq!(status, reqwest::StatusCode::OK);
    let first_cut = first_cut.expect("a slow client is cut within the patience");
    assert!(
        first_cut < answered,
        "/healthz was answered before a slow client was cut: connections are not capped"
    );
}

#[tokio::test]
async fn a_request_body_dribbled_a_byte_at_a_time_is_cut_at_the_header_read_timeout() {
    let app = gateway("header_read_timeout_seconds = 1").await;
    let start = b"POST /v1/auth/corp/exchange HTTP/1.1\r\nHost: gateway\r\n\
        Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"a\":\"";
    // Each byte arrives well within the timeout: the request as a whole does not.
    let answer = dribble(&address(&app.gateway), start, Duration::from_millis(300))
        .await
        .unwrap_or_else(|| {
            panic!("a body dribbled a byte every 300 ms was still being read after {PATIENCE:?}")
        });
    // Cut by the body deadline: the route could not read the body and answered its 400.
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 ") && answer.contains("could not be read to its end"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_cut_and_frees_its_slot() {
    let app = gateway("header_read_timeout_seconds = 1\nmax_connections = 1").await;
    let addr: std::net::SocketAddr = address(&app.gateway).parse().expect("address");
    // A tiny receive window, and many pipelined requests for a large answer, never read.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(1024).expect("receive buffer");
    let mut stream = socket.connect(addr).await.expect("connect");
    let requests = b"GET /metrics HTTP/1.1\r\nHost: gateway\r\n\r\n".repeat(5000);
    let writer = tokio::spawn(async move {
        // The gateway stops reading once its writes are stuck: the write may never finish.
        let _ = stream.write_all(&requests).await;
        stream
    });
    // The only slot is held by that client until the gateway cuts it.
    let status = healthz(&app).await;
    assert!(
        matches!(status, Ok(reqwest::StatusCode::OK)),
        "/healthz was not answered within {PATIENCE:?} while a client did not read: {status:?}"
    );
    writer.abort();
}

#[tokio::test]
async fn request_headers_past_the_connection_buffer_are_a_431_and_a_few_cookies_pass() {
    let app = gateway("").await;
    let url = format!("{}/healthz", app.gateway);
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let cookie = format!(
        "a={}; b={}; c={}",
        "x".repeat(4000),
        "y".repeat(4000),
        "z".repeat(4000)
    );
    let few = client.get(&url).header("Cookie", cookie).send().await;
    assert_eq!(few.expect("answered").status(), reqwest::StatusCode::OK);
    let big = client
        .get(&url)
        .header("X-Big", "a".repeat(64 * 1024))
        .send()
        .await;
    let status = big.map(|response| response.status());
    assert!(
        matches!(
            status,
            Ok(reqwest::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE) | Err(_)
        ),
        "64 KiB of request headers were read whole: {status:?}"
    );
}
