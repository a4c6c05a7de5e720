//! The account rules, one test each, against an in-memory [`Directory`] ([`users::Users`]).

use std::sync::atomic::Ordering;

use super::*;
use users::{Users, user};

mod users;

/// Asserts that `result` failed with `error` (a pattern); `what` names the case.
macro_rules! assert_refused {
    ($result:expr, $error:pat) => {
        assert_refused!($result, $error, "")
    };
    ($result:expr, $error:pat, $what:expr) => {{
        let result = &$result;
        assert!(matches!(result, Err($error)), "{}: {result:?}", $what);
    }};
}

const ISSUER: &str = "https://op.example";
const EMAIL: &str = "alice@example.com";

fn key() -> IdKey {
    IdKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("32 bytes")
}

fn alice() -> Identity {
    Identity::verified("corp", ISSUER, "alice").with_email(Some(EMAIL.into()), true)
}

/// Alice's derived id and link label.
fn alice_id() -> String {
    key().user_id(ISSUER, "alice").as_str().to_string()
}

fn alice_link() -> String {
    key().link_label(ISSUER, "alice").as_str().to_string()
}

fn admission() -> Admission {
    Admission {
        email: Some(Email::parse(EMAIL).expect("email")),
        labels: None,
    }
}

/// A provider trusted for email; `link` sets `link_by_email`.
fn trusted(link: bool) -> ProviderPolicy {
    ProviderPolicy {
        trusted_for_email: true,
        link_by_email: link,
        ..ProviderPolicy::default()
    }
}

async fn resolve(users: &Users, policy: &ProviderPolicy) -> Result<Resolved, LoginError> {
    resolve_user(users, &alice(), &admission(), policy, &key()).await
}

/// An Appwrite user someone made through the client API with Alice's verified address.
fn holder(verified: bool) -> User {
    user("65f0c0ffee0000000001", EMAIL, verified)
}

#[tokio::test]
async fn the_gateway_user_under_the_derived_id_is_found_without_a_write() {
    let mut mine = user(&alice_id(), EMAIL, true);
    mine.labels = vec![OWNER_LABEL.into(), "admin".into()];
    let users = Users::with(vec![mine]);
    let resolved = resolve(&users, &trusted(false)).await.expect("found");
    assert_eq!(resolved.how, Resolution::Found);
    assert_eq!(resolved.user.id, alice_id());
    assert!(!users.touched(&alice_id()));
}

#[tokio::test]
async fn a_user_under_the_derived_id_that_the_client_api_could_make_is_refused() {
    let mut squatters = vec![user(&alice_id(), "", false); 3];
    squatters[0].password_update = "2024-01-01".into();
    squatters[1].phone = "+15550100".into();
    squatters[2].email = "mallory@example.com".into();
    for (what, squatter) in ["password", "phone", "email"].into_iter().zip(squatters) {
        let users = Users::with(vec![squatter]);
        let refused = resolve(&users, &trusted(false)).await;
        assert_refused!(refused, LoginError::UserIdConflict, what);
        assert!(!users.touched(&alice_id()), "{what}");
    }
}

#[tokio::test]
async fn an_unlabelled_user_the_gateway_made_is_adopted_and_labelled() {
    // What the gateway's own create leaves when labelling it failed.
    for email in ["", EMAIL] {
        let users = Users::with(vec![user(&alice_id(), email, false)]);
        let resolved = resolve(&users, &trusted(false)).await.expect("adopted");
        assert_eq!(resolved.how, Resolution::Found);
        assert_eq!(resolved.user.labels, [OWNER_LABEL]);
        assert_eq!(users.get(&alice_id()).expect("user").labels, [OWNER_LABEL]);
    }
}

#[tokio::test]
async fn an_own_email_counts_only_from_a_provider_trusted_for_it() {
    let users = Users::with(vec![user(&alice_id(), EMAIL, false)]);
    let untrusted = ProviderPolicy::default();
    let refused = resolve(&users, &untrusted).await;
    assert_refused!(refused, LoginError::UserIdConflict);
}

