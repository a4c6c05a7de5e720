//! The read-only view of the project's users that the gateway lends assertion providers
//! ([`AccountDirectory`]): the user behind an account JWT, and the user with an email.

use async_trait::async_trait;
use idp_provider_api::{AccountDirectory, AccountUser, Secret, ServiceError};

use super::{AppwriteClient, AppwriteError, User};

impl From<User> for AccountUser {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            email_verified: user.email_verification,
            name: user.name,
            active: user.status,
        }
    }
}

fn unavailable(error: &AppwriteError) -> ServiceError {
    ServiceError::Appwrite(error.to_string())
}

#[async_trait]
impl AccountDirectory for AppwriteClient {
    async fn user_for_jwt(
        &self,
        jwt: &Secret<String>,
    ) -> Result<Option<AccountUser>, ServiceError> {
        self.account_for_jwt(jwt)
            .await
            .map(|user| user.map(AccountUser::from))
            .map_err(|e| unavailable(&e))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<AccountUser>, ServiceError> {
        let users = self
            .list_users_by_email(&email.to_lowercase())
            .await
            .map_err(|e| unavailable(&e))?;
        match users.as_slice() {
            [] => Ok(None),
            [_] => Ok(users.into_iter().next().map(AccountUser::from)),
            // Appwrite keeps emails unique per project; two answers mean something is off, and
            // guessing would vouch for the wrong person.
            _ => Err(ServiceError::Appwrite(
                "more than one Appwrite user has this email".into(),
            )),
        }
    }
}
