//! Readiness: whether this instance can serve (`GET /readyz`), and the state of every
//! dependency, reported beside that verdict in its body and in the health gauges.
//!
//! Ready means: the configuration is loaded (always, once serving: a refused reload keeps the
//! previous one), shutdown has not begun, and the transaction store answers. The store is this
//! instance's own way to serve: without it no login can start or finish, so its failure is a
//! 503 that takes this instance out of the load balancer. Appwrite and the providers are shared
//! by every replica: a 503 for their outage would take every replica out at once, and with
//! them every login that does not need what failed. So their failures are reported (the body's
//! `checks` and `errors`, the `*_up` gauges) and the answer stays 200, `"degraded"`. A provider
//! that is down fails its own logins (`provider_unavailable`), nothing else.
//!
//! A verdict takes at most [`CHECK_BUDGET`], whatever hangs: probes give up after a few seconds
//! (3 in the deployment examples), and a dependency that held every replica's probe past that
//! would take them all out just the same. A check still running at the budget is reported
//! failed ("no answer within 2s") and goes on as a task of its own, bounded by the dependency's
//! own timeouts, so a slow load is finished rather than started over by every round.
//!
//! Owns: the checks and the cached verdict (the draining flag is `draining`'s).
//! Must not: use `http::state` or the handlers (they use this module); put a secret in a
//! verdict (each failed check reports its error's text, which, like the log lines it also
//! goes to, never holds a key, a secret or a password).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures::future::join_all;
use serde_json::{Map, Value, json};

use crate::login::Login;
use crate::metrics::{Health, Metrics};

/// How long a verdict is reused. `/readyz` needs no authentication, so without this every call
/// would reach Appwrite, the store and every provider.
pub const READY_CACHE: Duration = Duration::from_secs(5);

/// How long a round waits for its checks, which run side by side. Below the readiness probes'
/// timeouts (3 s in `deploy/`; a test keeps them above it).
pub const CHECK_BUDGET: Duration = Duration::from_secs(2);

/// The cached verdict: computed by one caller at a time (moka's `get_with` runs one
/// initialiser per key and lets concurrent callers wait for it), reused for [`READY_CACHE`],
/// failures included (an outage is when a flood would hurt most).
pub struct Readiness {
    cache: moka::future::Cache<(), Arc<Verdict>>,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(READY_CACHE)
                .build(),
        }
    }
}

impl Readiness {
    /// The current verdict: the cached one, or a fresh round of checks of `login`'s
    /// dependencies, whose findings also go to `metrics`' health gauges.
    pub async fn verdict(&self, login: &Login, metrics: &Metrics) -> Arc<Verdict> {
        self.cache
            .get_with((), async {
                let round = Round::run(login).await;
                metrics.record_health(round.health());
                Arc::new(round.verdict())
            })
            .await
    }

    /// Whether a verdict younger than [`READY_CACHE`] is at hand.
    pub fn is_fresh(&self) -> bool {
        self.cache.contains_key(&())
    }
}

/// A `/readyz` answer.
#[derive(Debug)]
pub struct Verdict {
    /// 200 or 503.
    pub status: StatusCode,
    /// `{"status", "checks", "errors"?}`.
    pub body: Value,
}

/// One check: passed, or failed with the error's text.
type Outcome = Result<(), String>;

/// What one round of checks found.
struct Round {
    appwrite: Outcome,
    store: Outcome,
    providers: Vec<(Arc<str>, Outcome)>,
}

impl Round {
    /// Every check at once, each within [`CHECK_BUDGET`].
    async fn run(login: &Login) -> Self {
        let providers = join_all(login.providers().cloned().map(|provider| async move {
            let id: Arc<str> = provider.info().id.as_str().into();
            let ready = async move { provider.ready().await };
            (id, within(CHECK_BUDGET, ready).await)
        }));
        let appwrite = login.appwrite().clone();
        let store = login.shared_store();
        let (appwrite, store, providers) = tokio::join!(
            within(CHECK_BUDGET, async move { appwrite.ping().await }),
            within(CHECK_BUDGET, async move { store.ping().await }),
            providers,
        );
        Self {
            appwrite,
            store,
            providers,
        }
    }

    fn health(&self) -> Health {
        Health {
            appwrite: self.appwrite.is_ok(),
            store: self.store.is_ok(),
            providers: self
                .providers
                .iter()
                .map(|(id, outcome)| (id.clone(), outcome.is_ok()))
                .collect(),
        }
    }