#[tokio::test]
async fn a_new_identity_gets_a_labelled_user_with_its_trusted_email() {
    let users = Users::default();
    let resolved = resolve(&users, &trusted(false)).await.expect("created");
    assert_eq!(resolved.how, Resolution::Created);
    let created = users.get(&alice_id()).expect("user");
    assert_eq!(created.email, EMAIL);
    assert_eq!(created.labels, [OWNER_LABEL]);
    // An untrusted provider's email is never written.
    let users = Users::default();
    resolve(&users, &ProviderPolicy::default())
        .await
        .expect("created");
    assert_eq!(users.get(&alice_id()).expect("user").email, "");
}

#[tokio::test]
async fn the_user_carrying_the_link_label_is_found() {
    let mut linked = holder(true);
    linked.labels = vec![alice_link(), "app".into()];
    let users = Users::with(vec![linked]);
    let resolved = resolve(&users, &trusted(false)).await.expect("found");
    assert_eq!(
        (resolved.how, resolved.user.id.as_str()),
        (Resolution::Found, "65f0c0ffee0000000001")
    );
    assert!(users.get(&alice_id()).is_none(), "no second user");
}

#[tokio::test]
async fn two_users_carrying_one_link_label_are_refused() {
    let (mut one, mut two) = (holder(true), user("65f0c0ffee0000000002", "", false));
    one.labels = vec![alice_link()];
    two.labels = vec![alice_link()];
    let users = Users::with(vec![one, two]);
    let refused = resolve(&users, &trusted(true)).await;
    assert_refused!(refused, LoginError::UserIdConflict);
}

#[tokio::test]
async fn link_by_email_links_the_verified_holder_and_keeps_its_labels() {
    let mut existing = holder(true);
    existing.labels = vec!["app".into()];
    let users = Users::with(vec![existing]);
    let resolved = resolve(&users, &trusted(true)).await.expect("linked");
    assert_eq!(resolved.how, Resolution::Linked);
    assert_eq!(resolved.user.labels, ["app".to_string(), alice_link()]);
    assert!(users.get(&alice_id()).is_none(), "no second user");
}

#[tokio::test]
async fn without_link_by_email_a_verified_holder_is_a_conflict_and_untouched() {
    let users = Users::with(vec![holder(true)]);
    let refused = resolve(&users, &trusted(false)).await;
    assert_refused!(refused, LoginError::UserEmailConflict);
    assert!(!users.touched("65f0c0ffee0000000001"));
    assert!(users.get(&alice_id()).is_none());
}

#[tokio::test]
async fn only_labels_prove_an_external_identity_so_such_a_holder_is_never_linked() {
    let mut taken = vec![holder(true); 3];
    taken[0].labels = vec![OWNER_LABEL.into()];
    taken[1].labels = vec![key().link_label(ISSUER, "bob").as_str().into()];
    taken[2].id = key().user_id(ISSUER, "bob").as_str().into();
    for (what, existing) in ["owner label", "another link", "derived id"]
        .into_iter()
        .zip(taken)
    {
        let users = Users::with(vec![existing.clone()]);
        let refused = resolve(&users, &trusted(true)).await;
        assert_refused!(refused, LoginError::UserEmailConflict, what);
        assert!(!users.touched(&existing.id), "{what}");
    }
}

#[tokio::test]
async fn an_unverified_holder_never_blocks_and_is_never_linked() {
    for link in [false, true] {
        let mut squatter = holder(false);
        // Whatever it carries: only a proven address stands in an identity's way.
        squatter.labels = vec![OWNER_LABEL.into()];
        let users = Users::with(vec![squatter]);
        let resolved = resolve(&users, &trusted(link)).await.expect("created");
        assert_eq!(resolved.how, Resolution::Created, "link_by_email {link}");
        let created = users.get(&alice_id()).expect("user");
        assert_eq!(created.email, "", "created without the address");
        assert_eq!(created.labels, [OWNER_LABEL]);
        assert!(
            !users.touched("65f0c0ffee0000000001"),
            "the holder is left alone"
        );
    }
}

#[tokio::test]
async fn create_without_email_gives_a_user_without_the_address_and_leaves_the_holder() {
    let mut existing = holder(true);
    existing.labels = vec![OWNER_LABEL.into()];
    let users = Users::with(vec![existing]);
    let policy = ProviderPolicy {
        on_email_conflict: OnEmailConflict::CreateWithoutEmail,
        ..trusted(true)
    };
    let resolved = resolve(&users, &policy).await.expect("created");
    assert_eq!(resolved.how, Resolution::Created);
    assert_eq!(users.get(&alice_id()).expect("user").email, "");
    assert!(!users.touched("65f0c0ffee0000000001"));
}

