//! Login transactions as the store keeps them: created at `start`, taken exactly once at
//! `callback`, under the hash of their `state`.
//!
//! What the provider keeps with the login (for OIDC its nonce and PKCE verifier) rides along as
//! an opaque [`LoginData`] that only the provider reads.
//! Must not: log any field of a transaction.

use std::time::SystemTime;

use idp_provider_api::LoginData;
use sha2::{Digest, Sha256};

use crate::redirect::RedirectTarget;

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

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redirect::AllowList;

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
            created_at: SystemTime::now(),
        };
        assert!(transaction.weight() > ENTRY_OVERHEAD_BYTES + 100);
        assert_eq!(StateKey::of("s").as_str().len(), 64);
    }
}
