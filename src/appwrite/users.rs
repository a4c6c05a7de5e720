//! The Users API models the gateway reads (a subset of Appwrite's `user` and `token`).

use serde::{Deserialize, Serialize};

/// An Appwrite user (the fields the gateway uses).
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// The user id.
    #[serde(rename = "$id")]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Email, lowercased by Appwrite; empty when none. Required, like `phone`, `labels` and
    /// `passwordUpdate`: a model without them would read as "no email, no phone, no password,
    /// no labels", which is exactly what lets the gateway adopt or link a user (fail open).
    pub email: String,
    /// Phone number; empty when none.
    pub phone: String,
    /// Whether Appwrite considers the email verified.
    #[serde(rename = "emailVerification", default)]
    pub email_verification: bool,
    /// `false` when the user is blocked. Required: a user model without it is not trusted.
    pub status: bool,
    /// Labels; only a server key can write them.
    pub labels: Vec<String>,
    /// When a password was last set; empty when the user never had one.
    #[serde(rename = "passwordUpdate")]
    pub password_update: String,
}

/// `GET /v1/users` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct UserList {
    pub users: Vec<User>,
}

/// `POST /v1/users` body.
#[derive(Debug, Serialize)]
pub struct NewUser<'a> {
    /// The custom id.
    #[serde(rename = "userId")]
    pub user_id: &'a str,
    /// Email, only a verified one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    /// Display name (at most 128 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

/// A minted custom token. `secret` is a [`Secret`](idp_provider_api::Secret): it never prints.
#[derive(Debug, Deserialize)]
pub struct Token {
    /// The user the token logs in.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The secret, shown once.
    pub secret: idp_provider_api::Secret<String>,
    /// When it expires, as Appwrite writes dates (ISO 8601).
    pub expire: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_model_without_the_fields_that_decide_adoption_is_refused() {
        let full = serde_json::json!({
            "$id": "u1", "name": "", "email": "", "phone": "", "emailVerification": false,
            "status": true, "labels": [], "passwordUpdate": ""
        });
        assert!(serde_json::from_value::<User>(full.clone()).is_ok());
        for field in ["email", "phone", "labels", "passwordUpdate", "status"] {
            let mut partial = full.clone();
            partial.as_object_mut().expect("object").remove(field);
            assert!(
                serde_json::from_value::<User>(partial).is_err(),
                "a user model without {field} must not read as empty"
            );
        }
    }
}
