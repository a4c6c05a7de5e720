//! `[token]`: how the Appwrite custom token is minted. The validated section is the Appwrite
//! client's [`TokenConfig`].

use serde::Deserialize;

use super::in_range;
use crate::appwrite::TokenConfig;

/// `[token]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawToken {
    length: i64,
    expire_seconds: i64,
}

impl Default for RawToken {
    fn default() -> Self {
        Self {
            length: 64,
            expire_seconds: 60,
        }
    }
}

impl RawToken {
    /// Checks the secret length and the lifetime, reporting each problem through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<TokenConfig> {
        let length = in_range(p, "token.length", self.length, 4, 128);
        let expire = in_range(
            p,
            "token.expire_seconds",
            self.expire_seconds,
            60,
            31_536_000,
        );
        Some(TokenConfig {
            length: u32::try_from(length?).ok()?,
            expire_seconds: u32::try_from(expire?).ok()?,
        })
    }
}
