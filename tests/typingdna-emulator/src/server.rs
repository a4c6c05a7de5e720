//! Connection handling: our own accept loop, one hyper connection per task in a `JoinSet`, so
//! that aborting the server task closes every open connection too (a pooled keep-alive
//! connection must not outlive [`crate::Emulator::stop`]).

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1::Builder;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Accepts connections until aborted; the `JoinSet` drops (and aborts) every connection then.
pub(crate) async fn serve(listener: TcpListener, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = app.clone().map_request(|req: Request<Incoming>| req);
                    connections.spawn(async move {
                        let _ = Builder::new()
                            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                            .await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
