//! The app's own `state`: a value the app sends to `start` and gets back unchanged beside the
//! result (`userId` and `secret`, or `error`), so that it can refuse a result its own browser
//! did not ask for: a success link that another browser started and forwarded (login CSRF on
//! the last hop).
//!
//! Owns: the rule of what a `state` may hold. The gateway never reads it otherwise: it does not
//! compare it, log it or send it to the provider (whose `state` is the gateway's own).
//! Must not: interpret the value.

use std::fmt;

/// Longest app `state`, in characters (each one byte: see [`ReturnState`]).
pub const MAX_STATE_LEN: usize = 512;

/// The app's own `state`, echoed unchanged on the success or failure URL.
///
/// 1 to [`MAX_STATE_LEN`] characters of printable ASCII, space to `~` (OAuth 2.0's `VSCHAR`,
/// the rule of its own `state` parameter): no control character, and nothing that a charset or
/// Unicode normalisation could spell another way, so the app gets back the very bytes it sent.
/// It travels percent-encoded, like every added parameter. An empty `state` is no state.
///
/// `Debug` does not show it: it is the app's anti-forgery value, kept out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ReturnState(String);

/// A `state` that breaks the rule of [`ReturnState`]. Names no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "longer than {MAX_STATE_LEN} characters, or a character outside printable ASCII (space to `~`)"
)]
pub struct StateRefused;

impl ReturnState {
    /// The app's `state` from `raw`: `None` when absent or empty.
    ///
    /// # Errors
    /// [`StateRefused`] when it breaks the rule of [`ReturnState`].
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, StateRefused> {
        let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
            return Ok(None);
        };
        if raw.len() > MAX_STATE_LEN || !raw.bytes().all(|b| matches!(b, b' '..=b'~')) {
            return Err(StateRefused);
        }
        Ok(Some(Self(raw.to_string())))
    }

    /// The value, as the app sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReturnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReturnState([app value])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_up_to_512_characters_is_taken_as_it_is() {
        assert_eq!(ReturnState::parse(None), Ok(None));
        assert_eq!(ReturnState::parse(Some("")), Ok(None), "empty is absent");
        let every: String = (b' '..=b'~').map(char::from).collect();
        let state = ReturnState::parse(Some(&every)).expect("printable ASCII");
        assert_eq!(state.map(|s| s.0), Some(every));
        let longest = "~".repeat(MAX_STATE_LEN);
        assert!(ReturnState::parse(Some(&longest)).is_ok_and(|s| s.is_some()));
    }

    #[test]
    fn longer_states_controls_and_other_characters_are_refused() {
        let too_long = "a".repeat(MAX_STATE_LEN + 1);
        for refused in [
            too_long.as_str(),
            "a\u{0}b",
            "a\tb",
            "a\nb",
            "a\u{7f}b",
            "a\u{85}b",
            "caf\u{e9}",
            "\u{202e}abc",
            "\u{feff}abc",
        ] {
            assert_eq!(
                ReturnState::parse(Some(refused)),
                Err(StateRefused),
                "{refused:?}"
            );
        }
        // 256 two-byte characters fit in 512 bytes, and are refused for their characters.
        assert!(ReturnState::parse(Some(&"\u{e9}".repeat(256))).is_err());
    }

    #[test]
    fn debug_does_not_show_the_value() {
        let state = ReturnState::parse(Some("app-csrf-value")).expect("valid");
        assert!(!format!("{state:?}").contains("app-csrf-value"));
    }
}
