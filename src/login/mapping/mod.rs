//! From a verified `Identity` to an Appwrite user (docs/security/users-and-linking.md).
//!
//! The user id is derived from (issuer, subject) under `[mapping] id_key`
//! ([`user_id`](super::user_id)), so the same person always maps to the same user on every
//! gateway instance, and the mapping needs no storage: creating the user is idempotent, and a 409
//! on create means either that a concurrent login created it first (read it) or that its email
//! belongs to another user (refuse with `user_email_conflict` if that user proved the address;
//! otherwise create the user without it). An email link to an existing user is recorded on that
//! user as a [`LinkLabel`], which only a server key can write (`link`). What a login came to
//! (found, created, linked) comes back as [`Resolved`], for the login's audit event.
//! Only a `trusted_for_email` provider's verified email is written: Appwrite's email flows (OTP,
//! magic URL, recovery) find users by email, so another provider's address would hand its owner's
//! logins to whoever registered it there (a pre-account hijack).
//! Appwrite is reached through [`Directory`] only, so each rule has its unit test against an
//! in-memory directory (`tests.rs`).
//! Must not: trust anything the user can change (id, prefs, email, phone, password) for
//! identity, or let it stand in an identity's way.

use std::collections::BTreeSet;

use idp_provider_api::Identity;

use crate::appwrite::{AppwriteError, AppwriteErrorType, LABELS_MAX, NewUser, User};
use crate::login::email::Email;
use crate::login::error::LoginError;
use crate::login::policy::{Admission, OnEmailConflict, ProviderPolicy};
pub use crate::login::user_id::{AppwriteUserId, IdKey, LinkLabel, OWNER_LABEL, is_gateway_label};
pub use directory::Directory;
use link::{LinkState, link_state, link_target, record_link};

mod directory;
mod link;
#[cfg(test)]
mod tests;

/// Appwrite's `name` limit.
const NAME_MAX: usize = 128;

/// The Appwrite user an identity maps to, and how this login came to it: what the audit event
/// of the login says (`created_user`, `linked_user`).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The user.
    pub user: User,
    /// How it was found.
    pub how: Resolution,
}

/// How an identity's user was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// It existed: under the derived id, or linked by an earlier login.
    Found,
    /// This login created it.
    Created,
    /// This login linked it by verified email.
    Linked,
    /// The provider vouched for an existing Appwrite user ([`existing_user`]).
    Vouched,
}

/// Finds, links or creates the user for `identity`; [`admit`] then decides whether it may
/// log in.
///
/// 1. The user with the derived id, if it exists and the gateway made it (every later login).
/// 2. The user carrying the identity's [`LinkLabel`]: an earlier login linked it by email.
/// 3. With `link_by_email` (and `trusted_for_email`): the one existing Appwrite user whose
///    *verified* email equals the provider's verified email, if no identity is linked to it yet;
///    the link is recorded on it.
/// 4. Otherwise a new user with the derived id, the name and, with `trusted_for_email`, the
///    verified email (without it when an Appwrite user who never proved that address holds it,
///    or, with `on_email_conflict = "create_without_email"`, when any other user holds it).
///    Another provider's email only served the access policy.
///
/// # Errors
/// `UserIdConflict` when someone else created a user under the derived id (or two users carry
/// the identity's link label), `UserEmailConflict` when the email belongs to another user whose
/// address is verified and who may not be linked, `Appwrite` for any failed call.
pub async fn resolve_user(
    appwrite: &dyn Directory,
    identity: &Identity,
    admission: &Admission,
    policy: &ProviderPolicy,
    key: &IdKey,
) -> Result<Resolved, LoginError> {
    // The email the gateway may write and rely on: only a trusted provider's (module doc).
    let email = admission
        .email
        .as_ref()
        .filter(|_| policy.trusted_for_email);
    let id = key.user_id(identity.issuer(), identity.subject());
    let link = key.link_label(identity.issuer(), identity.subject());
    let found = |user, how| Resolved { user, how };
    if let Some(user) = appwrite.get_user(id.as_str()).await? {
        return Ok(found(
            claim(appwrite, user, email).await?,
            Resolution::Found,
        ));
    }
    if let Some(user) = linked_user(appwrite, &link).await? {
        return Ok(found(user, Resolution::Found));
    }
    let conflict = policy.on_email_conflict;
    let target = match email {
        Some(email) if policy.link_by_email => link_target(appwrite, email, conflict)
            .await?
            .map(|user| (user, email)),
        _ => None,
    };
    Ok(match target {
        Some((user, email)) => found(
            record_link(appwrite, &user, email, &link).await?,
            Resolution::Linked,
        ),
        None => create(appwrite, &id, identity, email, conflict).await?,
    })
}

