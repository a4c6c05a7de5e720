//! `Identity`: who the provider says the user is, after the provider verified it.

use serde_json::{Map, Value};

/// A verified identity. Only a provider's verify step builds one (there is no `Deserialize`), and
/// the gateway treats it as the whole truth about the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    provider: String,
    issuer: String,
    subject: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    claims: Map<String, Value>,
    auth_time: Option<i64>,
    existing_user: bool,
}

/// The issuer of identities that name an existing Appwrite user ([`Identity::existing_user`]).
pub const APPWRITE_ISSUER: &str = "appwrite";

impl Identity {
    /// Builds the identity a provider has verified.
    ///
    /// # Security
    /// Call it only after every check of the assertion passed. `email_verified` must be `true`
    /// only when the provider asserted the boolean `true`.
    pub fn verified(
        provider: impl Into<String>,
        issuer: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            issuer: issuer.into(),
            subject: subject.into(),
            email: None,
            email_verified: false,
            name: None,
            claims: Map::new(),
            auth_time: None,
            existing_user: false,
        }
    }

    /// An identity that *is* an existing Appwrite user, for providers that vouch for a user
    /// Appwrite already knows (TypingDNA checks the typing of a user it found through the
    /// [`AccountDirectory`](crate::AccountDirectory)). The gateway mints for exactly that user:
    /// it never creates one, and refuses when the user is gone or blocked.
    ///
    /// # Security
    /// Call it only with a user id that Appwrite itself returned for the verified person (for
    /// a JWT that Appwrite accepted, or an email the provider then verified a biometric for),
    /// never with an id from the request.
    pub fn existing_user(provider: impl Into<String>, user_id: impl Into<String>) -> Self {
        let mut identity = Self::verified(provider, APPWRITE_ISSUER, user_id);
        identity.existing_user = true;
        identity
    }

    /// Adds the email and whether the provider verified it.
    pub fn with_email(mut self, email: Option<String>, verified: bool) -> Self {
        self.email_verified = verified && email.is_some();
        self.email = email;
        self
    }

    /// Adds the display name.
    pub fn with_name(mut self, name: Option<String>) -> Self {
        self.name = name;
        self
    }

    /// Adds the provider's other claims, for policy (organizations, groups...).
    pub fn with_claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims = claims;
        self
    }

    /// When the user authenticated at the provider (unix seconds): the ID token's `auth_time`,
    /// or an assertion's `iat`. The policy's `max_age_seconds` is checked on it.
    pub fn with_auth_time(mut self, auth_time: Option<i64>) -> Self {
        self.auth_time = auth_time;
        self
    }

    /// When the user authenticated, if the provider said (unix seconds).
    pub fn auth_time(&self) -> Option<i64> {
        self.auth_time
    }

    /// The Appwrite user id, when this identity names an existing Appwrite user
    /// ([`Identity::existing_user`]) rather than an external account.
    pub fn existing_user_id(&self) -> Option<&str> {
        self.existing_user.then_some(self.subject.as_str())
    }

    /// The provider id from the configuration (`[providers.<id>]`).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The issuer that vouches for `subject`; with `subject`, the user's stable key.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The user's identifier at the issuer.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The email the provider asserted, verified or not.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// The email, only if the provider asserted that it is verified.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }

    /// Whether the provider asserted `email_verified: true`.
    pub fn email_verified(&self) -> bool {
        self.email_verified
    }

    /// The display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Every other claim of the assertion.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unverified_email_is_not_a_verified_email() {
        let id = Identity::verified("corp", "https://idp", "alice")
            .with_email(Some("a@example.com".into()), false);
        assert_eq!(id.email(), Some("a@example.com"));
        assert_eq!(id.verified_email(), None);
        let id = id.with_email(Some("a@example.com".into()), true);
        assert_eq!(id.verified_email(), Some("a@example.com"));
    }

    #[test]
    fn verified_without_an_email_stays_unverified() {
        let id = Identity::verified("corp", "https://idp", "alice").with_email(None, true);
        assert!(!id.email_verified());
    }
}
