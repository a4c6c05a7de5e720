//! Start parameters other than the success and failure URLs that the gateway refuses.
//!
//! A refused `success` or `failure` URL is a [`crate::redirect::RedirectError`]; the other start
//! parameters (`scopes`, `login_hint`) are refused here. Both end the same way: a 400 page with
//! the error's text and no redirect, since no failure URL was trusted yet.

/// Why a `scopes` or `login_hint` start parameter is refused. The text is shown on the 400
/// page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartParamError {
    /// `scopes` (or `scopes[]`): too many, too long, or not scope tokens; the text says which.
    #[error("the `scopes` parameter is refused: {0}")]
    Scopes(String),
    /// `login_hint` is longer than `max` bytes or contains control characters.
    #[error(
        "the `login_hint` parameter is refused: longer than {max} bytes or contains control characters"
    )]
    LoginHint {
        /// The longest accepted hint, in bytes.
        max: usize,
    },
    /// A parameter the provider cannot express (its `InvalidRequest` at `authorization_url`).
    #[error("the `{param}` parameter is refused: {reason}")]
    Provider {
        /// The parameter the provider named.
        param: &'static str,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_the_parameter() {
        assert_eq!(
            StartParamError::Scopes("more than 16 scopes".into()).to_string(),
            "the `scopes` parameter is refused: more than 16 scopes"
        );
        assert_eq!(
            StartParamError::LoginHint { max: 256 }.to_string(),
            "the `login_hint` parameter is refused: longer than 256 bytes or contains control characters"
        );
    }
}
