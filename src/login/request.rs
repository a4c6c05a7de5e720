//! The query of `start`, and the start parameters other than the success and failure URLs:
//! `scopes` (split, de-duplicated and capped here; their syntax is the provider's),
//! `login_hint`, and the app's own `state` (its rule is [`ReturnState`]'s), with the errors
//! that refuse them.
//!
//! A refused `success` or `failure` URL is a [`crate::return_urls::RedirectError`]; the other start
//! parameters (`scopes`, `login_hint`, `state`) are refused here. Both end the same way: a 400
//! page with the error's text and no redirect, since no failure URL was trusted yet.

use serde::Deserialize;

use crate::return_urls::{ReturnState, TextRefused};

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
/// one would otherwise be silently ignored. `Debug` hides `state` (the app's anti-forgery value)
/// and `login_hint` (often an email).
#[derive(Default, Deserialize)]
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

impl std::fmt::Debug for StartParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |value: &Option<String>| value.as_ref().map(|_| "[redacted]");
        f.debug_struct("StartParams")
            .field("success", &self.success)
            .field("failure", &self.failure)
            .field("scopes", &self.scopes)
            .field("scope_list", &self.scope_list)
            .field("login_hint", &hidden(&self.login_hint))
            .field("state", &hidden(&self.state))
            .finish()
    }
}

/// Why a `scopes`, `login_hint` or `state` start parameter is refused. The text is shown on
/// the 400 page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartParamError {
    /// `scopes` (or `scopes[]`): too many, too long, or not scope tokens; the text says which.
    #[error("the `scopes` parameter is refused: {0}")]
    Scopes(String),
    /// `login_hint` is longer than [`MAX_LOGIN_HINT`] bytes or holds a control character; the
    /// text says which, and where.
    #[error("the `login_hint` parameter is refused: {0}")]
    LoginHint(TextRefused),
    /// `state` is longer than its limit or holds a character outside printable ASCII; the text
    /// says which, and where.
    #[error("the `state` parameter is refused: {0}")]
    State(TextRefused),
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
/// That it is longer than [`MAX_LOGIN_HINT`] bytes, or where it holds a control character.
pub(super) fn parse_login_hint(params: &StartParams) -> Result<Option<&str>, StartParamError> {
    let Some(hint) = params.login_hint.as_deref().filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let refused = if hint.len() > MAX_LOGIN_HINT {
        Some(TextRefused::TooLong {
            max: MAX_LOGIN_HINT,
            unit: "bytes",
        })
    } else {
        TextRefused::first_bad_character(hint, |c| !c.is_control())
    };
    match refused {
        Some(refused) => Err(StartParamError::LoginHint(refused)),
        None => Ok(Some(hint)),
    }
}

/// The app's `state`: `None` when absent or empty (an app that sends `state=` has none to
/// check). The gateway only stores it and returns it.
///
/// # Errors
/// Which rule of [`ReturnState`] it breaks, and where; the text does not quote it.
pub(super) fn parse_state(params: &StartParams) -> Result<Option<ReturnState>, StartParamError> {
    ReturnState::parse(params.state.as_deref()).map_err(StartParamError::State)
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
            StartParamError::LoginHint(TextRefused::Control { position: 3 }).to_string(),
            "the `login_hint` parameter is refused: holds a control character at position 3"
        );
        assert_eq!(
            StartParamError::State(TextRefused::TooLong {
                max: 512,
                unit: "characters"
            })
            .to_string(),
            "the `state` parameter is refused: longer than 512 characters"
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
        let control = TextRefused::Control { position: 2 };
        assert_eq!(
            parse_state(&bad).map(|_| ()),
            Err(StartParamError::State(control))
        );
        assert_eq!(
            parse_login_hint(&bad),
            Err(StartParamError::LoginHint(control))
        );
    }

    #[test]
    fn a_refusal_says_which_rule_and_where_never_the_value() {
        let refusal = |state: &str, hint: &str| {
            let params = StartParams {
                state: Some(state.into()),
                login_hint: Some(hint.into()),
                ..StartParams::default()
            };
            let text = |e: Option<StartParamError>| e.map(|e| e.to_string()).unwrap_or_default();
            (
                text(parse_state(&params).err()),
                text(parse_login_hint(&params).err()),
            )
        };
        let (state, hint) = refusal(&"s".repeat(513), &"h".repeat(257));
        assert!(state.ends_with("longer than 512 characters"), "{state}");
        assert!(hint.ends_with("longer than 256 bytes"), "{hint}");
        let (state, hint) = refusal("ab\u{1}secret", "al\u{0}ice-secret");
        assert!(
            state.ends_with("holds a control character at position 3"),
            "{state}"
        );
        assert!(
            hint.ends_with("holds a control character at position 3"),
            "{hint}"
        );
        assert!(!state.contains("secret") && !hint.contains("secret"));
        let (state, hint) = refusal("\u{e9}t\u{e9}", "\u{e9}t\u{e9}\u{85}");
        assert!(
            state.ends_with("holds a non-ASCII character at position 1"),
            "{state}"
        );
        assert!(
            hint.ends_with("holds a control character at position 4"),
            "characters, not bytes: {hint}"
        );
    }

    #[test]
    fn debug_hides_the_state_and_the_login_hint() {
        let params = StartParams {
            success: Some("https://app.example/done".into()),
            state: Some("app-csrf-7f3a9c".into()),
            login_hint: Some("alice@example.com".into()),
            ..StartParams::default()
        };
        let text = format!("{params:?}");
        assert!(
            !text.contains("app-csrf-7f3a9c") && !text.contains("alice@example.com"),
            "{text}"
        );
        assert!(text.contains("https://app.example/done"), "{text}");
    }

    /// A flood of scopes is refused by the caps checked before any scope is read (so its cost
    /// does not grow with the flood; `benches/start_flood.rs` measures it): the total length,
    /// then the number of `scopes[]` entries. Without those checks the verdict would be the
    /// 17th distinct scope, after reading (and hashing) up to it.
    #[test]
    fn a_flood_of_scopes_is_refused_before_any_scope_is_read() {
        let many: String = (0..8000).map(|i| format!("s{i} ")).collect();
        let params = StartParams {
            scopes: Some(many),
            ..StartParams::default()
        };
        let error = parse_scopes(&params).expect_err("too many scopes");
        assert!(
            error.to_string().ends_with("longer than 2048 bytes in all"),
            "{error}"
        );
        let params = StartParams {
            scope_list: (0..8000).map(|i| format!("s{i}")).collect(),
            ..StartParams::default()
        };
        let error = parse_scopes(&params).expect_err("too many entries");
        assert!(
            error
                .to_string()
                .ends_with("more than 64 `scopes[]` entries"),
            "{error}"
        );
        // Within both caps, the 17th distinct scope ends the reading.
        let params = StartParams {
            scope_list: (0..64).map(|i| format!("s{i}")).collect(),
            ..StartParams::default()
        };
        let error = parse_scopes(&params).expect_err("17 distinct scopes");
        assert!(
            error.to_string().ends_with("more than 16 scopes"),
            "{error}"
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
