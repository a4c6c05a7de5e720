//! From a verified `Identity` to an Appwrite user (docs/security/users-and-linking.md).
//!
//! The user id is derived from (issuer, subject) under `[mapping] id_key`
//! ([`user_id`](super::user_id)), so the same person always maps to the same user on every
//! gateway instance, and the mapping needs no storage: creating the user is idempotent, and a 409
//! on create means either that a concurrent login created it first (read it) or that its email
//! belongs to another user (refuse with `user_email_conflict` if that user proved the address;
//! otherwise create the user without it). An email link to an existing user is recorded on that
//! user as a [`LinkLabel`], which only a server key can write.
//! Must not: trust anything the user can change (id, prefs, email, phone, password) for
//! identity, or let it stand in an identity's way.

use std::collections::BTreeSet;

use idp_provider_api::Identity;

use crate::appwrite::{
    AppwriteClient, AppwriteError, AppwriteErrorType, LABELS_MAX, NewUser, User,
};
use crate::login::email::Email;
use crate::login::error::LoginError;
use crate::login::policy::{Admission, OnEmailConflict, ProviderPolicy};
pub use crate::login::user_id::{AppwriteUserId, IdKey, LinkLabel, OWNER_LABEL, is_gateway_label};

/// Appwrite's `name` limit.
const NAME_MAX: usize = 128;

