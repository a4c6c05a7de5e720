//! Login transactions: created at `start`, bound to the browser, taken exactly once at
//! `callback`.
//!
//! Owns: `state` generation (32 random bytes) and the binding cookie, which holds
//! SHA-256(state) under a name derived from it, so several logins can run in parallel tabs. What
//! the provider keeps with the login (for OIDC its nonce and PKCE verifier) rides along as an
//! opaque [`LoginData`] that only the provider reads. A callback must come from the browser that started the login
//! (login CSRF defence) and carry a `state` that was issued, not yet used and not expired.
//! Must not: call providers or Appwrite, or log any field of a transaction.

use std::time::SystemTime;

use axum_extra::extract::cookie::{Cookie, SameSite};
use data_encoding::BASE64URL_NOPAD;
use idp_provider_api::{LoginData, Secret};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::login::redirect::RedirectTarget;

/// Characters of the state hash that name the cookie.
const COOKIE_NAME_HASH_CHARS: usize = 16;

/// A login in progress.
#[derive(Debug, Clone)]
pub struct LoginTransaction {
    /// The provider id the login started with; the callback must be the same provider's.
    pub provider: String,
    /// What the provider keeps until its callback, unread by the gateway.
    pub data: LoginData,
    /// Where to send the browser on success.
    pub success: RedirectTarget,
    /// Where to send the browser on failure.
    pub failure: RedirectTarget,
    /// When `start` created it.
    pub created_at: SystemTime,
}

/// What one stored transaction costs beyond its strings: the struct, the key (64 hex
/// characters in a `String`) and the cache's per-entry bookkeeping. Estimated from the measured
/// resident memory per open login with short URLs (`benches/start_flood.rs`).
pub const ENTRY_OVERHEAD_BYTES: u64 = 800;

impl LoginTransaction {
    /// The bytes this transaction holds in a store: its strings plus
    /// [`ENTRY_OVERHEAD_BYTES`]. The URLs dominate: up to 2048 bytes each.
    pub fn weight(&self) -> u64 {
        let strings = self.provider.len()
            + self.data.len()
            + self.success.as_str().len()
            + self.failure.as_str().len();
        u64::try_from(strings)
            .unwrap_or(u64::MAX)
            .saturating_add(ENTRY_OVERHEAD_BYTES)
    }
}

/// The store key of a transaction: hex SHA-256 of its `state`, so the store never holds a
/// usable `state`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateKey(String);

impl StateKey {
    /// The key of `state`.
    pub fn of(state: &str) -> Self {
        Self(hex(&Sha256::digest(state.as_bytes())))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::redirect::AllowList;
    use axum_extra::extract::CookieJar;

    fn target() -> RedirectTarget {
        AllowList::parse(&["http://127.0.0.1:3000/".to_string()])
            .expect("list")
            .check("success", Some("http://127.0.0.1:3000/"))
            .expect("allowed")
    }

    #[test]
    fn every_login_gets_a_fresh_unguessable_state() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43, "256 bits of state, base64url");
        let transaction = LoginTransaction {
            provider: "corp".into(),
            data: LoginData::new("x".repeat(100)),
            success: target(),
            failure: target(),
            created_at: SystemTime::now(),
        };
        assert!(transaction.weight() > ENTRY_OVERHEAD_BYTES + 100);
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
