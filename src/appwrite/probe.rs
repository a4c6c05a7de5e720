//! What `check-config --online` asks Appwrite: that the endpoint answers as the Appwrite API,
//! that the project exists, and that the key has `users.read` and `users.write`, without
//! creating or changing anything.
//!
//! `users.read` is a one-user list, as the readiness ping. `users.write` cannot be read off a
//! key, and a real write would change a user, so the probe sends a write that cannot succeed:
//! `PUT /v1/users/{userId}/labels` for a `userId` that breaks Appwrite's id rule (a leading
//! `_`). Appwrite checks the key's scopes in its API init hook, before the route's parameters
//! are validated and before the route's action looks anything up; so a key without
//! `users.write` gets 401 `general_unauthorized_scope`, and a key with it gets 400
//! `general_argument_invalid` for the id (or, from a server that validated ids differently,
//! 404 `user_not_found`). No user can have that id, so no labels change whatever the answer.
//! Both probes are sent once (only a 429 is repeated): the operator is waiting.
//! Must not: create, change or delete anything.

use reqwest::Method;

use super::{AppwriteClient, AppwriteError, AppwriteErrorType, Operation, Retry};

/// A user id no Appwrite user can have: the id rule forbids a leading `_`.
const IMPOSSIBLE_USER_ID: &str = "_idp-bridge-check-config";

/// Whether the key may write users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteScope {
    /// Appwrite let the probe past the scope check.
    Granted,
    /// Appwrite refused it for the scope; its message (which names the key's role).
    Missing(String),
}

impl AppwriteClient {
    /// The readiness read, sent once: reachable endpoint, existing project, `users.read`.
    ///
    /// # Errors
    /// Any failure; the caller tells them apart.
    pub async fn probe_read(&self) -> Result<(), AppwriteError> {
        self.list_one(Retry::OnlyIfRefused).await
    }

    /// Whether the key has `users.write`, asked with a write that cannot change anything (see
    /// the module documentation).
    ///
    /// # Errors
    /// Any answer other than the scope refusal or the two refusals behind the scope check.
    pub async fn probe_write(&self) -> Result<WriteScope, AppwriteError> {
        let url = self.url(&["users", IMPOSSIBLE_USER_ID, "labels"]);
        let body = serde_json::json!({ "labels": [] });
        let answer = self
            .call::<serde_json::Value>(
                Operation::ProbeWrite,
                Method::PUT,
                url,
                Some(body),
                Retry::OnlyIfRefused,
            )
            .await;
        match answer {
            Err(AppwriteError::Api {
                kind: AppwriteErrorType::GeneralUnauthorizedScope,
                message,
                ..
            }) => Ok(WriteScope::Missing(message)),
            Err(AppwriteError::Api {
                kind: AppwriteErrorType::GeneralArgumentInvalid | AppwriteErrorType::UserNotFound,
                ..
            }) => Ok(WriteScope::Granted),
            Err(error) => Err(error),
            Ok(_) => Err(AppwriteError::Protocol {
                operation: Operation::ProbeWrite.name(),
                detail: format!(
                    "Appwrite accepted labels for the impossible user id {IMPOSSIBLE_USER_ID:?}"
                ),
            }),
        }
    }
}
