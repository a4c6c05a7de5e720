//! The browser-binding cookie of a login: SHA-256 of its `state` (the [`StateKey`]), under a
//! name derived from it, so several logins can run in parallel tabs. Set at `start`, checked
//! and removed at the callback: the login pipeline asks only whether the browser holds it
//! ([`BrowserBinding`]); the cookie itself is HTTP's, here.
//! Must not: log a cookie value, or accept a value that is not the login's own.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

use crate::login::{BrowserBinding, StateKey};

/// Characters of the state hash that name the cookie.
const COOKIE_NAME_HASH_CHARS: usize = 16;

/// The browser-binding cookie of a login.
#[derive(Debug, Clone, Copy)]
pub struct BindingCookie {
    /// `Secure` + `__Host-` prefix (public URL is https).
    pub secure: bool,
}

impl BindingCookie {
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
    pub fn verify(&self, key: &StateKey, jar: &CookieJar) -> bool {
        jar.get(&self.name(key))
            .is_some_and(|c| c.value().as_bytes().ct_eq(key.as_str().as_bytes()).into())
    }

    /// The request's cookies, as the login pipeline asks about them.
    pub fn presented<'a>(&'a self, jar: &'a CookieJar) -> Presented<'a> {
        Presented { cookie: self, jar }
    }
}

/// A request's cookies, for [`BrowserBinding`].
pub struct Presented<'a> {
    cookie: &'a BindingCookie,
    jar: &'a CookieJar,
}

impl BrowserBinding for Presented<'_> {
    fn holds(&self, key: &StateKey) -> bool {
        self.cookie.verify(key, self.jar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binding_needs_the_right_cookie() {
        let binding = BindingCookie { secure: true };
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