#[tokio::test]
async fn several_holders_of_the_email_are_a_conflict() {
    let users = Users::with(vec![
        holder(true),
        user("65f0c0ffee0000000002", EMAIL, true),
    ]);
    let refused = resolve(&users, &trusted(true)).await;
    assert_refused!(refused, LoginError::UserEmailConflict);
}

#[tokio::test]
async fn a_link_raced_by_another_identity_is_taken_back_and_refused() {
    let users = Users::with(vec![holder(true)]);
    let bob = key().link_label(ISSUER, "bob").as_str().to_string();
    *users.racing_label.lock().expect("race") = Some(bob.clone());
    let refused = resolve(&users, &trusted(true)).await;
    assert_refused!(refused, LoginError::UserEmailConflict);
    assert_eq!(
        users.get("65f0c0ffee0000000001").expect("holder").labels,
        [bob]
    );
}

#[tokio::test]
async fn a_list_answer_refused_by_its_filter_check_fails_the_login_with_no_write() {
    for link in [false, true] {
        let users = Users::with(vec![holder(true)]);
        users.email_filter_lost.store(true, Ordering::Relaxed);
        let refused = resolve(&users, &trusted(link)).await;
        assert_refused!(refused, LoginError::Appwrite(_));
        assert!(users.writes.lock().expect("writes").is_empty());
    }
}

#[tokio::test]
async fn admit_refuses_a_blocked_user_and_verifies_only_a_trusted_equal_email() {
    let resolved = |user, how| Resolved { user, how };
    let mut blocked = user(&alice_id(), EMAIL, true);
    blocked.status = false;
    let users = Users::with(vec![blocked.clone(), user("u-vouched", EMAIL, false)]);
    let refused = admit(
        &users,
        resolved(blocked, Resolution::Found),
        &admission(),
        &trusted(false),
    )
    .await;
    assert_refused!(refused, LoginError::UserBlocked);

    let vouched = resolved(user("u-vouched", EMAIL, false), Resolution::Vouched);
    let kept = admit(&users, vouched, &admission(), &trusted(false))
        .await
        .expect("admitted");
    assert!(!kept.email_verification, "never for a vouched user");
    for (policy, email, verified) in [
        (ProviderPolicy::default(), EMAIL, false),
        (trusted(false), "other@example.com", false),
        (trusted(false), EMAIL, true),
    ] {
        let users = Users::with(vec![user(&alice_id(), email, false)]);
        let found = resolved(user(&alice_id(), email, false), Resolution::Found);
        let admitted = admit(&users, found, &admission(), &policy)
            .await
            .expect("admitted");
        assert_eq!(admitted.email_verification, verified, "{email} {policy:?}");
    }
}

#[tokio::test]
async fn a_user_vouched_for_must_still_exist() {
    let users = Users::default();
    let gone = existing_user(&users, "u-gone").await;
    assert_refused!(gone, LoginError::ExistingUserGone);
}

#[tokio::test]
async fn the_policy_labels_replace_all_but_the_gateway_labels() {
    let mut mine = user(&alice_id(), EMAIL, true);
    mine.labels = vec![OWNER_LABEL.into(), "oldrole".into(), alice_link()];
    let users = Users::with(vec![mine.clone()]);
    let wanted = ["admin".to_string(), "admin".to_string()];
    let labelled = apply_labels(&users, mine, &wanted).await.expect("labels");
    assert_eq!(
        labelled.labels,
        [OWNER_LABEL.to_string(), alice_link(), "admin".into()]
    );
    // The same set again: no write.
    let writes = users.writes.lock().expect("writes").len();
    apply_labels(&users, labelled, &wanted)
        .await
        .expect("labels");
    assert_eq!(users.writes.lock().expect("writes").len(), writes);
    // Beyond Appwrite's limit the last claim labels go, never the gateway's.
    let many: Vec<String> = (0..LABELS_MAX + 5).map(|n| format!("role{n}")).collect();
    let user = users.get(&alice_id()).expect("user");
    let capped = apply_labels(&users, user, &many).await.expect("labels");
    assert_eq!(capped.labels.len(), LABELS_MAX);
    assert_eq!(capped.labels[..2], [OWNER_LABEL.to_string(), alice_link()]);
}
