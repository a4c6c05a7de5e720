//! Linking an identity to an existing Appwrite user by verified email: which user may be
//! linked ([`link_target`]), and recording the link on it ([`record_link`]).

use super::{AppwriteUserId, Directory, Email, LinkLabel, LoginError, OnEmailConflict, User};
use super::{add_label, is_gateway_label};

/// Records the email link of `user` to the identity, keeping every label the app set.
///
/// The user is read again right before the write (the list answer may be stale), and the
/// answer of the write must hold exactly one link label: if another identity linked the same
/// user at the same moment, this one takes its label back and is refused.
///
/// # Errors
/// `UserEmailConflict` when the user may no longer be linked, `Appwrite` for a failed call.
pub(super) async fn record_link(
    appwrite: &dyn Directory,
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

/// What an existing Appwrite user holding the identity's verified email is to the identity.
///
/// Only what a server key writes proves anything: labels, and the email verification (which
/// the client API sets only for whoever reads the mailbox). An id, an email, a password, a phone,
/// a name or prefs are anyone's to choose through the client API, so they never make a user
/// block an identity; the shape of an id only ever keeps a user from being linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkState {
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

pub(super) fn link_state(user: &User, email: &Email) -> LinkState {
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
pub(super) async fn link_target(
    appwrite: &dyn Directory,
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
