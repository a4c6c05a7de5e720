//! An in-memory [`Directory`] that answers as Appwrite does: 409 for a taken id or email,
//! lists by exact email or label (at most two), every write recorded.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::super::*;

/// The project's users, and every write made to them (`(operation, user id)`).
#[derive(Default)]
pub(super) struct Users {
    pub(super) users: Mutex<Vec<User>>,
    pub(super) writes: Mutex<Vec<(&'static str, String)>>,
    /// A label another login adds to the next user whose labels are written (a race).
    pub(super) racing_label: Mutex<Option<String>>,
    /// Lists by email answer what the client answers when users in the answer fail its
    /// filter (the filter was lost on the way).
    pub(super) email_filter_lost: AtomicBool,
}

pub(super) fn user(id: &str, email: &str, verified: bool) -> User {
    User {
        id: id.into(),
        name: String::new(),
        email: email.into(),
        phone: String::new(),
        email_verification: verified,
        status: true,
        labels: Vec::new(),
        password_update: String::new(),
    }
}

fn conflict(kind: AppwriteErrorType) -> AppwriteError {
    AppwriteError::Api {
        operation: "create user",
        status: 409,
        kind,
        message: "taken".into(),
    }
}

impl Users {
    pub(super) fn with(users: Vec<User>) -> Self {
        Self {
            users: Mutex::new(users),
            ..Self::default()
        }
    }

    pub(super) fn get(&self, id: &str) -> Option<User> {
        let users = self.users.lock().expect("users");
        users.iter().find(|u| u.id == id).cloned()
    }

    /// Whether anything was written to the user `id`.
    pub(super) fn touched(&self, id: &str) -> bool {
        self.writes
            .lock()
            .expect("writes")
            .iter()
            .any(|(_, w)| w == id)
    }

    fn update(&self, op: &'static str, id: &str, change: impl FnOnce(&mut User)) -> User {
        self.writes.lock().expect("writes").push((op, id.into()));
        let mut users = self.users.lock().expect("users");
        let user = users.iter_mut().find(|u| u.id == id).expect("known user");
        change(user);
        user.clone()
    }

    fn list(
        &self,
        lost: bool,
        matches: impl Fn(&User) -> bool,
    ) -> Result<Vec<User>, AppwriteError> {
        if lost {
            let detail = "users answered do not match the filter".into();
            return Err(AppwriteError::Protocol {
                operation: "list users",
                detail,
            });
        }
        let users = self.users.lock().expect("users");
        Ok(users
            .iter()
            .filter(|u| matches(u))
            .take(2)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl Directory for Users {
    async fn get_user(&self, id: &str) -> Result<Option<User>, AppwriteError> {
        Ok(self.get(id))
    }

    async fn create_user(&self, new: &NewUser<'_>) -> Result<User, AppwriteError> {
        let mut users = self.users.lock().expect("users");
        if users.iter().any(|u| u.id == new.user_id) {
            return Err(conflict(AppwriteErrorType::UserAlreadyExists));
        }
        let email = new.email.unwrap_or_default();
        if !email.is_empty() && users.iter().any(|u| u.email == email) {
            return Err(conflict(AppwriteErrorType::UserAlreadyExists));
        }
        let mut created = user(new.user_id, email, false);
        created.name = new.name.unwrap_or_default().into();
        users.push(created.clone());
        let write = ("create", new.user_id.to_string());
        self.writes.lock().expect("writes").push(write);
        Ok(created)
    }

    async fn mark_email_verified(&self, id: &str) -> Result<User, AppwriteError> {
        Ok(self.update("verify", id, |u| u.email_verification = true))
    }

    async fn set_labels(&self, id: &str, labels: &[String]) -> Result<User, AppwriteError> {
        let racing = self.racing_label.lock().expect("race").take();
        Ok(self.update("labels", id, |u| {
            u.labels = labels.to_vec();
            u.labels.extend(racing);
        }))
    }

    async fn list_users_by_email(&self, email: &str) -> Result<Vec<User>, AppwriteError> {
        self.list(self.email_filter_lost.load(Ordering::Relaxed), |u| {
            u.email == email
        })
    }

    async fn list_users_by_label(&self, label: &str) -> Result<Vec<User>, AppwriteError> {
        self.list(false, |u| u.labels.iter().any(|l| l == label))
    }
}
