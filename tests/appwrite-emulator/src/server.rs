//! Connection handling: our own accept loop, one hyper connection per task.
//!
//! Serving connections ourselves (instead of `axum::serve`) lets a `Fault::Drop` close the TCP
//! connection without any response: the fault middleware signals the connection's
//! [`ConnKill`], and the connection task drops the hyper connection (and the socket).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1::Builder;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::faults::ConnKill;

/// The client's socket address, available to handlers as a request extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// Accepts connections forever. Aborting the task that runs this drops the [`JoinSet`], which
/// aborts every connection task too.
pub(crate) async fn serve(listener: TcpListener, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, app.clone()));
                }
                // E.g. too many open files: back off a little and keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router) {
    let kill = Arc::new(Notify::new());
    let handle = ConnKill(kill.clone());
    let service = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(handle.clone());
        req.extensions_mut().insert(Peer(peer));
        req
    });
    // HTTP/1.1 only, like the gateway that calls it (no HTTP/2: one dependency less to build).
    let connection = Builder::new()
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::select! {
        _ = connection => {}
        // Dropping `connection` closes the socket without answering.
        _ = kill.notified() => {}
    }
}
