//! The authorization-code exchange at the token endpoint, with oauth2's client.

use std::borrow::Cow;

use idp_provider_api::{ProviderError, Secret};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeVerifier, RedirectUrl, RequestTokenError, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::AuthMethod;
use crate::http::without_url;

/// The `id_token` field of a token response, kept raw: it is parsed and verified separately so
/// that a malformed token is reported as such rather than as a broken response.
#[derive(Clone, Deserialize, Serialize)]
pub(crate) struct IdTokenField {
    id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField([redacted])")
    }
}

type CodeClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What the token endpoint returned that matters to us.
pub(crate) struct Tokens {
    pub id_token: Secret<String>,
    pub access_token: Secret<String>,
}

/// Everything a code exchange needs besides the per-login values.
pub(crate) struct Exchanger {
    client: CodeClient,
}

impl Exchanger {
    pub(crate) fn new(
        client_id: &str,
        client_secret: &Secret<String>,
        authorization_endpoint: &Url,
        token_endpoint: &Url,
        method: AuthMethod,
    ) -> Self {
        let client = oauth2::Client::new(ClientId::new(client_id.to_string()))
            .set_client_secret(ClientSecret::new(client_secret.expose().clone()))
            .set_auth_uri(AuthUrl::from_url(authorization_endpoint.clone()))
            .set_token_uri(TokenUrl::from_url(token_endpoint.clone()))
            .set_auth_type(match method {
                AuthMethod::ClientSecretBasic => AuthType::BasicAuth,
                AuthMethod::ClientSecretPost => AuthType::RequestBody,
            });
        Self { client }
    }

    /// Exchanges `code` (consumed: a code is single-use) for tokens.
    ///
    /// # Errors
    /// `Rejected` when the provider refuses the code or answers without an ID token,
    /// `Upstream` when it cannot be reached.
    pub(crate) async fn exchange(
        &self,
        http: &reqwest::Client,
        code: Secret<String>,
        verifier: Secret<String>,
        redirect_uri: &Url,
    ) -> Result<Tokens, ProviderError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.expose().clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().clone()))
            .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect_uri.clone())))
            .request_async(http)
            .await
            .map_err(classify)?;
        let id_token = response.extra_fields().id_token.clone().ok_or_else(|| {
            ProviderError::rejected(
                "token_response_invalid",
                "the token response has no id_token",
            )
        })?;
        Ok(Tokens {
            id_token: Secret::new(id_token),
            access_token: Secret::new(response.access_token().secret().clone()),
        })
    }
}

type ExchangeError =
    RequestTokenError<oauth2::HttpClientError<oauth2::reqwest::Error>, BasicErrorResponse>;

fn classify(error: ExchangeError) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(e) => ProviderError::rejected(
            "token_exchange_refused",
            format!("the token endpoint refused the code: {}", e.error()),
        ),
        // The body may hold tokens: report only the parse error.
        RequestTokenError::Parse(e, _body) => ProviderError::rejected(
            "token_response_invalid",
            format!("the token response does not parse: {}", e.path()),
        ),
        RequestTokenError::Request(oauth2::HttpClientError::Reqwest(e)) => {
            ProviderError::Upstream(format!("token endpoint: {}", without_url(&e)))
        }
        RequestTokenError::Request(e) => ProviderError::Upstream(format!("token endpoint: {e}")),
        RequestTokenError::Other(e) => ProviderError::Upstream(format!("token endpoint: {e}")),
    }
}
