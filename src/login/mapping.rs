//! From a verified `Identity` to an Appwrite user (DESIGN.md section 5).
//!
//! The user id is derived from (issuer, subject), so the same person always maps to the same
//! user on every gateway instance, and the mapping needs no storage: creating the user is
//! idempotent, and a 409 on create means either that a concurrent login created it first (read
//! it) or that its email belongs to another user (refuse: `user_email_conflict`).
//! Must not: trust anything the user can change (prefs) for identity.

use data_encoding::BASE32_NOPAD;
use idp_provider_api::Identity;
use sha2::{Digest, Sha256};

use crate::appwrite::{AppwriteClient, AppwriteError, AppwriteErrorType, NewUser, User};
use crate::login::LoginError;

/// Length of Appwrite's custom ids on SQL adapters.
pub const APPWRITE_ID_MAX: usize = 36;
/// Appwrite's `name` limit.
const NAME_MAX: usize = 128;

/// An Appwrite user id derived from an identity; only [`AppwriteUserId::derive`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppwriteUserId(String);

impl AppwriteUserId {
    /// `"u"` + lowercase base32 of SHA-256(issuer ‖ NUL ‖ subject), 36 characters: valid under
    /// every Appwrite id rule (letters and digits only, starts with a letter), stable, and the
    /// same on every instance. The NUL keeps (`a`, `bc`) and (`ab`, `c`) apart.
    pub fn derive(issuer: &str, subject: &str) -> Self {
        let mut hash = Sha256::new();
        hash.update(issuer.as_bytes());
        hash.update([0u8]);
        hash.update(subject.as_bytes());
        let encoded = BASE32_NOPAD.encode(&hash.finalize()).to_ascii_lowercase();
        Self(format!("u{}", &encoded[..APPWRITE_ID_MAX - 1]))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Appwrite's custom-id rule (`Utopia\Database\Validator\Key`): 1..=36 of `[A-Za-z0-9._-]`,
/// not starting with `.`, `_` or `-`.
pub fn is_valid_appwrite_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= APPWRITE_ID_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !matches!(id.as_bytes()[0], b'.' | b'_' | b'-')
}

/// Finds or creates the user for `identity`.
///
/// # Errors
/// `UserEmailConflict` when the verified email belongs to another user, `UserBlocked` for a
/// blocked user, `Appwrite` for any failed call.
pub async fn resolve_user(
    appwrite: &AppwriteClient,
    identity: &Identity,
) -> Result<User, LoginError> {
    let id = AppwriteUserId::derive(identity.issuer(), identity.subject());
    let user = match appwrite.get_user(id.as_str()).await? {
        Some(user) => user,
        None => create(appwrite, &id, identity).await?,
    };
    if !user.status {
        return Err(LoginError::UserBlocked);
    }
    Ok(user)
}

async fn create(
    appwrite: &AppwriteClient,
    id: &AppwriteUserId,
    identity: &Identity,
) -> Result<User, LoginError> {
    let name = identity.name().map(|n| truncate(n, NAME_MAX));
    let new = NewUser {
        user_id: id.as_str(),
        // Only a verified email is written: an unverified one could squat another user's.
        email: identity.verified_email(),
        name: name.as_deref(),
    };
    tracing::info!(user_id = id.as_str(), "creating Appwrite user");
    match appwrite.create_user(&new).await {
        Ok(user) => Ok(user),
        Err(e) if is_conflict(&e) => {
            // Either a concurrent login created this very id first, or the email is taken.
            match appwrite.get_user(id.as_str()).await? {
                Some(user) => Ok(user),
                None => {
                    tracing::warn!(
                        user_id = id.as_str(),
                        "email already belongs to another Appwrite user"
                    );
                    Err(LoginError::UserEmailConflict)
                }
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn is_conflict(e: &AppwriteError) -> bool {
    matches!(
        e.kind(),
        Some(
            AppwriteErrorType::UserAlreadyExists
                | AppwriteErrorType::UserEmailAlreadyExists
                | AppwriteErrorType::UserPhoneAlreadyExists
        )
    )
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_valid_stable_and_distinct() {
        let a = AppwriteUserId::derive("https://idp.example.com/", "alice");
        assert_eq!(a.as_str().len(), 36);
        assert!(a.as_str().starts_with('u'));
        assert!(is_valid_appwrite_id(a.as_str()));
        assert!(
            a.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(
            a,
            AppwriteUserId::derive("https://idp.example.com/", "alice")
        );
        assert_ne!(
            a,
            AppwriteUserId::derive("https://idp.example.com", "alice")
        );
        assert_ne!(
            AppwriteUserId::derive("a", "bc"),
            AppwriteUserId::derive("ab", "c")
        );
    }

    #[test]
    fn a_known_vector() {
        // Computed independently (Python hashlib + base64.b32encode); pinned so the mapping of
        // existing users never changes by accident.
        let id = AppwriteUserId::derive("iss", "sub");
        assert_eq!(id.as_str(), "uphe7zarl2uxaqmotkk55xargwkrbfsys5jk");
    }

    #[test]
    fn appwrite_id_rule() {
        assert!(is_valid_appwrite_id("demo-project"));
        assert!(is_valid_appwrite_id("a.b_c-d"));
        assert!(!is_valid_appwrite_id("_x"));
        assert!(!is_valid_appwrite_id("-x"));
        assert!(!is_valid_appwrite_id(""));
        assert!(!is_valid_appwrite_id("a b"));
        assert!(!is_valid_appwrite_id(&"a".repeat(37)));
    }
}
