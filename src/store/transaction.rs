//! Login transactions as the store keeps them: created at `start`, taken exactly once at
//! `callback`, under the hash of their `state`.
//!
//! What the provider keeps with the login (for OIDC its nonce and PKCE verifier) rides along as
//! an opaque [`LoginData`] that only the provider reads.
//! A shared store keeps a transaction in its stored form ([`LoginTransaction::to_stored`],
//! JSON that the store seals before it leaves the process; a form written by an older release,
//! without the app's `state`, reads back as a login without one). Whatever the store, the login
//! pipeline checks the success and failure URLs against the current `[redirect].allowed` at
//! the callback.
//! Must not: log any field of a transaction.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use idp_provider_api::LoginData;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::return_urls::{RedirectTarget, ReturnState};

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
    /// The app's own `state`, returned beside the result on either URL.
    pub state: Option<ReturnState>,
    /// When `start` created it.
    pub created_at: SystemTime,
}

/// What one stored transaction costs beyond its strings: the struct, the key (64 hex
/// characters in a `String`) and the cache's per-entry bookkeeping. Estimated from the measured
/// resident memory per open login with short URLs (`benches/start_flood.rs`).
pub const ENTRY_OVERHEAD_BYTES: u64 = 800;

impl LoginTransaction {
    /// The bytes this transaction holds in a store: its strings plus
    /// [`ENTRY_OVERHEAD_BYTES`]. The URLs dominate: up to 2048 bytes each (the app's `state`:
    /// up to 512).
    pub fn weight(&self) -> u64 {
        let strings = self.provider.len()
            + self.data.len()
            + self.success.as_str().len()
            + self.failure.as_str().len()
            + self.state.as_ref().map_or(0, |state| state.as_str().len());
        u64::try_from(strings)
            .unwrap_or(u64::MAX)
            .saturating_add(ENTRY_OVERHEAD_BYTES)
    }
}

/// The stored form of a transaction. Holds secrets (the provider's data): only ever written
/// sealed.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    provider: Cow<'a, str>,
    data: Cow<'a, str>,
    success: Cow<'a, str>,
    failure: Cow<'a, str>,
    /// The app's `state`. Absent in a login that has none, and in every login an older
    /// release wrote (it reads back as none); an older release reading a newer login ignores
    /// it, and that login returns without a state, which an app that checks it refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<Cow<'a, str>>,
    /// Milliseconds since the Unix epoch.
    created_at_ms: u64,
}

/// Why a stored transaction cannot be read back. The text names no value of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredError {
    /// Not the JSON a gateway writes.
    #[error("the stored login is not readable ({0})")]
    Malformed(String),
    /// Its success or failure URL is not a redirect URL the gateway accepts (not a URL, or one
    /// that fails a check about the URL alone; see `RedirectTarget::parse`).
    #[error("the stored login's `{0}` URL is refused")]
    NotAUrl(&'static str),
    /// Its app `state` breaks the rule of `ReturnState`.
    #[error("the stored login's `state` is refused")]
    StateRefused,
}

impl LoginTransaction {
    /// The stored form, to be sealed by the store.
    ///
    /// # Errors
    /// When it cannot be encoded (a creation time before 1970).
    pub fn to_stored(&self) -> Result<Vec<u8>, StoredError> {
        let created_at_ms = self
            .created_at
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u64::try_from(d.as_millis()).ok())
            .ok_or_else(|| StoredError::Malformed("created before 1970".into()))?;
        serde_json::to_vec(&Stored {
            provider: Cow::Borrowed(&self.provider),
            data: Cow::Borrowed(self.data.expose()),
            success: Cow::Borrowed(self.success.as_str()),
            failure: Cow::Borrowed(self.failure.as_str()),
            state: self
                .state
                .as_ref()
                .map(|state| Cow::Borrowed(state.as_str())),
            created_at_ms,
        })
        .map_err(|e| StoredError::Malformed(format!("{:?}", e.classify())))
    }

    /// Reads a stored form back. The URLs are not checked against the allow-list here: the
    /// login pipeline checks them against the current one, whatever the store.
    ///
    /// # Errors
    /// See [`StoredError`].
    pub fn from_stored(bytes: &[u8]) -> Result<Self, StoredError> {
        // serde_json's message could quote a value; only its category and place are kept.
        let stored: Stored<'_> = serde_json::from_slice(bytes).map_err(|e| {
            StoredError::Malformed(format!("{:?} error at column {}", e.classify(), e.column()))
        })?;
        let check = |param: &'static str, url: &str| {
            RedirectTarget::parse(param, Some(url)).map_err(|_| StoredError::NotAUrl(param))
        };
        Ok(Self {
            success: check("success", &stored.success)?,
            failure: check("failure", &stored.failure)?,
            state: ReturnState::parse(stored.state.as_deref())
                .map_err(|_| StoredError::StateRefused)?,
            provider: stored.provider.into_owned(),
            data: LoginData::new(stored.data.into_owned()),
            created_at: UNIX_EPOCH + Duration::from_millis(stored.created_at_ms),
        })
    }

    /// Whether the login is still within `ttl` of its creation at `now` (a store's own expiry
    /// runs on its own clock; this deadline is the one that counts).
    pub fn is_live(&self, now: SystemTime, ttl: Duration) -> bool {
        now.duration_since(self.created_at).unwrap_or_default() <= ttl
    }
}

/// The store key of a transaction: hex SHA-256 of its `state`, so the store never holds a
/// usable `state`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateKey(String);

