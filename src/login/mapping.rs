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
use crate::login::email::Email;
use crate::login::policy::ProviderPolicy;

/// The label marking a user this gateway created for an external identity. Only a server key
/// can write labels, while anyone can create an account with a chosen id through the client API
/// (`POST /v1/account`); derived ids are public, so the label is what proves that a user with a
/// derived id is the identity's and not a squatter's.
pub const OWNER_LABEL: &str = "idpbridge";

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

    /// Whether `id` has the shape of a derived id (`u` + 35 base32 characters), i.e. belongs
    /// to an external identity. Appwrite's own `unique()` ids are 20 hex characters.
    pub fn is_derived(id: &str) -> bool {
        id.len() == APPWRITE_ID_MAX
            && id.starts_with('u')
            && id[1..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
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

/// Finds, links or creates the user for `identity`.
///
/// 1. The user with the derived id, if it exists (every later login).
/// 2. With `link_by_email` (and `trusted_for_email`): the one existing Appwrite user whose
///    *verified* email equals the provider's verified email, if that user does not already belong
///    to another external identity.
/// 3. Otherwise a new user with the derived id, the name and the verified email.
///
/// With `trusted_for_email`, the user's email is then marked verified when it equals the
/// provider's verified email (never the reverse).
///
/// # Errors
/// `EmailInvalid` for a malformed verified email, `UserIdConflict` when someone else created a
/// user under the derived id, `UserEmailConflict` when the email belongs to another user that may
/// not be linked, `UserBlocked` for a blocked user, `Appwrite` for any failed call.
pub async fn resolve_user(
    appwrite: &AppwriteClient,
    identity: &Identity,
    policy: ProviderPolicy,
) -> Result<User, LoginError> {
    let email = policy.verified_email(identity)?;
    let id = AppwriteUserId::derive(identity.issuer(), identity.subject());
    let existing = match appwrite.get_user(id.as_str()).await? {
        Some(user) => Some(claim(appwrite, user).await?),
        None if policy.link_by_email && policy.trusted_for_email => match &email {
            Some(email) => link_target(appwrite, email).await?,
            None => None,
        },
        None => None,
    };
    let user = match existing {
        Some(user) => user,
        None => create(appwrite, &id, identity, email.as_ref()).await?,
    };
    if !user.status {
        return Err(LoginError::UserBlocked);
    }
    match &email {
        Some(email)
            if policy.trusted_for_email
                && !user.email_verification
                && user.email == email.as_str() =>
        {
            tracing::info!(
                user_id = user.id.as_str(),
                "marking the Appwrite email verified"
            );
            Ok(appwrite.mark_email_verified(&user.id).await?)
        }
        _ => Ok(user),
    }
}

/// Accepts a user found under a derived id only if the gateway created it: it carries
/// [`OWNER_LABEL`], or it has no password (the gateway's create succeeded but labelling it did
/// not; it is labelled now).
///
/// # Errors
/// `UserIdConflict` for a user someone else created with this id (through the client API, with
/// a password): a token for it would log the identity into the squatter's account.
async fn claim(appwrite: &AppwriteClient, user: User) -> Result<User, LoginError> {
    if user.labels.iter().any(|l| l == OWNER_LABEL) {
        return Ok(user);
    }
    if !user.password_update.is_empty() {
        tracing::warn!(
            user_id = user.id.as_str(),
            "an Appwrite user with this identity's id was not created by the gateway (it has a password and no {OWNER_LABEL} label)"
        );
        return Err(LoginError::UserIdConflict);
    }
    let mut labels = user.labels.clone();
    labels.push(OWNER_LABEL.to_string());
    Ok(appwrite.set_labels(&user.id, &labels).await?)
}

/// The existing user a first login may link to by `email`, if any.
///
/// # Errors
/// `UserEmailConflict` when users with that email exist but none may be linked: its email is not
/// verified in Appwrite (it could have been registered by someone who does not own the address:
/// linking would hand them the account), or it already belongs to another external identity.
async fn link_target(appwrite: &AppwriteClient, email: &Email) -> Result<Option<User>, LoginError> {
    let users = appwrite.list_users_by_email(email.as_str()).await?;
    match users.as_slice() {
        [] => Ok(None),
        [user]
            if user.email == email.as_str()
                && user.email_verification
                && !AppwriteUserId::is_derived(&user.id) =>
        {
            tracing::info!(
                user_id = user.id.as_str(),
                "linking the login to an existing Appwrite user by verified email"
            );
            Ok(Some(user.clone()))
        }
        _ => {
            tracing::warn!(
                "an Appwrite user has this email but may not be linked (unverified, or another identity's)"
            );
            Err(LoginError::UserEmailConflict)
        }
    }
}

async fn create(
    appwrite: &AppwriteClient,
    id: &AppwriteUserId,
    identity: &Identity,
    email: Option<&Email>,
) -> Result<User, LoginError> {
    let name = identity.name().map(|n| truncate(n, NAME_MAX));
    let new = NewUser {
        user_id: id.as_str(),
        // Only a verified email is written: an unverified one could squat another user's.
        email: email.map(Email::as_str),
        name: name.as_deref(),
    };
    tracing::info!(user_id = id.as_str(), "creating Appwrite user");
    match appwrite.create_user(&new).await {
        Ok(user) => claim(appwrite, user).await,
        Err(e) if is_conflict(&e) => {
            // Either a concurrent login created this very id first, someone squatted it, or the
            // email is taken.
            match appwrite.get_user(id.as_str()).await? {
                Some(user) => claim(appwrite, user).await,
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