/// Finds, links or creates the user for `identity`.
///
/// 1. The user with the derived id, if it exists and the gateway made it (every later login).
/// 2. The user carrying the identity's [`LinkLabel`]: an earlier login linked it by email.
/// 3. With `link_by_email` (and `trusted_for_email`): the one existing Appwrite user whose
///    *verified* email equals the provider's verified email, if no identity is linked to it yet;
///    the link is recorded on it.
/// 4. Otherwise a new user with the derived id, the name and the verified email (without the
///    email when an Appwrite user who never proved that address holds it, or, with
///    `on_email_conflict = "create_without_email"`, when any other user holds it).
///
/// With `trusted_for_email`, the user's email is then marked verified when it equals the
/// provider's verified email (never the reverse).
///
/// # Errors
/// `UserIdConflict` when someone else created a user under the derived id (or two users carry
/// the identity's link label), `UserEmailConflict` when the email belongs to another user whose
/// address is verified and who may not be linked, `UserBlocked` for a blocked user, `Appwrite`
/// for any failed call.
pub async fn resolve_user(
    appwrite: &AppwriteClient,
    identity: &Identity,
    admission: &Admission,
    policy: &ProviderPolicy,
    key: &IdKey,
) -> Result<User, LoginError> {
    let email = admission.email.as_ref();
    let id = key.user_id(identity.issuer(), identity.subject());
    let link = key.link_label(identity.issuer(), identity.subject());
    let user = match appwrite.get_user(id.as_str()).await? {
        Some(user) => claim(appwrite, user, email).await?,
        None => match linked_user(appwrite, &link).await? {
            Some(user) => user,
            None => {
                let conflict = policy.on_email_conflict;
                let target = match email {
                    Some(email) if policy.link_by_email && policy.trusted_for_email => {
                        link_target(appwrite, email, conflict)
                            .await?
                            .map(|user| (user, email))
                    }
                    _ => None,
                };
                match target {
                    Some((user, email)) => record_link(appwrite, &user, email, &link).await?,
                    None => create(appwrite, &id, identity, email, conflict).await?,
                }
            }
        },
    };
    if !user.status {
        return Err(LoginError::UserBlocked);
    }
    match email {
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

/// The existing Appwrite user an assertion provider vouched for
/// ([`Identity::existing_user`](idp_provider_api::Identity::existing_user)): never created, never
/// linked, only read again so that a user deleted or blocked meanwhile gets nothing.
///
/// # Errors
/// `ExistingUserGone` when the user no longer exists, `UserBlocked`, `Appwrite`.
pub async fn existing_user(appwrite: &AppwriteClient, id: &str) -> Result<User, LoginError> {
    let user = appwrite
        .get_user(id)
        .await?
        .ok_or(LoginError::ExistingUserGone)?;
    if !user.status {
        return Err(LoginError::UserBlocked);
    }
    Ok(user)
}

/// Accepts a user found under a derived id only if the gateway made it.
///
/// - It carries [`OWNER_LABEL`], which only a server key can write: accepted.
/// - Otherwise it is exactly what the gateway's own create writes before labelling (the create
///   succeeded but labelling it did not): no password, no phone, and no email or the identity's
///   own verified email. It is labelled now. Every account the client API can create has a
///   password (`POST /v1/account`), a phone (`/account/tokens/phone`) or an email of the
///   creator's choosing (`/account/tokens/email`, `/magic-url`); with the victim's own verified
///   email, every code for that account goes to the victim's inbox.
///
/// # Errors
/// `UserIdConflict` for a user someone else created with this id: a token for it would log the
/// identity into the squatter's account.
async fn claim(
    appwrite: &AppwriteClient,
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
    appwrite: &AppwriteClient,
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

/// Records the email link of `user` to the identity, keeping every label the app set.
///
/// The user is read again right before the write (the list answer may be stale), and the
/// answer of the write must hold exactly one link label: if another identity linked the same
/// user at the same moment, this one takes its label back and is refused.
///
/// # Errors
/// `UserEmailConflict` when the user may no longer be linked, `Appwrite` for a failed call.
async fn record_link(
    appwrite: &AppwriteClient,
    user: &User,
    email: &Email,
    link: &LinkLabel,
) -> Result<User, LoginError> {
    let fresh = appwrite
        .get_user(&user.id)
        .await?
        .filter(|fresh| link_state(fresh, email) == LinkState::Linkable)
        .ok_or(LoginError::UserEmailConflict)?;
    tracing::info!(
        user_id = fresh.id.as_str(),
        "linking the login to an existing Appwrite user by verified email"
    );
    let updated = add_label(appwrite, fresh, link.as_str()).await?;
    if updated
        .labels
        .iter()
        .filter(|l| LinkLabel::is_link_label(l))
        .count()
        == 1
    {
        return Ok(updated);
    }
    tracing::warn!(
        user_id = updated.id.as_str(),
        "another identity linked this user at the same moment; taking the link back"
    );
    let without: Vec<String> = updated
        .labels
        .iter()
        .filter(|l| *l != link.as_str())
        .cloned()
        .collect();
    if let Err(error) = appwrite.set_labels(&updated.id, &without).await {
        tracing::warn!(%error, "could not take the link label back");
    }
    Err(LoginError::UserEmailConflict)
}

/// Adds `label` to the user's labels. Appwrite's labels route replaces the whole set, so the set
/// written is the one just read plus `label`; the answer must hold it.
async fn add_label(appwrite: &AppwriteClient, user: User, label: &str) -> Result<User, LoginError> {
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
    appwrite: &AppwriteClient,
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

/// What an existing Appwrite user holding the identity's verified email is to the identity.
///
/// Only what a server key writes proves anything: labels, and the email verification (which
/// the client API sets only for whoever reads the mailbox). An id, an email, a password, a phone,
/// a name or prefs are anyone's to choose through the client API, so they never make a user
/// block an identity; the shape of an id only ever keeps a user from being linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    /// Its email is this one and verified in Appwrite, and nothing ties it to an external
    /// identity: linkable (with `link_by_email`).
    Linkable,
    /// Its email is this one but not verified in Appwrite: whoever holds it never proved the
    /// address (anyone can register or change to any address through the client API), whatever
    /// its id or labels. Never linked, never in the way: the identity's user is created
    /// without the address.
    Unproven,
    /// It proved the address and belongs to an external identity (the gateway's label, a link
    /// label of any identity), or has a derived id without the gateway's label (which may be a
    /// gateway user whose labelling was interrupted), or its email is not this one: never
    /// linked, since an address that changes hands, or that two providers assert, must not move
    /// an account to a newcomer. It holds the address, so the identity's first login is a
    /// conflict (or, with `on_email_conflict = "create_without_email"`, gets a user without it).
    Taken,
}

fn link_state(user: &User, email: &Email) -> LinkState {
    if user.email != email.as_str() {
        return LinkState::Taken;
    }
    if !user.email_verification {
        return LinkState::Unproven;
    }
    let external =
        AppwriteUserId::is_derived(&user.id) || user.labels.iter().any(|l| is_gateway_label(l));
    if external {
        LinkState::Taken
    } else {
        LinkState::Linkable
    }
}

/// The existing user a first login may link to by `email`, if any.
///
/// # Errors
/// `UserEmailConflict` when the user with that email proved it but may not be linked, or when
/// several users have it, unless `conflict` says to create the user without the email (the
/// create that follows does).
async fn link_target(
    appwrite: &AppwriteClient,
    email: &Email,
    conflict: OnEmailConflict,
) -> Result<Option<User>, LoginError> {
    let users = appwrite.list_users_by_email(email.as_str()).await?;
    let why = match users.as_slice() {
        [] => return Ok(None),
        [user] => match link_state(user, email) {
            LinkState::Linkable => return Ok(Some(user.clone())),
            // Never linked; the create that follows deals with the unproven holder.
            LinkState::Unproven => return Ok(None),
            LinkState::Taken => {
                "an Appwrite user proved this email but may not be linked (another identity's, or not this email)"
            }
        },
        _ => "several Appwrite users have this email",
    };
    tracing::warn!("{why}");
    match conflict {
        OnEmailConflict::Fail => Err(LoginError::UserEmailConflict),
        OnEmailConflict::CreateWithoutEmail => Ok(None),
    }
}

/// Creates the identity's user. When the verified email is held by an Appwrite user who never
/// proved it (unverified in Appwrite, whatever its id or labels), the user is created without
/// the email rather than refused: otherwise anyone could lock a person out before their first
/// login just by registering their address through the client API, or by changing their own
/// account's address to it. With
/// [`OnEmailConflict::CreateWithoutEmail`] any other holder gets the same answer; the holder is
/// never touched.
async fn create(
    appwrite: &AppwriteClient,
    id: &AppwriteUserId,
    identity: &Identity,
    email: Option<&Email>,
    conflict: OnEmailConflict,
) -> Result<User, LoginError> {
    match create_as(appwrite, id, identity, email).await? {
        Created::User(user) => claim(appwrite, user, email).await,
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
            match create_as(appwrite, id, identity, None).await? {
                Created::User(user) => claim(appwrite, user, None).await,
                Created::EmailTaken => Err(LoginError::UserEmailConflict),
            }
        }
    }
}

/// What a create with a given email came to.
enum Created {
    /// The user under the derived id: made now, or found after a 409 (a concurrent login, or
    /// someone else: `claim` decides).
    User(User),
    /// 409, and no user has the id: the email (or phone) is taken.
    EmailTaken,
}

async fn create_as(
    appwrite: &AppwriteClient,
    id: &AppwriteUserId,
    identity: &Identity,
    email: Option<&Email>,
) -> Result<Created, LoginError> {
    let name = identity.name().map(|n| truncate(n, NAME_MAX));
    let new = NewUser {
        user_id: id.as_str(),
        // Only a verified email is written: an unverified one could squat another user's.
        email: email.map(Email::as_str),
        name: name.as_deref(),
    };
    tracing::info!(user_id = id.as_str(), "creating Appwrite user");
    match appwrite.create_user(&new).await {
        Ok(user) => Ok(Created::User(user)),
        Err(e) if is_conflict(&e) => match appwrite.get_user(id.as_str()).await? {
            Some(user) => Ok(Created::User(user)),
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