impl StateKey {
    /// The key of `state`.
    pub fn of(state: &str) -> Self {
        Self(data_encoding::HEXLOWER.encode(&Sha256::digest(state.as_bytes())))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::return_urls::AllowList;

    fn target() -> RedirectTarget {
        AllowList::parse(&["http://127.0.0.1:3000/".to_string()])
            .expect("list")
            .check("success", Some("http://127.0.0.1:3000/"))
            .expect("allowed")
    }

    #[test]
    fn a_transaction_weighs_its_strings_and_its_overhead() {
        let transaction = LoginTransaction {
            provider: "corp".into(),
            data: LoginData::new("x".repeat(100)),
            success: target(),
            failure: target(),
            state: None,
            created_at: SystemTime::now(),
        };
        assert!(transaction.weight() > ENTRY_OVERHEAD_BYTES + 100);
        assert_eq!(StateKey::of("s").as_str().len(), 64);
        let with_state = LoginTransaction {
            state: ReturnState::parse(Some(&"s".repeat(512))).expect("valid"),
            ..transaction.clone()
        };
        assert_eq!(with_state.weight(), transaction.weight() + 512);
    }

    fn transaction(success: &str) -> LoginTransaction {
        let success = AllowList::parse(&["http://127.0.0.1:3000/".to_string()])
            .expect("list")
            .check("success", Some(success))
            .expect("allowed");
        LoginTransaction {
            provider: "corp".into(),
            data: LoginData::new("{\"nonce\":\"n-0123\"}".into()),
            success,
            failure: target(),
            state: ReturnState::parse(Some("app state & more")).expect("valid"),
            created_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        }
    }

    #[test]
    fn the_stored_form_reads_back_the_same() {
        let before = transaction("http://127.0.0.1:3000/done?x=1");
        let after = LoginTransaction::from_stored(&before.to_stored().expect("stored"))
            .expect("reads back");
        assert_eq!(after.provider, before.provider);
        assert_eq!(after.data.expose(), before.data.expose());
        assert_eq!(after.success, before.success);
        assert_eq!(after.failure, before.failure);
        assert_eq!(after.state, before.state);
        assert!(after.state.is_some());
        assert_eq!(after.created_at, before.created_at);
        let stateless = LoginTransaction {
            state: None,
            ..before
        };
        let stored = stateless.to_stored().expect("stored");
        assert!(!String::from_utf8_lossy(&stored).contains("state"));
        let after = LoginTransaction::from_stored(&stored).expect("reads back");
        assert_eq!(after.state, None);
    }

    #[test]
    fn a_login_stored_by_an_older_release_reads_back_without_a_state() {
        // Exactly what releases before the app's `state` wrote.
        let older = br#"{"provider":"corp","data":"{\"nonce\":\"n-0123\"}","success":"http://127.0.0.1:3000/done","failure":"http://127.0.0.1:3000/","created_at_ms":1700000000123}"#;
        let login = LoginTransaction::from_stored(older).expect("an older login reads back");
        assert_eq!(login.state, None);
        assert_eq!(login.provider, "corp");
        assert_eq!(login.success.as_str(), "http://127.0.0.1:3000/done");
    }

    #[test]
    fn a_stored_state_that_breaks_the_rule_is_refused_without_its_value() {
        let stored = String::from_utf8(
            transaction("http://127.0.0.1:3000/done")
                .to_stored()
                .expect("stored"),
        )
        .expect("JSON");
        // A JSON escape: the state read back holds a line feed.
        for refused in ["secret\\nvalue", &"x".repeat(513)] {
            let stored = stored.replace("app state & more", refused);
            let error = LoginTransaction::from_stored(stored.as_bytes()).expect_err("refused");
            assert_eq!(error, StoredError::StateRefused);
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn a_stored_form_that_is_not_a_login_is_refused_without_its_values() {
        let stored = String::from_utf8(
            transaction("http://127.0.0.1:3000/done")
                .to_stored()
                .expect("stored"),
        )
        .expect("JSON");
        let not_a_url = stored.replace("http://127.0.0.1:3000/done", "secret-value");
        assert_eq!(
            LoginTransaction::from_stored(not_a_url.as_bytes()).err(),
            Some(StoredError::NotAUrl("success"))
        );
        // Sealed and well-formed, but failing a rule of this release about the URL alone (an
        // older or other writer): refused, not trusted because it was sealed.
        for refused in [
            "http://127.0.0.1:3000/done#frag",
            "http://127.0.0.1:3000/done?secret=1",
            "http://127.0.0.1:3000/a/..%2Fdone",
            "javascript://127.0.0.1:3000/done",
        ] {
            let stored = stored.replace("http://127.0.0.1:3000/done", refused);
            assert_eq!(
                LoginTransaction::from_stored(stored.as_bytes()).err(),
                Some(StoredError::NotAUrl("success")),
                "{refused}"
            );
        }
        let garbage =
            LoginTransaction::from_stored(b"{\"provider\":\"secret-value\"").expect_err("refused");
        assert!(!garbage.to_string().contains("secret-value"), "{garbage}");
    }

    #[test]
    fn a_login_is_live_until_its_ttl() {
        let login = transaction("http://127.0.0.1:3000/");
        let ttl = Duration::from_secs(600);
        assert!(login.is_live(login.created_at + ttl, ttl));
        assert!(!login.is_live(login.created_at + ttl + Duration::from_millis(1), ttl));
        // A clock behind the creator's (another instance) counts as no time passed.
        assert!(login.is_live(login.created_at - Duration::from_secs(5), ttl));
    }
}
