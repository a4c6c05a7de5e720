//! The query of `start`, and the start parameters other than the success and failure URLs:
//! `scopes` (split, de-duplicated and capped here; their syntax is the provider's),
//! `login_hint`, and the app's own `state` (its rule is [`ReturnState`]'s), with the errors
//! that refuse them.
//!
//! A refused `success` or `failure` URL is a [`crate::redirect::RedirectError`]; the other start
//! parameters (`scopes`, `login_hint`, `state`) are refused here. Both end the same way: a 400
//! page with the error's text and no redirect, since no failure URL was trusted yet.

use serde::Deserialize;

use crate::redirect::{MAX_STATE_LEN, ReturnState};

/// Longest `login_hint` passed through to the provider.
const MAX_LOGIN_HINT: usize = 256;
/// Longest scope an app may ask for (its syntax is the provider's to check).
const MAX_SCOPE_LEN: usize = 64;
/// Most extra scopes an app may ask for.
const MAX_EXTRA_SCOPES: usize = 16;
/// Most bytes of `scopes` and `scopes[]` together (16 scopes of 64 bytes with separators fit).
const MAX_SCOPES_BYTES: usize = 2048;
/// Most `scopes[]` entries (an SDK sends one per scope; duplicates are tolerated up to this).
const MAX_SCOPE_ENTRIES: usize = 4 * MAX_EXTRA_SCOPES;

/// The query of `GET /v1/auth/{provider}/start`. Unknown parameters are refused: a misspelt
/// one would otherwise be silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartParams {
    /// Where to send the browser after a successful login.
    pub success: Option<String>,
    /// Where to send it after a failed one.
    pub failure: Option<String>,
    /// Extra scopes, space or comma separated.
    pub scopes: Option<String>,
    /// Extra scopes as Appwrite's SDKs send them (`scopes[]=a&scopes[]=b`).
    #[serde(rename = "scopes[]", default)]
    pub scope_list: Vec<String>,
    /// Passed to the provider.
    pub login_hint: Option<String>,
    /// The app's own value, returned unchanged beside the result; never sent to the provider.
    pub state: Option<String>,
}

