//! `idp-bridge check-config --online`: the configuration against the services it names, so
//! that a wrong client secret, a wrong issuer or an Appwrite key without `users.write` shows up
//! here rather than at the first login.
//!
//! Appwrite: the endpoint answers as the Appwrite API, the project exists, the key has
//! `users.read` and `users.write` (probed without changing anything, see
//! [`crate::appwrite::probe`]). Each provider: its own checks, when its type has any
//! ([`OnlineCheck`](idp_provider_api::OnlineCheck)). The groups (Appwrite, each provider) run
//! at once, each within [`GROUP_TIMEOUT`] besides the timeout of each of its requests, and
//! one group's failure stops no other.
//! Owns: running the checks and their report. Must not: write anything upstream, or print a
//! secret (the texts name keys, never their values).

use std::time::Duration;

use futures::future::join_all;
use idp_provider_api::{CheckOutcome, CheckResult, OnlineContext, OutboundTls};

use crate::appwrite::probe::WriteScope;
use crate::appwrite::{AppwriteClient, AppwriteConfig, AppwriteError, AppwriteErrorType};
use crate::config::Config;
use crate::login::callback_url;

/// The longest one group of checks (Appwrite, or one provider) may take.
pub const GROUP_TIMEOUT: Duration = Duration::from_secs(60);

/// One check of one subject (`appwrite`, `providers.corp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What was checked: `appwrite` or `providers.<id>`.
    pub subject: String,
    /// The check and how it came out.
    pub result: CheckResult,
}

/// Runs every check of `config`; the lines come in a fixed order (Appwrite, then the
/// providers in id order), whatever order the answers arrive in.
pub async fn run(config: &Config) -> Vec<Line> {
    let appwrite = within(
        "appwrite".to_string(),
        GROUP_TIMEOUT,
        appwrite(&config.appwrite, &config.tls),
    );
    let providers = config.providers.iter().map(|configured| {
        let provider = &configured.provider;
        let info = provider.info();
        let redirect_uri = callback_url(&config.server.public_url, &info.id);
        within(
            format!("providers.{}", info.id),
            GROUP_TIMEOUT,
            async move {
                match provider.online() {
                    Some(checks) => {
                        checks
                            .check_online(&OnlineContext::new(&redirect_uri))
                            .await
                    }
                    None => vec![CheckResult::unknown(
                        "online checks",
                        format!("the provider type {:?} has none", info.kind),
                    )],
                }
            },
        )
    });
    let (appwrite, providers) = futures::join!(appwrite, join_all(providers));
    std::iter::once(appwrite)
        .chain(providers)
        .flatten()
        .collect()
}

/// The results of `checks` as lines of `subject`, or one failure when they take longer than
/// `limit`.
async fn within(
    subject: String,
    limit: Duration,
    checks: impl Future<Output = Vec<CheckResult>>,
) -> Vec<Line> {
    let results = tokio::time::timeout(limit, checks)
        .await
        .unwrap_or_else(|_| {
            vec![CheckResult::failed(
                "answer",
                format!(
                    "no complete answer within {} ms; check that it is reachable from here",
                    limit.as_millis()
                ),
            )]
        });
    results
        .into_iter()
        .map(|result| Line {
            subject: subject.clone(),
            result,
        })
        .collect()
}

/// The report, one line per check: `ok`, `FAILED` or `unknown`, the subject and the check,
/// then what was found or what to fix.
pub fn report(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|line| {
            let (status, text) = match &line.result.outcome {
                CheckOutcome::Passed(text) => ("ok", text),
                CheckOutcome::Failed(text) => ("FAILED", text),
                CheckOutcome::Unknown(text) => ("unknown", text),
            };
            format!(
                "  {status:<7} {} {}: {text}\n",
                line.subject, line.result.name
            )
        })
        .collect()
}

