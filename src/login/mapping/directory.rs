//! The Appwrite user operations the account rules need, as a trait ([`Directory`]): the rules
//! of [`super`] run against the real [`AppwriteClient`] in production and against an in-memory
//! directory in their unit tests.
//! Must not: hold a rule of its own. The client's lists check that every user answered matches
//! their filter (a lost filter is an error, never a stranger); a directory must keep that promise.

use async_trait::async_trait;

use crate::appwrite::{AppwriteClient, AppwriteError, NewUser, User};

/// The project's users as the account rules read and write them.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The user with `id`; `None` when there is none.
    ///
    /// # Errors
    /// Any failure.
    async fn get_user(&self, id: &str) -> Result<Option<User>, AppwriteError>;

    /// Creates a user with a custom id.
    ///
    /// # Errors
    /// `Api` with a 409 kind when the id, email or phone is taken; any other failure.
    async fn create_user(&self, user: &NewUser<'_>) -> Result<User, AppwriteError>;

    /// Marks the user's email verified (never the reverse).
    ///
    /// # Errors
    /// Any failure.
    async fn mark_email_verified(&self, user_id: &str) -> Result<User, AppwriteError>;

    /// Replaces every label of the user; the user as written.
    ///
    /// # Errors
    /// Any failure.
    async fn set_labels(&self, user_id: &str, labels: &[String]) -> Result<User, AppwriteError>;

    /// At most two users whose email is exactly `email`.
    ///
    /// # Errors
    /// Any failure, or an answer holding a user without that email.
    async fn list_users_by_email(&self, email: &str) -> Result<Vec<User>, AppwriteError>;

    /// At most two users carrying `label`.
    ///
    /// # Errors
    /// Any failure, or an answer holding a user without that label.
    async fn list_users_by_label(&self, label: &str) -> Result<Vec<User>, AppwriteError>;
}

/// Each operation is the client's call of the same name.
#[async_trait]
impl Directory for AppwriteClient {
    async fn get_user(&self, id: &str) -> Result<Option<User>, AppwriteError> {
        AppwriteClient::get_user(self, id).await
    }

    async fn create_user(&self, user: &NewUser<'_>) -> Result<User, AppwriteError> {
        AppwriteClient::create_user(self, user).await
    }

    async fn mark_email_verified(&self, user_id: &str) -> Result<User, AppwriteError> {
        AppwriteClient::mark_email_verified(self, user_id).await
    }

    async fn set_labels(&self, user_id: &str, labels: &[String]) -> Result<User, AppwriteError> {
        AppwriteClient::set_labels(self, user_id, labels).await
    }

    async fn list_users_by_email(&self, email: &str) -> Result<Vec<User>, AppwriteError> {
        AppwriteClient::list_users_by_email(self, email).await
    }

    async fn list_users_by_label(&self, label: &str) -> Result<Vec<User>, AppwriteError> {
        AppwriteClient::list_users_by_label(self, label).await
    }
}
