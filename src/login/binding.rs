//! The browser binding of a login: a fresh `state` (32 random bytes), stored hashed as the
//! login's [`StateKey`], and the question the callback asks of the browser: does it hold the
//! binding of that login ([`BrowserBinding`])? A callback must come from the browser that
//! started the login (login CSRF defence) and carry a `state` that was issued, not yet used and
//! not expired. How the browser holds it (a cookie) is HTTP's: `http::binding_cookie`.
//! Must not: call providers or Appwrite, or log a `state`.

use data_encoding::BASE64URL_NOPAD;
use idp_provider_api::Secret;
use rand::RngCore;

use crate::store::transaction::StateKey;

/// Bytes of randomness in a `state`.
const STATE_BYTES: usize = 32;

/// A fresh `state`: 32 random bytes from the thread's CSPRNG (seeded by the OS), base64url.
pub fn new_state() -> Secret<String> {
    let mut bytes = [0u8; STATE_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(BASE64URL_NOPAD.encode(&bytes))
}

/// What a callback's browser presents: whether it holds the binding set when the login of
/// `key` started.
pub trait BrowserBinding: Sync {
    /// Whether this browser started the login of `key`.
    fn holds(&self, key: &StateKey) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_login_gets_a_fresh_unguessable_state() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43, "256 bits of state, base64url");
    }
}
