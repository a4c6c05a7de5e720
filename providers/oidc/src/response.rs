//! The authorization response at the callback (RFC 6749 section 4.1.2, RFC 9207): a `code`, or
//! an `error`; and the issuer's `iss` when the provider sends it.

use idp_provider_api::{CallbackParams, ProviderError, Secret};

/// Longest OAuth error code kept for the logs.
const MAX_ERROR_CODE: usize = 64;

/// A successful authorization response.
pub(crate) struct AuthorizationResponse {
    /// The authorization code, used once.
    pub code: Secret<String>,
    /// The RFC 9207 `iss` parameter, if present.
    pub iss: Option<String>,
}

impl AuthorizationResponse {
    /// Reads the response.
    ///
    /// # Errors
    /// `Denied` with the (sanitised) OAuth error code when the provider refused the login;
    /// `InvalidRequest` when there is no single `code`; `Rejected` for a repeated `iss`.
    pub(crate) fn read(params: &CallbackParams) -> Result<Self, ProviderError> {
        if params.contains("error") {
            let code = params.single("error").map_or_else(
                || "invalid_request".to_string(),
                |e| sanitize_error_code(e.expose()),
            );
            return Err(ProviderError::Denied(code));
        }
        let code = params
            .single("code")
            .ok_or_else(|| ProviderError::InvalidRequest {
                param: "code",
                reason: "the callback carries neither code nor error, or more than one code".into(),
            })?;
        let iss = match params.single("iss") {
            Some(iss) => Some(iss.expose().clone()),
            None if params.contains("iss") => {
                return Err(ProviderError::rejected(
                    "authorization_response_issuer_mismatch",
                    "the iss parameter is repeated",
                ));
            }
            None => None,
        };
        Ok(Self {
            code: Secret::new(code.expose().clone()),
            iss,
        })
    }
}

/// An OAuth error code from the provider, reduced to its registered character set for logs.
fn sanitize_error_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(MAX_ERROR_CODE)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> CallbackParams {
        CallbackParams::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())))
    }

    #[test]
    fn a_code_with_or_without_iss() {
        let ok = AuthorizationResponse::read(&params(&[("code", "c"), ("iss", "https://i")]))
            .expect("code");
        assert_eq!(ok.code.expose(), "c");
        assert_eq!(ok.iss.as_deref(), Some("https://i"));
        assert!(
            AuthorizationResponse::read(&params(&[("code", "c")])).is_ok_and(|r| r.iss.is_none())
        );
    }

    #[test]
    fn an_error_is_a_denial_with_a_clean_code() {
        let denied =
            AuthorizationResponse::read(&params(&[("error", "access_denied\n<x>"), ("code", "c")]));
        assert!(matches!(denied, Err(ProviderError::Denied(code)) if code == "access_deniedx"));
    }

    #[test]
    fn no_code_or_repeated_values_are_refused() {
        assert!(matches!(
            AuthorizationResponse::read(&params(&[("state", "s")])),
            Err(ProviderError::InvalidRequest { param: "code", .. })
        ));
        assert!(matches!(
            AuthorizationResponse::read(&params(&[("code", "a"), ("code", "b")])),
            Err(ProviderError::InvalidRequest { param: "code", .. })
        ));
        assert!(matches!(
            AuthorizationResponse::read(&params(&[("code", "a"), ("iss", "x"), ("iss", "y")])),
            Err(ProviderError::Rejected(_))
        ));
    }
}
