//! Fault injection: latency, error statuses, dropped connections, and list filters lost on the
//! way.
//!
//! Faults are checked before routing (but after the CORS layer, so preflights are never
//! faulted). Every active fault whose scope matches a request applies to it, in injection
//! order: latencies add up, and the first `Status` or `Drop` ends the request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::error::AppwriteError;
use crate::state::Shared;

/// A fault the emulator can inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before handling the request (it is then handled normally).
    Latency(Duration),
    /// Answer with this HTTP status and the matching Appwrite error body
    /// (see [`AppwriteError::injected`]; 429 also carries the `X-RateLimit-*` headers).
    Status(u16),
    /// Close the TCP connection without sending any response.
    Drop,
    /// Remove the `queries[]` parameters before the request reaches its route, as a proxy that
    /// strips bracketed parameters (or a server that does not read them) would: `GET /v1/users`
    /// then answers every user, whatever filter the caller sent.
    StripQueries,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultScope {
    /// Every request until [`crate::Emulator::clear_faults`].
    Always,
    /// The next `n` requests (any route).
    Next(usize),
    /// Requests whose method equals `method` (case-insensitive, `"*"` for any) and whose path
    /// starts with `path_prefix`. A prefix without the `/v1` API prefix (e.g. `/users`) is
    /// matched against the path with `/v1` removed. `times: None` means unlimited.
    Route {
        /// HTTP method or `"*"`.
        method: &'static str,
        /// Path prefix, with or without `/v1`.
        path_prefix: String,
        /// How many matching requests to fault; `None` for all of them.
        times: Option<usize>,
    },
}

impl FaultScope {
    fn matches(&self, method: &str, path: &str) -> bool {
        match self {
            FaultScope::Always | FaultScope::Next(_) => true,
            FaultScope::Route {
                method: m,
                path_prefix,
                ..
            } => {
                let method_ok = *m == "*" || m.eq_ignore_ascii_case(method);
                let path_ok = if path_prefix.starts_with("/v1") {
                    path.starts_with(path_prefix.as_str())
                } else {
                    path.strip_prefix("/v1")
                        .is_some_and(|p| p.starts_with(path_prefix.as_str()))
                };
                method_ok && path_ok
            }
        }
    }

    /// Remaining uses; `None` means unlimited.
    fn budget(&self) -> Option<usize> {
        match self {
            FaultScope::Always => None,
            FaultScope::Next(n) => Some(*n),
            FaultScope::Route { times, .. } => *times,
        }
    }
}

#[derive(Debug)]
struct Active {
    fault: Fault,
    scope: FaultScope,
    remaining: Option<usize>,
}

/// The set of injected faults.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    active: Mutex<Vec<Active>>,
}

impl FaultSet {
    /// Adds a fault.
    pub fn inject(&self, fault: Fault, scope: FaultScope) {
        let remaining = scope.budget();
        if remaining == Some(0) {
            return;
        }
        self.active
            .lock()
            .expect("fault set mutex poisoned")
            .push(Active {
                fault,
                scope,
                remaining,
            });
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.active
            .lock()
            .expect("fault set mutex poisoned")
            .clear();
    }

    /// The faults that apply to this request; uses up one unit of each matching budget.
    pub fn take(&self, method: &str, path: &str) -> Vec<Fault> {
        let mut active = self.active.lock().expect("fault set mutex poisoned");
        let mut hits = Vec::new();
        for a in active.iter_mut() {
            if a.scope.matches(method, path) {
                hits.push(a.fault.clone());
                if let Some(n) = a.remaining.as_mut() {
                    *n = n.saturating_sub(1);
                }
            }
        }
        active.retain(|a| a.remaining != Some(0));
        hits
    }
}

/// Per-connection handle that tells the connection task to drop the connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// Middleware applying injected faults before routing.
pub(crate) async fn middleware(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let faults = shared.faults.take(req.method().as_str(), req.uri().path());
    for fault in faults {
        match fault {
            Fault::Latency(d) => tokio::time::sleep(d).await,
            Fault::Status(status) => return AppwriteError::injected(status).into_response(),
            Fault::StripQueries => strip_queries(req.uri_mut()),
            Fault::Drop => match req.extensions().get::<ConnKill>() {
                Some(kill) => {
                    kill.0.notify_one();
                    // The connection task drops the connection (and this future with it).
                    std::future::pending::<()>().await;
                }
                None => {
                    return AppwriteError::new(500, "general_unknown", "Server Error")
                        .into_response();
                }
            },
        }
    }
    next.run(req).await
}

/// Removes every `queries[]` (or `queries[N]`) parameter from `uri`, keeping the others.
fn strip_queries(uri: &mut Uri) {
    let Some(query) = uri.query() else { return };
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name.split('[').next() != Some("queries"))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut path_and_query = uri.path().to_owned();
    if !kept.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(kept)
                .finish(),
        );
    }
    let mut parts = uri.clone().into_parts();
    if let Ok(rebuilt) = path_and_query.parse() {
        parts.path_and_query = Some(rebuilt);
    }
    if let Ok(stripped) = Uri::from_parts(parts) {
        *uri = stripped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_n_runs_out() {
        let set = FaultSet::default();
        set.inject(Fault::Status(500), FaultScope::Next(2));
        assert_eq!(set.take("GET", "/v1/users").len(), 1);
        assert_eq!(set.take("POST", "/v1/users").len(), 1);
        assert!(set.take("GET", "/v1/users").is_empty());
    }

    #[test]
    fn route_scope_matches_method_and_prefix() {
        let set = FaultSet::default();
        set.inject(
            Fault::Drop,
            FaultScope::Route {
                method: "post",
                path_prefix: "/users".into(),
                times: Some(1),
            },
        );
        assert!(set.take("GET", "/v1/users").is_empty());
        assert!(set.take("POST", "/v1/account/sessions/token").is_empty());
        assert_eq!(set.take("POST", "/v1/users/x/tokens"), vec![Fault::Drop]);
        assert!(set.take("POST", "/v1/users").is_empty());
    }

    #[test]
    fn stripping_queries_keeps_every_other_parameter() {
        let mut uri: Uri = "/v1/users?queries%5B%5D=%7B%7D&total=false&queries[0]=x&search=a%20b"
            .parse()
            .unwrap();
        strip_queries(&mut uri);
        assert_eq!(uri, "/v1/users?total=false&search=a+b");
        let mut only: Uri = "/v1/users?queries[]=x".parse().unwrap();
        strip_queries(&mut only);
        assert_eq!(only, "/v1/users");
    }

    #[test]
    fn always_stays_until_cleared() {
        let set = FaultSet::default();
        set.inject(Fault::Latency(Duration::from_millis(1)), FaultScope::Always);
        for _ in 0..5 {
            assert_eq!(set.take("GET", "/anything").len(), 1);
        }
        set.clear();
        assert!(set.take("GET", "/anything").is_empty());
    }
}
