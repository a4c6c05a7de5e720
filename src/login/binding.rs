//! The browser binding of a login: a fresh `state` (32 random bytes) and the cookie that
//! holds SHA-256(state) under a name derived from it, so several logins can run in parallel
//! tabs. A callback must come from the browser that started the login (login CSRF defence) and
//! carry a `state` that was issued, not yet used and not expired.
//! Must not: call providers or Appwrite, or log a `state`.

use axum_extra::extract::cookie::{Cookie, SameSite};
use data_encoding::BASE64URL_NOPAD;
use idp_provider_api::Secret;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::store::transaction::StateKey;

/// Characters of the state hash that name the cookie.
const COOKIE_NAME_HASH_CHARS: usize = 16;

/// Bytes of randomness in a `state`.
const STATE_BYTES: usize = 32;

/// A fresh `state`: 32 random bytes from the thread's CSPRNG (seeded by the OS), base64url.
pub fn new_state() -> Secret<String> {
    let mut bytes = [0u8; STATE_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(BASE64URL_NOPAD.encode(&bytes))
}

/// The browser-binding cookie of a login.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// `Secure` + `__Host-` prefix (public URL is https).
    pub secure: bool,
}

impl Binding {
    /// The cookie name for `key`.
    fn name(&self, key: &StateKey) -> String {
        let prefix = if self.secure { "__Host-" } else { "" };
        format!("{prefix}idpb_{}", &key.as_str()[..COOKIE_NAME_HASH_CHARS])
    }

    /// The cookie set at `start`: HttpOnly, Path=/ (required by `__Host-`), living as long as
    /// the transaction. With https it is `Secure` and `SameSite=None`, so that a provider's
    /// `form_post` (a cross-site POST) still carries it; that is safe because the cookie only
    /// vouches for its own `state`, which a cross-site attacker cannot know. Over plain http
    /// (loopback development) browsers refuse `SameSite=None`, so it is `Lax` there.
    pub fn cookie(&self, key: &StateKey, max_age: std::time::Duration) -> Cookie<'static> {
        Cookie::build((self.name(key), key.as_str().to_string()))
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(if self.secure {
                SameSite::None
            } else {
                SameSite::Lax
            })
            .max_age(time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(600),
            ))
            .build()
    }

    /// The cookie that deletes the binding at `callback`.
    pub fn removal(&self, key: &StateKey) -> Cookie<'static> {
        let mut cookie = self.cookie(key, std::time::Duration::ZERO);
        cookie.make_removal();
        cookie
    }

    /// Whether the request's cookies prove that this browser started the login of `key`.
    pub fn verify(&self, key: &StateKey, jar: &axum_extra::extract::CookieJar) -> bool {
        jar.get(&self.name(key))
            .is_some_and(|c| c.value().as_bytes().ct_eq(key.as_str().as_bytes()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum_extra::extract::CookieJar;

    #[test]
    fn every_login_gets_a_fresh_unguessable_state() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43, "256 bits of state, base64url");
    }

    #[test]
    fn the_binding_needs_the_right_cookie() {
        let binding = Binding { secure: true };
        let key = StateKey::of("some-state");
        let cookie = binding.cookie(&key, std::time::Duration::from_secs(600));
        assert!(cookie.name().starts_with("__Host-idpb_"));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.http_only(), Some(true));
        let jar = CookieJar::new().add(cookie);
        assert!(binding.verify(&key, &jar));
        assert!(!binding.verify(&StateKey::of("other-state"), &jar));
        assert!(!binding.verify(&key, &CookieJar::new()));
        let forged = CookieJar::new().add(Cookie::new(binding.name(&key), "0".repeat(64)));
        assert!(!binding.verify(&key, &forged));
    }
}
