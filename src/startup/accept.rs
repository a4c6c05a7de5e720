//! The accept loop of a listener: every connection served by hyper as HTTP/1.1, with deadlines
//! on its request headers, its request body and its writes, a bound on its buffers and a cap on
//! connections at once; on shutdown the listener closes and the connections finish their
//! requests.
//!
//! Written here because `axum::serve` has neither a header read timeout nor a connection cap:
//! a client that dribbled its headers a byte at a time held its connection (and a file
//! descriptor) forever, and enough of them stopped `accept` for everyone.
//! - **Header read timeout**: hyper's own (`header_read_timeout`, on Tokio's timer). A request
//!   whose headers are not complete in time loses its connection, however slowly they dribble
//!   in; hyper starts that clock when the connection is accepted and again each time a
//!   keep-alive connection goes idle, so an idle connection is closed after the same time.
//! - **Body deadline**: a request's body must be complete within the same time from its
//!   headers ([`deadline`]); a body dribbled a byte at a time fails to read (the route answers
//!   its 400, and the connection closes).
//! - **Write timeout**: when a write makes no progress for the same time (a client that never
//!   reads its answers, pipelining requests into a zero receive window), the connection is
//!   closed (`tokio-io-timeout`). There is no read timeout: while a request is being decided
//!   (up to the login budget) hyper keeps a read pending to notice a hang-up, and the header
//!   timeout and body deadline already bound every read the gateway waits for.
//! - **Buffers**: hyper's read buffer, and its write buffer, are each bounded by
//!   [`CONNECTION_BUFFER_BYTES`] (hyper's own default is about 400 KiB): request headers past it
//!   are refused with 431 before more is read.
//! - **Cap**: a slot (a semaphore permit) is taken *before* `accept`. With every slot held the
//!   loop stops accepting: new connections wait in the kernel's listen backlog, neither
//!   accepted nor refused, and are served as connections end.
//! - **HTTP/1.1 only.** hyper's HTTP/2 server has no header read timeout, and hyper-util's
//!   protocol sniffing reads the preface without one, so a client could hold an HTTP/2
//!   connection with a slow preface or with idle streams. The gateway sits behind a proxy that
//!   terminates TLS and speaks HTTP/1.1 to it; an HTTP/2 preface is refused like any malformed
//!   request.
//!
//! Must not: log a request line or a header (queries carry codes and state).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

mod deadline;

/// The bound of each of hyper's two buffers per connection (read and write). Request headers
/// must fit in it: the gateway's own limits allow a URI of 8 KiB (`http::limits`), and the
/// headers a proxy adds and a few cookies fit in the rest; bodies (at most 16 KiB) stream
/// through it. So a connection holds at most about 64 KiB of buffers in the process, besides
/// the kernel's socket buffers: `max_connections` × 64 KiB must fit the memory limit.
pub const CONNECTION_BUFFER_BYTES: usize = 32 * 1024;

/// How long the loop waits after an `accept` that failed for a reason of the process (no file
/// descriptor left, say) before it tries again, so the error is not logged in a tight loop.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// The `[server]` limits every listener serves with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `header_read_timeout_seconds`.
    pub header_read_timeout: Duration,
    /// `max_connections`, per listener.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` holds `true` (or its sender is gone); then closes
/// the listener, lets each connection finish the request it is serving, and returns once every
/// connection has ended. The router sees each peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(CONNECTION_BUFFER_BYTES);
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        if let Some((stream, peer, slot)) = accepted {
            tokio::spawn(connection(
                http.clone(),
                stream,
                Peer {
                    address: peer,
                    patience: limits.header_read_timeout,
                },
                router.clone(),
                stop.clone(),
                slot,
            ));
        }
    }
    drop(listener);
    // Each connection holds its slot until it ends: all slots back, all connections ended.
    let every = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(every).await;
}

/// The next connection, once a slot is free; `None` when `accept` failed (a connection that
/// was reset before it was accepted, or a lack of file descriptors, logged and waited out).
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    // The semaphore is never closed.
    let slot = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
        Err(error) => {
            use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
            if !matches!(
                error.kind(),
                ConnectionAborted | ConnectionRefused | ConnectionReset
            ) {
                tracing::error!(
                    %error,
                    retry_seconds = ACCEPT_RETRY.as_secs(),
                    "cannot accept connections (see [server] max_connections and the open-file limit)"
                );
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
            None
        }
    }
}

/// A connection's client: its address, and how long it may keep the gateway waiting
/// (`header_read_timeout`).
struct Peer {
    address: SocketAddr,
    patience: Duration,
}

/// Serves one connection until it ends, or, once `stop` holds `true`, until its request in
/// flight is answered. The slot is given back after the socket is closed.
async fn connection(
    http: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    peer: Peer,
    router: Router,
    mut stop: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let Peer { address, patience } = peer;
    let service = router.map_request(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| deadline::Deadline::new(body, patience));
        request.extensions_mut().insert(ConnectInfo(address));
        request
    });
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(patience));
    // The connection (and its socket) is dropped when this block ends, before the slot.
    async {
        let served = http.serve_connection(
            TokioIo::new(Box::pin(stream)),
            TowerToHyperService::new(service),
        );
        tokio::pin!(served);
        // An error here is the client's (a malformed request, a header timeout, a reset):
        // hyper has answered it where it could, and there is nothing left to do but close.
        let ended = tokio::select! {
            _ = served.as_mut() => true,
            () = stopped(&mut stop) => false,
        };
        if !ended {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
    .await;
    drop(slot);
}

/// Resolves once `stop` holds `true`, or its sender is gone (nothing can tell the loop to go on).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