/// Appwrite's checks: endpoint, project, `users.read`, `users.write`.
async fn appwrite(config: &AppwriteConfig, tls: &OutboundTls) -> Vec<CheckResult> {
    let client = match AppwriteClient::new(config, tls) {
        Ok(client) => client,
        Err(error) => return vec![CheckResult::failed("endpoint", error.to_string())],
    };
    let endpoint = config.endpoint.as_str();
    let answers = CheckResult::passed(
        "endpoint",
        format!("{endpoint} answers as the Appwrite API"),
    );
    let project = CheckResult::passed(
        "project",
        format!("Appwrite has the project {:?}", config.project.as_str()),
    );
    let mut results = match client.probe_read().await {
        Ok(()) => vec![
            answers,
            project,
            CheckResult::passed("users.read", "the API key may read users"),
        ],
        Err(error) => {
            let results = read_failure(config, answers, project, error);
            // A key that Appwrite knows but that lacks users.read may still have users.write.
            let known_key = results
                .iter()
                .any(|r| r.name == "users.read" && r.is_failure());
            if !known_key {
                return results;
            }
            results
        }
    };
    results.push(match client.probe_write().await {
        Ok(WriteScope::Granted) => CheckResult::passed(
            "users.write",
            "the API key may write users (asked with a write that cannot change anything)",
        ),
        Ok(WriteScope::Missing(_)) => CheckResult::failed(
            "users.write",
            "the API key lacks the users.write scope, which creating users, setting their labels and minting tokens need; add it to the key in the Appwrite console",
        ),
        Err(error) => CheckResult::failed(
            "users.write",
            format!("the scope could not be asked: {error}"),
        ),
    });
    results
}

/// What a failed read says: how far the call got (endpoint, project, key) and what to fix.
fn read_failure(
    config: &AppwriteConfig,
    answers: CheckResult,
    project: CheckResult,
    error: AppwriteError,
) -> Vec<CheckResult> {
    let endpoint = config.endpoint.as_str();
    let not_the_api = || {
        CheckResult::failed(
            "endpoint",
            format!(
                "{endpoint} answers, but not as the Appwrite API; appwrite.endpoint must be the API base, ending in /v1 (e.g. https://cloud.appwrite.io/v1)"
            ),
        )
    };
    match error {
        AppwriteError::Transport { detail, .. } => vec![CheckResult::failed(
            "endpoint",
            format!(
                "no answer from {endpoint} ({detail}); check appwrite.endpoint and that Appwrite is reachable from here"
            ),
        )],
        AppwriteError::Protocol { .. } => vec![not_the_api()],
        AppwriteError::Api {
            kind,
            status,
            message,
            ..
        } => match kind {
            AppwriteErrorType::GeneralRouteNotFound => vec![not_the_api()],
            AppwriteErrorType::ProjectNotFound => vec![
                answers,
                CheckResult::failed(
                    "project",
                    format!(
                        "Appwrite has no project {:?}; check appwrite.project (the project id in the console's settings)",
                        config.project.as_str()
                    ),
                ),
            ],
            AppwriteErrorType::GeneralUnauthorizedScope => {
                // Appwrite treats a key it does not know as a guest, and says so.
                if message.contains("role: guests") {
                    vec![
                        answers,
                        project,
                        CheckResult::failed(
                            "api key",
                            "Appwrite does not know this API key (it answered as to a guest); check appwrite.api_key: a server API key of this project",
                        ),
                    ]
                } else {
                    vec![
                        answers,
                        project,
                        CheckResult::failed(
                            "users.read",
                            "the API key lacks the users.read scope; add it to the key in the Appwrite console",
                        ),
                    ]
                }
            }
            AppwriteErrorType::ProjectKeyExpired => vec![
                answers,
                project,
                CheckResult::failed(
                    "api key",
                    "the API key has expired; make a new one with users.read and users.write",
                ),
            ],
            _ => vec![CheckResult::failed(
                "endpoint",
                format!("Appwrite answered HTTP {status}: {message}"),
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_group_that_does_not_answer_in_time_is_one_failure() {
        let limit = Duration::from_millis(10);
        let lines = within("providers.slow".into(), limit, std::future::pending()).await;
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].subject, "providers.slow");
        assert!(lines[0].result.is_failure(), "{lines:?}");
        let answered = within("appwrite".into(), limit, async {
            vec![CheckResult::passed("endpoint", "answers")]
        })
        .await;
        assert!(!answered[0].result.is_failure());
    }

    #[test]
    fn the_report_has_a_line_per_check_with_its_status_first() {
        let line = |subject: &str, result| Line {
            subject: subject.into(),
            result,
        };
        let text = report(&[
            line("appwrite", CheckResult::passed("endpoint", "answers")),
            line("providers.corp", CheckResult::failed("discovery", "fix it")),
            line("providers.x", CheckResult::unknown("online checks", "none")),
        ]);
        assert_eq!(
            text,
            "  ok      appwrite endpoint: answers\n  FAILED  providers.corp discovery: fix it\n  unknown providers.x online checks: none\n"
        );
    }
}