/// Whether the resolved user may log in, and the user to mint for: a blocked user may not.
/// With `trusted_for_email`, the user's email is then marked verified when it equals the
/// provider's verified email (never the reverse; never for a user a provider vouched for).
///
/// # Errors
/// `UserBlocked` for a blocked user, `Appwrite` for a failed call.
pub async fn admit(
    appwrite: &dyn Directory,
    resolved: Resolved,
    admission: &Admission,
    policy: &ProviderPolicy,
) -> Result<User, LoginError> {
    let user = resolved.user;
    if !user.status {
        return Err(LoginError::UserBlocked);
    }
    match admission.email.as_ref() {
        Some(email)
            if resolved.how != Resolution::Vouched
                && policy.trusted_for_email
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

/// The existing Appwrite user an assertion provider vouched for
/// ([`Identity::existing_user`](idp_provider_api::Identity::existing_user)): never created, never
/// linked, only read again so that a user deleted meanwhile gets nothing (and one blocked
/// meanwhile is refused by [`admit`]).
///
/// # Errors
/// `ExistingUserGone` when the user no longer exists, `Appwrite`.
pub async fn existing_user(appwrite: &dyn Directory, id: &str) -> Result<Resolved, LoginError> {
    let user = appwrite
        .get_user(id)
        .await?
        .ok_or(LoginError::ExistingUserGone)?;
    Ok(Resolved {
        user,
        how: Resolution::Vouched,
    })
}

/// Accepts a user found under a derived id only if the gateway made it.
///
/// - It carries [`OWNER_LABEL`], which only a server key can write: accepted.
/// - Otherwise it is exactly what the gateway's own create writes before labelling (the create
///   succeeded but labelling it did not): no password, no phone, and no email or the one the
///   gateway writes for the identity (a trusted provider's verified email). It is labelled now.
///   Every account the client API can create has a password (`POST /v1/account`), a phone
///   (`/account/tokens/phone`) or an email of the creator's choosing (`/account/tokens/email`,
///   `/magic-url`); with the victim's own verified email, every code for that account goes to
///   the victim's inbox.
///
/// # Errors
/// `UserIdConflict` for a user someone else created with this id: a token for it would log the
/// identity into the squatter's account.
async fn claim(
    appwrite: &dyn Directory,
    user: User,
    email: Option<&Email>,
) -> Result<User, LoginError> {
    if user.labels.iter().any(|l| l == OWNER_LABEL) {
        return Ok(user);
    }
    let foreign_email = !user.email.is_empty() && email.is_none_or(|e| e.as_str() != user.email);
    if !user.password_update.is_empty() || !user.phone.is_empty() || foreign_email {
        tracing::warn!(
            user_id = user.id.as_str(),
            has_password = !user.password_update.is_empty(),
            has_phone = !user.phone.is_empty(),
            foreign_email,
            "an Appwrite user with this identity's id was not created by the gateway (no {OWNER_LABEL} label)"
        );
        return Err(LoginError::UserIdConflict);
    }
    add_label(appwrite, user, OWNER_LABEL).await
}

/// The user an earlier login linked to this identity by email, found by its [`LinkLabel`].
///
/// # Errors
/// `UserIdConflict` when more than one user carries the label (only a server key can write
/// labels, so this is a mistake by whoever holds one: refuse rather than guess).
async fn linked_user(
    appwrite: &dyn Directory,
    link: &LinkLabel,
) -> Result<Option<User>, LoginError> {
    let users = appwrite.list_users_by_label(link.as_str()).await?;
    match users.as_slice() {
        [] => Ok(None),
        [user] => Ok(Some(user.clone())),
        _ => {
            tracing::warn!("several Appwrite users carry this identity's link label");
            Err(LoginError::UserIdConflict)
        }
    }
}

/// Adds `label` to the user's labels. Appwrite's labels route replaces the whole set, so the set
/// written is the one just read plus `label`; the answer must hold it.
async fn add_label(appwrite: &dyn Directory, user: User, label: &str) -> Result<User, LoginError> {
    let mut labels = user.labels.clone();
    labels.push(label.to_string());
    let updated = appwrite.set_labels(&user.id, &labels).await?;
    if updated.labels.iter().any(|l| l == label) {
        Ok(updated)
    } else {
        Err(LoginError::Appwrite(AppwriteError::Protocol {
            operation: "update labels",
            detail: format!("the labels of {} do not hold the label written", user.id),
        }))
    }
}

/// Makes the user's labels the policy's: the gateway's own labels already on the user
/// ([`OWNER_LABEL`], link labels) first, then `wanted` (the policy's `labels` and claim values),
/// each once; every other label goes, so a role removed at the provider is gone after the next
/// login. Appwrite keeps at most [`LABELS_MAX`] labels: beyond that the last ones are dropped
/// (and logged), never the gateway's. Written with one `PUT` only when the set changes; the
/// answer must hold exactly the set written.
///
/// # Errors
/// `Appwrite` when the write fails or Appwrite answers another set: the login fails closed
/// rather than leave a user with labels the provider no longer grants.
pub async fn apply_labels(
    appwrite: &dyn Directory,
    user: User,
    wanted: &[String],
) -> Result<User, LoginError> {
    let mut labels: Vec<String> = Vec::new();
    let gateway = user.labels.iter().filter(|l| is_gateway_label(l));
    for label in gateway.chain(wanted) {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    if labels.len() > LABELS_MAX {
        tracing::warn!(
            user_id = user.id.as_str(),
            dropped = labels.len() - LABELS_MAX,
            "more labels than Appwrite keeps; dropping the last claim labels"
        );
        labels.truncate(LABELS_MAX);
    }
    let set = |labels: &[String]| labels.iter().cloned().collect::<BTreeSet<String>>();
    if set(&labels) == set(&user.labels) {
        return Ok(user);
    }
    let updated = appwrite.set_labels(&user.id, &labels).await?;
    if set(&updated.labels) == set(&labels) {
        Ok(updated)
    } else {
        Err(LoginError::Appwrite(AppwriteError::Protocol {
            operation: "update labels",
            detail: format!("the labels of {} are not the set written", user.id),
        }))
    }
}

/// Creates the identity's user. When the verified email is held by an Appwrite user who never
/// proved it (unverified in Appwrite, whatever its id or labels), the user is created without
/// the email rather than refused: otherwise anyone could lock a person out before their first
/// login just by registering their address through the client API, or by changing their own
/// account's address to it. With [`OnEmailConflict::CreateWithoutEmail`] any other holder gets
/// the same answer; the holder is never touched. `email` is `None` for an untrusted provider.
async fn create(
    appwrite: &dyn Directory,
    id: &AppwriteUserId,
    identity: &Identity,
    email: Option<&Email>,
    conflict: OnEmailConflict,
) -> Result<Resolved, LoginError> {
    match create_as(appwrite, id, identity, email).await? {
        created @ Created::User(..) => claimed(appwrite, created, email).await,
        Created::EmailTaken => {
            let Some(email) = email else {
                return Err(LoginError::UserEmailConflict);
            };
            let holders = appwrite.list_users_by_email(email.as_str()).await?;
            let why = match holders.as_slice() {
                [holder] if link_state(holder, email) == LinkState::Unproven => {
                    "the verified email is held by an Appwrite user who never proved it"
                }
                _ if conflict == OnEmailConflict::CreateWithoutEmail => {
                    "the verified email belongs to another Appwrite user (on_email_conflict = \"create_without_email\")"
                }
                _ => {
                    tracing::warn!(
                        user_id = id.as_str(),
                        "email already belongs to another Appwrite user"
                    );
                    return Err(LoginError::UserEmailConflict);
                }
            };
            tracing::warn!(
                user_id = id.as_str(),
                "{why}; creating the user without an email"
            );
            claimed(
                appwrite,
                create_as(appwrite, id, identity, None).await?,
                None,
            )
            .await
        }
    }
}

/// What a create with a given email came to.
enum Created {
    /// The user under the derived id: made now (`true`), or found after a 409 (`false`: a
    /// concurrent login, or someone else: `claim` decides).
    User(User, bool),
    /// 409, and no user has the id: the email (or phone) is taken.
    EmailTaken,
}

/// The user of a create, once [`claim`] accepts it: created by this login, or found.
async fn claimed(
    appwrite: &dyn Directory,
    created: Created,
    email: Option<&Email>,
) -> Result<Resolved, LoginError> {
    let Created::User(user, made) = created else {
        return Err(LoginError::UserEmailConflict);
    };
    let how = if made {
        Resolution::Created
    } else {
        Resolution::Found
    };
    let user = claim(appwrite, user, email).await?;
    Ok(Resolved { user, how })
}

async fn create_as(
    appwrite: &dyn Directory,
    id: &AppwriteUserId,
    identity: &Identity,
    email: Option<&Email>,
) -> Result<Created, LoginError> {
    let name = identity.name().map(|n| truncate(n, NAME_MAX));
    let new = NewUser {
        user_id: id.as_str(),
        // Only a trusted provider's verified email is written (`resolve_user`): any other could
        // squat another user's address, or hand its owner's Appwrite email logins to a stranger.
        email: email.map(Email::as_str),
        name: name.as_deref(),
    };
    tracing::info!(user_id = id.as_str(), "creating Appwrite user");
    match appwrite.create_user(&new).await {
        Ok(user) => Ok(Created::User(user, true)),
        Err(e) if is_conflict(&e) => match appwrite.get_user(id.as_str()).await? {
            Some(user) => Ok(Created::User(user, false)),
            None => Ok(Created::EmailTaken),
        },
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