/// Why a `scopes`, `login_hint` or `state` start parameter is refused. The text is shown on
/// the 400 page.
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
    /// `state` is longer than `max` characters or holds a character outside printable ASCII.
    #[error(
        "the `state` parameter is refused: longer than {max} characters, or a character outside \
         printable ASCII (space to `~`)"
    )]
    State {
        /// The longest accepted state, in characters.
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

/// The `login_hint` to pass on: `None` when absent or empty.
///
/// # Errors
/// That it is longer than [`MAX_LOGIN_HINT`] bytes or holds a control character.
pub(super) fn parse_login_hint(params: &StartParams) -> Result<Option<&str>, StartParamError> {
    let hint = params.login_hint.as_deref().filter(|h| !h.is_empty());
    if hint.is_some_and(|h| h.len() > MAX_LOGIN_HINT || h.chars().any(char::is_control)) {
        return Err(StartParamError::LoginHint {
            max: MAX_LOGIN_HINT,
        });
    }
    Ok(hint)
}

/// The app's `state`: `None` when absent or empty (an app that sends `state=` has none to
/// check). The gateway only stores it and returns it.
///
/// # Errors
/// That it breaks the rule of [`ReturnState`]; the text does not quote it.
pub(super) fn parse_state(params: &StartParams) -> Result<Option<ReturnState>, StartParamError> {
    ReturnState::parse(params.state.as_deref())
        .map_err(|_| StartParamError::State { max: MAX_STATE_LEN })
}

/// Extra scopes from `scopes=a b,c` and `scopes[]=a`: at most [`MAX_EXTRA_SCOPES`] distinct
/// ones of at most [`MAX_SCOPE_LEN`] bytes. Their syntax (OAuth scope tokens, for OIDC) is the
/// provider's to check.
///
/// Work is linear in the input and bounded before it starts: at most [`MAX_SCOPES_BYTES`] of
/// input in at most [`MAX_SCOPE_ENTRIES`] `scopes[]` entries, duplicates found with a hash set,
/// and the 17th distinct scope stops the loop.
///
/// # Errors
/// That there are too many scopes or that they are too long.
pub(super) fn parse_scopes(params: &StartParams) -> Result<Vec<String>, StartParamError> {
    let bad = StartParamError::Scopes;
    if params.scope_list.len() > MAX_SCOPE_ENTRIES {
        return Err(bad(format!(
            "more than {MAX_SCOPE_ENTRIES} `scopes[]` entries"
        )));
    }
    let bytes = params.scopes.as_deref().map_or(0, str::len)
        + params.scope_list.iter().map(String::len).sum::<usize>();
    if bytes > MAX_SCOPES_BYTES {
        return Err(bad(format!("longer than {MAX_SCOPES_BYTES} bytes in all")));
    }
    let mut seen = std::collections::HashSet::new();
    let mut scopes: Vec<String> = Vec::new();
    let listed = params.scope_list.iter().flat_map(|s| s.split([' ', ',']));
    for scope in params
        .scopes
        .as_deref()
        .unwrap_or_default()
        .split([' ', ','])
        .chain(listed)
    {
        if scope.is_empty() || !seen.insert(scope) {
            continue;
        }
        if scope.len() > MAX_SCOPE_LEN {
            return Err(bad(format!("a scope is longer than {MAX_SCOPE_LEN} bytes")));
        }
        if scopes.len() == MAX_EXTRA_SCOPES {
            return Err(bad(format!("more than {MAX_EXTRA_SCOPES} scopes")));
        }
        scopes.push(scope.to_string());
    }
    Ok(scopes)
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
        assert_eq!(
            StartParamError::State { max: 512 }.to_string(),
            "the `state` parameter is refused: longer than 512 characters, or a character outside \
             printable ASCII (space to `~`)"
        );
    }

    #[test]
    fn an_empty_state_or_hint_is_none_and_a_bad_one_is_named() {
        let params = |state: &str, hint: &str| StartParams {
            state: Some(state.into()),
            login_hint: Some(hint.into()),
            ..StartParams::default()
        };
        let empty = params("", "");
        assert_eq!(parse_state(&empty), Ok(None));
        assert_eq!(parse_login_hint(&empty), Ok(None));
        let good = params("s t~", "alice");
        assert_eq!(
            parse_state(&good).map(|s| s.map(|s| s.as_str().to_string())),
            Ok(Some("s t~".to_string()))
        );
        assert_eq!(parse_login_hint(&good), Ok(Some("alice")));
        let bad = params("a\u{7}b", "a\u{7}b");
        assert_eq!(
            parse_state(&bad).map(|_| ()),
            Err(StartParamError::State { max: 512 })
        );
        assert_eq!(
            parse_login_hint(&bad),
            Err(StartParamError::LoginHint { max: 256 })
        );
    }

    use std::time::{Duration, Instant};

    #[test]
    fn thousands_of_distinct_scopes_are_refused_in_linear_time() {
        let many: String = (0..8000).map(|i| format!("s{i} ")).collect();
        let params = StartParams {
            scopes: Some(many),
            ..StartParams::default()
        };
        let began = Instant::now();
        let error = parse_scopes(&params).expect_err("too many scopes");
        let took = began.elapsed();
        assert!(
            took < Duration::from_millis(50),
            "parse_scopes took {took:?}"
        );
        assert!(error.to_string().contains("scopes"), "{error}");
    }

    #[test]
    fn thousands_of_listed_scopes_are_refused_in_linear_time() {
        let params = StartParams {
            scope_list: (0..8000).map(|i| format!("s{i}")).collect(),
            ..StartParams::default()
        };
        let began = Instant::now();
        assert!(parse_scopes(&params).is_err());
        let took = began.elapsed();
        assert!(
            took < Duration::from_millis(50),
            "parse_scopes took {took:?}"
        );
    }

    #[test]
    fn repeated_scopes_count_once() {
        let params = StartParams {
            scopes: Some("a b,a  c".into()),
            scope_list: vec!["b".into(), "d,a".into()],
            ..StartParams::default()
        };
        let scopes = parse_scopes(&params).expect("scopes");
        assert_eq!(scopes, ["a", "b", "c", "d"]);
        let sixteen: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
        let params = StartParams {
            scopes: Some(sixteen.join(" ")),
            scope_list: sixteen.clone(),
            ..StartParams::default()
        };
        assert_eq!(parse_scopes(&params).expect("16 scopes"), sixteen);
        let params = StartParams {
            scopes: Some(format!("{} s16", sixteen.join(" "))),
            ..StartParams::default()
        };
        assert!(parse_scopes(&params).is_err(), "17 distinct scopes");
    }
}
