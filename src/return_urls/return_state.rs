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

/// Why a start parameter's text (the app's `state`, a `login_hint`) is refused: which rule, and
/// where. Names no value, nor any character of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextRefused {
    /// Longer than `max` of `unit` (`characters`, `bytes`).
    #[error("longer than {max} {unit}")]
    TooLong {
        /// The longest accepted.
        max: usize,
        /// What `max` counts.
        unit: &'static str,
    },
    /// A control character (C0, DEL or C1) at `position` (in characters, from 1).
    #[error("holds a control character at position {position}")]
    Control {
        /// Where, in characters from 1.
        position: usize,
    },
    /// A character outside ASCII where only printable ASCII is allowed, at `position`.
    #[error("holds a non-ASCII character at position {position}")]
    NonAscii {
        /// Where, in characters from 1.
        position: usize,
    },
}

impl TextRefused {
    /// The first character of `text` that `allowed` refuses, as a refusal naming its kind and
    /// position.
    pub fn first_bad_character(text: &str, allowed: impl Fn(char) -> bool) -> Option<Self> {
        let (index, c) = text.chars().enumerate().find(|&(_, c)| !allowed(c))?;
        let position = index + 1;
        Some(if c.is_control() {
            Self::Control { position }
        } else {
            Self::NonAscii { position }
        })
    }
}

impl ReturnState {
    /// The app's `state` from `raw`: `None` when absent or empty.
    ///
    /// # Errors
    /// [`TextRefused`] when it breaks the rule of [`ReturnState`], saying which part.
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, TextRefused> {
        let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
            return Ok(None);
        };
        if raw.chars().count() > MAX_STATE_LEN {
            return Err(TextRefused::TooLong {
                max: MAX_STATE_LEN,
                unit: "characters",
            });
        }
        match TextRefused::first_bad_character(raw, |c| matches!(c, ' '..='~')) {
            Some(refused) => Err(refused),
            None => Ok(Some(Self(raw.to_string()))),
        }
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
        let long = TextRefused::TooLong {
            max: MAX_STATE_LEN,
            unit: "characters",
        };
        let control = |position| TextRefused::Control { position };
        let other = |position| TextRefused::NonAscii { position };
        for (refused, why) in [
            (too_long.as_str(), long),
            ("a\u{0}b", control(2)),
            ("a\tb", control(2)),
            ("ab\n", control(3)),
            ("a\u{7f}b", control(2)),
            ("\u{e9}a\u{85}b", other(1)),
            ("a\u{85}b", control(2)),
            ("caf\u{e9}", other(4)),
            ("\u{202e}abc", other(1)),
            ("\u{feff}abc", other(1)),
        ] {
            assert_eq!(ReturnState::parse(Some(refused)), Err(why), "{refused:?}");
        }
        // 256 two-byte characters fit in 512 bytes, and are refused for their characters; 513
        // of them are too many characters.
        assert_eq!(
            ReturnState::parse(Some(&"\u{e9}".repeat(256))),
            Err(other(1))
        );
        assert_eq!(ReturnState::parse(Some(&"\u{e9}".repeat(513))), Err(long));
    }

    #[test]
    fn debug_does_not_show_the_value() {
        let state = ReturnState::parse(Some("app-csrf-value")).expect("valid");
        assert!(!format!("{state:?}").contains("app-csrf-value"));
    }
}
