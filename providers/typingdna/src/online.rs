//! check-config's check of a `typingdna` provider: does TypingDNA accept `api_key` and
//! `api_secret` at `api_url`? Asked with `GET /user/{id}` (TypingDNA's "check user"), which
//! reads a profile's pattern counts and stores nothing, for the id of a made-up Appwrite user,
//! so nobody is enrolled or verified.

use async_trait::async_trait;
use idp_provider_api::{CheckResult, OnlineCheck, OnlineContext, ProviderError};

use crate::{TypingDnaProvider, user_handle};

/// The Appwrite user id whose TypingDNA handle the check reads: nobody's (the gateway's user
/// ids never contain a space).
const NOBODY: &str = "idp-bridge check-config";

#[async_trait]
impl OnlineCheck for TypingDnaProvider {
    async fn check_online(&self, _: &OnlineContext<'_>) -> Vec<CheckResult> {
        const NAME: &str = "credentials";
        let handle = user_handle(self.id_salt.expose(), NOBODY);
        let result = match self.api.check_user(&handle).await {
            Ok(()) => CheckResult::passed(
                NAME,
                "TypingDNA accepted api_key and api_secret (asked with GET /user, which stores nothing)",
            ),
            Err(ProviderError::Misconfigured(detail)) => CheckResult::failed(
                NAME,
                format!(
                    "{detail}; check providers.{}.api_key and api_secret (401, 403) or api_url (404, 405)",
                    self.info.id
                ),
            ),
            Err(error) => CheckResult::failed(NAME, error.to_string()),
        };
        vec![result]
    }
}
