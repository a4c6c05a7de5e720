//! The authorization-code exchange at the token endpoint, with oauth2's client.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};

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

/// How the token endpoint answered [`Exchanger::probe`].
pub(crate) enum ProbeAnswer {
    /// An OAuth error: the HTTP status and the `error` code.
    Refused { status: u16, error: String },
    /// Tokens, for a code that cannot be valid.
    Accepted,
    /// No OAuth answer: unreachable, or a body that is not one.
    Failed(ProviderError),
}

/// The code and PKCE verifier of the probe: made up, and plainly so in the provider's logs.
const PROBE_CODE: &str = "idp-bridge-check-config-not-a-code";
const PROBE_VERIFIER: &str = "idp-bridge-check-config-not-a-verifier-0123456789";

impl Exchanger {
    /// Sends a code exchange exactly as a login does (the same client authentication), with a
    /// code that cannot be valid, for check-config: the answer tells whether the client
    /// credentials are right without a user (see `online`).
    pub(crate) async fn probe(&self, http: &reqwest::Client, redirect_uri: &Url) -> ProbeAnswer {
        let client = StatusRecorder {
            http,
            status: AtomicU16::new(0),
        };
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(PROBE_CODE.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(PROBE_VERIFIER.to_string()))
            .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect_uri.clone())))
            .request_async(&client)
            .await;
        match answer {
            Ok(_) => ProbeAnswer::Accepted,
            Err(RequestTokenError::ServerResponse(e)) => ProbeAnswer::Refused {
                status: client.status.load(Ordering::Relaxed),
                error: e.error().to_string(),
            },
            Err(other) => ProbeAnswer::Failed(classify(other)),
        }
    }
}

/// The provider's client, keeping the status of the last answer: oauth2 keeps only the body
/// of an error answer.
struct StatusRecorder<'a> {
    http: &'a reqwest::Client,
    status: AtomicU16,
}

impl<'c> oauth2::AsyncHttpClient<'c> for StatusRecorder<'_> {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = oauth2::AsyncHttpClient::call(self.http, request).await?;
            self.status
                .store(response.status().as_u16(), Ordering::Relaxed);
            Ok(response)
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
