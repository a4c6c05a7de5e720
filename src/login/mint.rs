//! `mint`: the one end of every flow, once a provider has verified an identity. The provider's
//! policy admits it, the identity is mapped to its Appwrite user, a custom token is minted, and
//! what Appwrite minted is checked. The redirect flow turns the token into a success location;
//! an assertion flow answers it as JSON. Knows no provider.

use idp_provider_api::{Identity, ProviderError};

use super::decided::{identified, resolved_user};
use super::policy::{ConfiguredProvider, Flow};
use super::{Login, LoginError, mapping};
use crate::appwrite::{AppwriteError, Token};
use crate::audit::Known;

impl Login {
    /// Admits `identity` under its provider's policy (for `flow`: the redirect callback, or an
    /// assertion exchange), finds or creates its Appwrite user, sets its labels when the policy
    /// owns them, and mints a token for it. What it learns on the way (the identity, the user,
    /// whether it created or linked it) goes into `known`, for the decision's audit event,
    /// whether the login then succeeds or not. The token is minted last, after every check;
    /// the one check after it is that Appwrite minted what was asked for (the user and the
    /// length), or the token is never delivered and simply expires.
    ///
    /// # Errors
    /// Any refusal of policy or mapping, and any Appwrite failure; nothing usable is minted then.
    pub(crate) async fn mint(
        &self,
        configured: &ConfiguredProvider,
        identity: &Identity,
        flow: Flow,
        known: &mut Known,
    ) -> Result<Token, LoginError> {
        // Defence in depth: a provider bug must not map "nobody" to a user.
        if identity.subject().trim().is_empty() || identity.issuer().trim().is_empty() {
            return Err(LoginError::Provider(ProviderError::rejected(
                "identity_incomplete",
                "the provider returned an identity without an issuer or a subject",
            )));
        }
        identified(known, identity);
        let admission = configured.policy.admit(identity, flow, self.clock.now())?;
        let resolved = match identity.existing_user_id() {
            Some(id) => mapping::existing_user(&self.appwrite, id).await?,
            None => {
                mapping::resolve_user(
                    &self.appwrite,
                    identity,
                    &admission,
                    &configured.policy,
                    &self.id_key,
                )
                .await?
            }
        };
        resolved_user(known, &resolved);
        let mut user =
            mapping::admit(&self.appwrite, resolved, &admission, &configured.policy).await?;
        if let Some(labels) = &admission.labels {
            user = mapping::apply_labels(&self.appwrite, user, labels).await?;
        }
        // Before the token exists: a login whose provider session cannot be remembered for
        // back-channel logout is refused, since a logout naming only that session could not
        // end it.
        self.record_session(configured, identity).await?;
        let token = self
            .appwrite
            .create_token(&user.id, self.token.length, self.token.expire_seconds)
            .await?;
        // What Appwrite minted must be what was asked for, or the app gets a useless (or
        // someone else's) token.
        let length = usize::try_from(self.token.length).unwrap_or(usize::MAX);
        if token.user_id != user.id || token.secret.expose().len() != length {
            return Err(LoginError::Appwrite(AppwriteError::Protocol {
                operation: "create token",
                detail: format!(
                    "asked for a {length}-character token for {}, got {} characters for {}",
                    user.id,
                    token.secret.expose().len(),
                    token.user_id
                ),
            }));
        }
        Ok(token)
    }
}