    /// 503 `not_ready` when the store failed; otherwise 200, `ready` when every check passed
    /// and `degraded` when some dependency failed. Each failed check is logged and named in
    /// `errors` with its cause.
    fn verdict(self) -> Verdict {
        let store_down = self.store.is_err();
        let mut checks = Map::new();
        let mut errors = Map::new();
        let named = [
            ("appwrite".to_string(), self.appwrite),
            ("store".into(), self.store),
        ]
        .into_iter()
        .chain(
            self.providers
                .into_iter()
                .map(|(id, outcome)| (format!("provider:{id}"), outcome)),
        );
        for (name, outcome) in named {
            let word = match outcome {
                Ok(()) => "ok",
                Err(error) => {
                    tracing::warn!(check = %name, %error, "readiness check failed");
                    errors.insert(name.clone(), Value::from(error));
                    "failed"
                }
            };
            checks.insert(name, Value::from(word));
        }
        let (status, word) = if store_down {
            (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
        } else if errors.is_empty() {
            (StatusCode::OK, "ready")
        } else {
            (StatusCode::OK, "degraded")
        };
        let mut body = json!({"status": word, "checks": checks});
        if !errors.is_empty() {
            body["errors"] = Value::Object(errors);
        }
        Verdict { status, body }
    }
}

/// `check`'s outcome if it ends within `limit`. It runs as a task of its own: past `limit` it
/// is reported failed and goes on (its dependency's timeouts bound it), so that a slow load is
/// not cut short to start over at the next round.
async fn within<E: std::fmt::Display + Send + 'static>(
    limit: Duration,
    check: impl Future<Output = Result<(), E>> + Send + 'static,
) -> Outcome {
    match tokio::time::timeout(limit, tokio::spawn(check)).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(error))) => Err(error.to_string()),
        // The check panicked (its message went to stderr, like any panic's).
        Ok(Err(_)) => Err("the check failed unexpectedly".to_string()),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(appwrite: bool, store: bool, providers: &[(&str, bool)]) -> Round {
        let outcome = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err("it broke".to_string())
            }
        };
        Round {
            appwrite: outcome(appwrite),
            store: outcome(store),
            providers: providers
                .iter()
                .map(|(id, ok)| (Arc::from(*id), outcome(*ok)))
                .collect(),
        }
    }

    #[test]
    fn only_the_store_takes_the_instance_out() {
        let cases = [
            (round(true, true, &[("a", true)]), 200, "ready"),
            (round(false, true, &[("a", true)]), 200, "degraded"),
            (
                round(true, true, &[("a", true), ("b", false)]),
                200,
                "degraded",
            ),
            (round(false, true, &[("a", false)]), 200, "degraded"),
            (round(true, false, &[("a", true)]), 503, "not_ready"),
            (round(false, false, &[("a", false)]), 503, "not_ready"),
        ];
        for (round, status, word) in cases {
            let verdict = round.verdict();
            assert_eq!(verdict.status.as_u16(), status, "{}", verdict.body);
            assert_eq!(verdict.body["status"], word, "{}", verdict.body);
        }
    }

    #[test]
    fn each_failed_check_is_named_with_its_cause_and_only_those() {
        let round = round(true, true, &[("corp", true), ("partner", false)]);
        assert_eq!(
            round.health(),
            Health {
                appwrite: true,
                store: true,
                providers: vec![("corp".into(), true), ("partner".into(), false)],
            }
        );
        let body = round.verdict().body;
        assert_eq!(
            body,
            json!({
                "status": "degraded",
                "checks": {"appwrite": "ok", "store": "ok", "provider:corp": "ok",
                           "provider:partner": "failed"},
                "errors": {"provider:partner": "it broke"},
            })
        );
    }

    #[tokio::test]
    async fn a_check_that_never_answers_fails_at_its_limit_and_goes_on() {
        let limit = Duration::from_millis(20);
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let (went_on, ended) = tokio::sync::oneshot::channel::<()>();
        let slow = async move {
            let _ = finished.await;
            let _ = went_on.send(());
            Ok::<(), String>(())
        };
        assert_eq!(
            within(limit, slow).await,
            Err("no answer within 20ms".to_string())
        );
        // Past its limit the check is still running, and ends when its dependency answers.
        finish.send(()).expect("the check is still waiting");
        ended.await.expect("the check ran to its end");
        let refused = within(limit, async { Err::<(), _>("refused") }).await;
        assert_eq!(refused, Err("refused".to_string()));
        let bug = || -> Result<(), String> { panic!("a bug in a check") };
        let panicked = within(limit, async move { bug() }).await;
        assert_eq!(panicked, Err("the check failed unexpectedly".to_string()));
    }
}
