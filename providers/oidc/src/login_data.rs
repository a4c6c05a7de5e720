//! What the OIDC provider keeps with one login between `authorization_url` and `callback`: the
//! nonce the ID token must carry and the PKCE verifier of the code exchange. The gateway stores
//! it, opaque, as [`LoginData`] with its transaction.

use idp_provider_api::{LoginData, ProviderError, Secret};
use openidconnect::{Nonce, PkceCodeChallenge};
use serde::{Deserialize, Serialize};

/// The nonce and PKCE verifier of one login.
#[derive(Serialize, Deserialize)]
pub(crate) struct OidcLoginData {
    nonce: String,
    pkce_verifier: String,
}

impl OidcLoginData {
    /// Fresh values (openidconnect's generators: 32 random bytes each) and the S256 challenge of
    /// the verifier.
    pub(crate) fn generate() -> (Self, String) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let data = Self {
            nonce: Nonce::new_random().secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        (data, challenge.as_str().to_string())
    }

    /// The nonce, for the authorization URL and the ID-token check.
    pub(crate) fn nonce(&self) -> Secret<String> {
        Secret::new(self.nonce.clone())
    }

    /// The PKCE verifier, for the code exchange.
    pub(crate) fn pkce_verifier(&self) -> Secret<String> {
        Secret::new(self.pkce_verifier.clone())
    }

    /// Encoded for the gateway's transaction.
    pub(crate) fn encode(&self) -> LoginData {
        // Two strings always serialise; the empty fallback would fail `decode` (fail closed).
        LoginData::new(serde_json::to_string(self).unwrap_or_default())
    }

    /// Decoded from the transaction.
    ///
    /// # Errors
    /// `InvalidRequest` when the stored data is not this provider's (it cannot be, unless the
    /// store was tampered with): the login fails closed.
    pub(crate) fn decode(data: &LoginData) -> Result<Self, ProviderError> {
        serde_json::from_str(data.expose()).map_err(|_| ProviderError::InvalidRequest {
            param: "login data",
            reason: "the stored login data is not an OIDC login's".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_login_gets_fresh_values_that_survive_the_round_trip() {
        let (a, challenge) = OidcLoginData::generate();
        let (b, _) = OidcLoginData::generate();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.pkce_verifier, b.pkce_verifier);
        assert_eq!(challenge.len(), 43, "S256 challenge is 43 base64url chars");
        assert!(a.nonce.len() >= 22 && a.pkce_verifier.len() >= 43);
        let back = OidcLoginData::decode(&a.encode()).expect("round trip");
        assert_eq!(back.nonce, a.nonce);
        assert_eq!(back.pkce_verifier, a.pkce_verifier);
        assert!(!format!("{:?}", a.encode()).contains(&a.nonce));
        assert!(OidcLoginData::decode(&LoginData::new("{}".into())).is_err());
        assert!(OidcLoginData::decode(&LoginData::default()).is_err());
    }
}
