//! Client routes that create a login token and send its secret to the account's address:
//! `POST /v1/account/tokens/email`, `/account/tokens/magic-url` and `/account/tokens/phone`
//! (project header only, no key needed).
//!
//! Appwrite's `userId` semantics, which make these routes a way to create an account with a
//! chosen id and no password: when no account has that email (or phone), a new one is created
//! with the given `userId` (409 `user_already_exists` if the id is taken); otherwise the id is
//! ignored and the token is for the existing account. The response's `secret` is empty: the
//! secret goes to the address, recorded here as a [`SentMessage`] that tests read.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use rand::Rng;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::call::Call;
use super::users::{check_email, check_phone};
use crate::error::AppwriteError;
use crate::ids::{KEY_RULE, UNIQUE, hex_secret, is_valid_custom_id, unique_id};
use crate::model::{SentMessage, StoredToken, UserRecord};
use crate::params::{opt_bool, opt_string, req_string};
use crate::state::Shared;

/// Lifetime of an email or SMS code (15 minutes).
const CODE_EXPIRE: Duration = Duration::from_secs(15 * 60);
/// Lifetime of a magic URL (1 hour).
const MAGIC_URL_EXPIRE: Duration = Duration::from_secs(60 * 60);
/// Digits of an email or SMS code (`Auth::codeGenerator`).
const CODE_LENGTH: usize = 6;
/// Length of a magic URL secret (`Auth::TOKEN_LENGTH_MAGIC_URL`).
const MAGIC_URL_LENGTH: usize = 64;

/// Which address the account is found or created by, and how its secret looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `/account/tokens/email`: a 6-digit code by email.
    Email,
    /// `/account/tokens/magic-url`: a 64-character link secret by email.
    MagicUrl,
    /// `/account/tokens/phone`: a 6-digit code by SMS.
    Phone,
}

impl Kind {
    fn secret(self) -> String {
        match self {
            Self::Email | Self::Phone => {
                let mut rng = rand::thread_rng();
                (0..CODE_LENGTH)
                    .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                    .collect()
            }
            Self::MagicUrl => hex_secret(MAGIC_URL_LENGTH),
        }
    }

    fn expire(self) -> Duration {
        match self {
            Self::Email | Self::Phone => CODE_EXPIRE,
            Self::MagicUrl => MAGIC_URL_EXPIRE,
        }
    }
}

/// The handler of one client token route (`email`, `magic-url` or `phone`), on the method
/// the route table gives.
pub(super) fn handler(kind: Kind, filter: MethodFilter) -> MethodRouter<Arc<Shared>> {
    on(filter, move |call: Call| async move {
        respond(create(&call, kind))
    })
}

fn respond(result: Result<Value, AppwriteError>) -> Response {
    match result {
        Ok(body) => (StatusCode::CREATED, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The address of the request: a lowercased email, or an E.164 phone number.
fn address(kind: Kind, body: &Map<String, Value>) -> Result<String, AppwriteError> {
    match kind {
        Kind::Email | Kind::MagicUrl => {
            let email = req_string(body, "email")?.to_lowercase();
            check_email(&email)?;
            Ok(email)
        }
        Kind::Phone => {
            let phone = req_string(body, "phone")?;
            check_phone(&phone)?;
            Ok(phone)
        }
    }
}

fn create(call: &Call, kind: Kind) -> Result<Value, AppwriteError> {
    let (shared, body) = (&call.shared, &call.body);
    let requested_id = req_string(body, "userId")?;
    if requested_id != UNIQUE && !is_valid_custom_id(&requested_id) {
        return Err(AppwriteError::invalid_param("userId", KEY_RULE));
    }
    let to = address(kind, body)?;
    if kind == Kind::MagicUrl
        && let Some(url) = opt_string(body, "url")?
        && !url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        return Err(AppwriteError::invalid_param(
            "url",
            "Invalid URI. Register your new client (localhost) as a new Web platform on your project console dashboard",
        ));
    }
    let phrase = kind != Kind::Phone && opt_bool(body, "phrase")?.unwrap_or(false);

    let now = shared.clock.now();
    let mut db = shared.db();
    let owner = db.users.iter().find(|u| match kind {
        Kind::Email | Kind::MagicUrl => u.email.as_deref() == Some(to.as_str()),
        Kind::Phone => u.phone.as_deref() == Some(to.as_str()),
    });
    let user_id = match owner {
        // The address is taken: the requested id is ignored.
        Some(user) if !user.status => return Err(AppwriteError::user_blocked()),
        Some(user) => user.id.clone(),
        None => {
            let id = if requested_id == UNIQUE {
                unique_id()
            } else {
                requested_id
            };
            if db.user(&id).is_some() {
                return Err(AppwriteError::user_already_exists());
            }
            let mut user = UserRecord::new(id.clone(), now);
            match kind {
                Kind::Email | Kind::MagicUrl => user.email = Some(to.clone()),
                Kind::Phone => user.phone = Some(to.clone()),
            }
            db.users.push(user);
            id
        }
    };
    let secret = kind.secret();
    let token = StoredToken {
        id: unique_id(),
        user_id: user_id.clone(),
        secret_sha256: Sha256::digest(secret.as_bytes()).into(),
        length: secret.len(),
        expire_seconds: kind.expire().as_secs(),
        created_at: now,
        expire: now + kind.expire(),
        consumed: false,
    };
    // The client never sees the secret: it travels to the address.
    let mut json = token.to_json("");
    if phrase && let Some(obj) = json.as_object_mut() {
        obj.insert("phrase".into(), Value::from("Emulated Phrase"));
    }
    db.tokens.push(token);
    db.messages.push(SentMessage {
        channel: if kind == Kind::Phone { "sms" } else { "email" },
        to,
        user_id,
        secret,
    });
    Ok(json)
}
