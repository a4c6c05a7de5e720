//! Stored records (users, tokens, sessions) and their Appwrite JSON models.

use std::time::SystemTime;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::iso8601;

/// A user as the emulator stores it.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub id: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    pub name: String,
    /// Hex SHA-256 of the password, if one was set (real Appwrite uses argon2).
    pub password_hash: Option<String>,
    pub password_update: Option<SystemTime>,
    pub registration: SystemTime,
    pub status: bool,
    pub labels: Vec<String>,
    /// Lowercased email, `None` when the user has none.
    pub email: Option<String>,
    pub phone: Option<String>,
    pub email_verification: bool,
    pub phone_verification: bool,
    pub accessed_at: Option<SystemTime>,
}

impl UserRecord {
    /// A fresh user created at `now`.
    pub fn new(id: String, now: SystemTime) -> Self {
        Self {
            id,
            created_at: now,
            updated_at: now,
            name: String::new(),
            password_hash: None,
            password_update: None,
            registration: now,
            status: true,
            labels: Vec::new(),
            email: None,
            phone: None,
            email_verification: false,
            phone_verification: false,
            accessed_at: None,
        }
    }

    /// The `user` response model. `password`, `hash` and `hashOptions` are only present when
    /// the user has a password (the emulator stores SHA-256, reported as the `sha` algorithm).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "$id": self.id,
            "$createdAt": iso8601(self.created_at),
            "$updatedAt": iso8601(self.updated_at),
            "name": self.name,
            "registration": iso8601(self.registration),
            "status": self.status,
            "labels": self.labels,
            "passwordUpdate": self.password_update.map(iso8601).unwrap_or_default(),
            "email": self.email.clone().unwrap_or_default(),
            "phone": self.phone.clone().unwrap_or_default(),
            "emailVerification": self.email_verification,
            "phoneVerification": self.phone_verification,
            "mfa": false,
            "prefs": {},
            "targets": [],
            "accessedAt": self.accessed_at.map(iso8601).unwrap_or_default(),
        });
        if let (Some(hash), Some(obj)) = (&self.password_hash, v.as_object_mut()) {
            obj.insert("password".into(), json!(hash));
            obj.insert("hash".into(), json!("sha"));
            obj.insert("hashOptions".into(), json!({"type": "sha"}));
        }
        v
    }

    /// The `account` response model of client routes: the `user` model without `password`,
    /// `hash` and `hashOptions` (Appwrite's `Account` model removes them).
    pub fn to_account_json(&self) -> Value {
        let mut v = self.to_json();
        if let Some(obj) = v.as_object_mut() {
            for key in ["password", "hash", "hashOptions"] {
                obj.remove(key);
            }
        }
        v
    }

    /// Stores `password` (as SHA-256) and stamps `passwordUpdate`.
    pub fn set_password(&mut self, password: &str, now: SystemTime) {
        self.password_hash = Some(password_hash(password));
        self.password_update = Some(now);
    }

    /// Whether `password` is the user's (false when the user has none).
    pub fn password_is(&self, password: &str) -> bool {
        self.password_hash.as_deref() == Some(password_hash(password).as_str())
    }
}

