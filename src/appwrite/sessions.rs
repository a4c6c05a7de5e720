//! `DELETE /v1/users/{userId}/sessions`: the call a back-channel logout makes.

use reqwest::Method;

use super::{AppwriteClient, AppwriteError, AppwriteErrorType, Operation, Retry};

impl AppwriteClient {
    /// `DELETE /v1/users/{id}/sessions`: every session of the user ends (Appwrite answers 204).
    /// `false` when Appwrite answers `user_not_found`. Idempotent, so retried like a read.
    ///
    /// # Errors
    /// Any other failure.
    pub async fn delete_sessions(&self, user_id: &str) -> Result<bool, AppwriteError> {
        let url = self.url(&["users", user_id, "sessions"]);
        match self
            .call::<()>(
                Operation::DeleteSessions,
                Method::DELETE,
                url,
                None,
                Retry::Safe,
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == Some(&AppwriteErrorType::UserNotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
