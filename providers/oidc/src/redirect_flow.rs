//! The authorization code flow of [`OidcProvider`] ([`RedirectFlow`]): the authorization URL
//! at `start` (scopes, `state`, `nonce`, PKCE S256, the extension's parameters) and, at the
//! callback, the authorization response's `iss` (RFC 9207), the code exchange and the ID
//! token's verification into an identity.
//! Must not: keep per-login state (the nonce and PKCE verifier travel in the gateway's login
//! data); call the network before a bad request is refused; build an identity from a token it
//! has not verified.

use async_trait::async_trait;
use idp_provider_api::{
    Authorization, AuthorizationRequest, CallbackInput, Identity, ProviderError, RedirectFlow,
};

use crate::login_data::OidcLoginData;
use crate::response::AuthorizationResponse;
use crate::{OidcProvider, config, verify};

#[async_trait]
impl RedirectFlow for OidcProvider {
    async fn authorization_url(
        &self,
        request: AuthorizationRequest<'_>,
    ) -> Result<Authorization, ProviderError> {
        // Checked before any network call: a bad request is the app's mistake, whatever the
        // provider's state.
        if let Some(bad) = request
            .extra_scopes
            .iter()
            .find(|s| !config::is_scope_token(s))
        {
            return Err(ProviderError::InvalidRequest {
                param: "scopes",
                reason: format!("{bad:?} is not a scope token"),
            });
        }
        let endpoints = self.endpoints().await?;
        let mut scopes: Vec<&str> = self.config.scopes.iter().map(String::as_str).collect();
        for extra in request.extra_scopes {
            if !scopes.contains(&extra.as_str()) {
                scopes.push(extra);
            }
        }
        let (data, pkce_challenge) = OidcLoginData::generate();
        let mut url = endpoints.metadata.authorization_endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", request.redirect_uri.as_str())
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", request.state.expose())
                .append_pair("nonce", data.nonce().expose())
                .append_pair("code_challenge", &pkce_challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(hint) = request.login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(max_age) = request.max_age {
                query.append_pair("max_age", &max_age.to_string());
            }
            for (name, value) in &self.authorization_params {
                query.append_pair(name, value);
            }
        }
        Ok(Authorization {
            url,
            data: data.encode(),
        })
    }

    async fn callback(&self, input: CallbackInput<'_>) -> Result<Identity, ProviderError> {
        let response = AuthorizationResponse::read(input.params)?;
        let data = OidcLoginData::decode(&input.data)?;
        let endpoints = self.endpoints().await?;
        // RFC 9207: a provider that announces `iss` in authorization responses must send it,
        // and whenever it is present it must be this provider's issuer (mix-up defence).
        match &response.iss {
            Some(iss) if !self.issuers.may_be(iss) => {
                return Err(ProviderError::rejected(
                    "authorization_response_issuer_mismatch",
                    format!("iss parameter {iss:?} is not {:?}", self.issuers),
                ));
            }
            None if endpoints
                .metadata
                .authorization_response_iss_parameter_supported =>
            {
                return Err(ProviderError::rejected(
                    "authorization_response_issuer_missing",
                    "the provider announces RFC 9207 but the response has no iss",
                ));
            }
            _ => {}
        }
        let tokens = endpoints
            .exchanger
            .exchange(
                &self.http,
                response.code,
                data.pkce_verifier(),
                input.redirect_uri,
            )
            .await?;
        let claims = self
            .verify(
                tokens.id_token.expose(),
                &data.nonce(),
                Some(tokens.access_token.expose()),
            )
            .await?;
        // With several accepted issuers, the response's `iss` names the one that issued the
        // token (RFC 9207 section 2.4).
        if let Some(iss) = response.iss
            && iss != claims.issuer().as_str()
        {
            return Err(ProviderError::rejected(
                "authorization_response_issuer_mismatch",
                format!(
                    "iss parameter {iss:?} is not the ID token's iss {:?}",
                    claims.issuer().as_str()
                ),
            ));
        }
        // Only the JSON boolean `true` counts, read from the verified token itself.
        let email_verified = verify::email_verified_is_true(tokens.id_token.expose());
        self.identity(&claims, email_verified)
    }
}