/// Hex SHA-256 of a password: what the emulator stores instead of Appwrite's argon2 hash.
fn password_hash(password: &str) -> String {
    Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A pre-existing user to put into the emulator with [`crate::Emulator::seed_user`].
#[derive(Debug, Clone)]
pub struct SeedUser {
    /// User ID (not validated, so tests can seed odd IDs on purpose).
    pub id: String,
    /// Email; lowercased when stored.
    pub email: Option<String>,
    /// Display name.
    pub name: String,
    /// Whether the email is verified.
    pub email_verification: bool,
    /// `false` means blocked.
    pub status: bool,
    /// A password (stored hashed; `passwordUpdate` is stamped), as `POST /v1/account` leaves.
    pub password: Option<String>,
    /// Phone number in E.164 form, as `POST /v1/account/tokens/phone` leaves.
    pub phone: Option<String>,
    /// Labels (only a server key can write them in Appwrite).
    pub labels: Vec<String>,
}

impl Default for SeedUser {
    /// An active user with no email, password, phone or labels.
    fn default() -> Self {
        Self {
            id: String::new(),
            email: None,
            name: String::new(),
            email_verification: false,
            status: true,
            password: None,
            phone: None,
            labels: Vec::new(),
        }
    }
}

/// A minted custom token as the emulator stores it (only the secret's SHA-256).
#[derive(Debug, Clone)]
pub(crate) struct StoredToken {
    pub id: String,
    pub user_id: String,
    pub secret_sha256: [u8; 32],
    pub length: usize,
    pub expire_seconds: u64,
    pub created_at: SystemTime,
    pub expire: SystemTime,
    pub consumed: bool,
}

/// A minted token as tests see it: no secret, no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Owner of the token.
    pub user_id: String,
    /// Length of the secret in characters.
    pub length: usize,
    /// Requested lifetime in seconds.
    pub expire_seconds: u64,
    /// True once a session was created from it.
    pub consumed: bool,
}

impl From<&StoredToken> for TokenRecord {
    fn from(t: &StoredToken) -> Self {
        Self {
            user_id: t.user_id.clone(),
            length: t.length,
            expire_seconds: t.expire_seconds,
            consumed: t.consumed,
        }
    }
}

impl StoredToken {
    /// The `token` response model, with the plain secret (only returned at creation).
    pub fn to_json(&self, secret: &str) -> Value {
        json!({
            "$id": self.id,
            "$createdAt": iso8601(self.created_at),
            "userId": self.user_id,
            "secret": secret,
            "expire": iso8601(self.expire),
            "phrase": "",
        })
    }
}

/// What a client token route "sends": the one-time secret that Appwrite emails or texts to the
/// account's address. Tests read it as the owner of that address would, e.g. an attacker who
/// created the account with their own email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// `"email"` or `"sms"`.
    pub channel: &'static str,
    /// The email address or phone number it went to.
    pub to: String,
    /// The user the secret logs in.
    pub user_id: String,
    /// The secret, for `POST /v1/account/sessions/token`.
    pub secret: String,
}

/// An account JWT the emulator issued (`POST /v1/users/{userId}/jwts`).
#[derive(Debug, Clone)]
pub(crate) struct JwtRecord {
    /// The JWT as handed out.
    pub jwt: String,
    pub user_id: String,
    /// The session it is bound to; `None` when the user had none.
    pub session_id: Option<String>,
    pub expire: SystemTime,
}

/// A session created from a token.
#[derive(Debug, Clone)]
pub(crate) struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub secret: String,
    pub created_at: SystemTime,
    pub expire: SystemTime,
    pub ip: String,
}

impl SessionRecord {
    /// The `session` response model. `secret` is only filled when `show_secret` (API key call).
    pub fn to_json(&self, show_secret: bool) -> Value {
        json!({
            "$id": self.id,
            "$createdAt": iso8601(self.created_at),
            "$updatedAt": iso8601(self.created_at),
            "userId": self.user_id,
            "expire": iso8601(self.expire),
            "provider": "token",
            "providerUid": self.user_id,
            "providerAccessToken": "",
            "providerAccessTokenExpiry": "",
            "providerRefreshToken": "",
            "ip": self.ip,
            "osCode": "",
            "osName": "",
            "osVersion": "",
            "clientType": "",
            "clientCode": "",
            "clientName": "",
            "clientVersion": "",
            "clientEngine": "",
            "clientEngineVersion": "",
            "deviceName": "",
            "deviceBrand": "",
            "deviceModel": "",
            "countryCode": "--",
            "countryName": "Unknown",
            "current": true,
            "factors": ["token"],
            "secret": if show_secret { self.secret.as_str() } else { "" },
            "mfaUpdatedAt": "",
        })
    }
}
