//! Server routes under `/v1/users` (API key auth).

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::call::Call;
use crate::error::AppwriteError;
use crate::ids::{hex_secret, new_user_id, unique_id};
use crate::model::{StoredToken, UserRecord};
use crate::params::{opt_range, opt_string, req_bool, req_string};
use crate::query::UserQuery;

/// Longest user name.
pub(super) const MAX_NAME_LEN: usize = 128;
/// Most labels a user can have (`APP_LIMIT_ARRAY_LABELS_SIZE`).
const MAX_LABELS: usize = 1000;
/// Longest label.
const MAX_LABEL_LEN: usize = 36;
/// Longest `search` term.
const MAX_SEARCH_LEN: usize = 256;
/// Token length bounds and default.
const TOKEN_LENGTH: (i64, i64, i64) = (4, 128, 6);
/// Token lifetime bounds and default, in seconds.
const TOKEN_EXPIRE: (i64, i64, i64) = (60, 31_536_000, 900);

type Result<T> = std::result::Result<T, AppwriteError>;

fn respond(result: Result<(StatusCode, Value)>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(AppwriteError::invalid_param(
            name,
            "Value must be a valid boolean",
        )),
    }
}

/// `GET /v1/users`
pub(super) async fn list(call: Call) -> Response {
    respond(list_inner(&call))
}

fn list_inner(call: &Call) -> Result<(StatusCode, Value)> {
    let mut queries = Vec::new();
    let mut search = String::new();
    let mut total = true;
    for (name, value) in &call.query {
        match name.as_str() {
            "queries" => queries.push(value.as_str()),
            "search" => search = value.clone(),
            "total" => total = parse_bool("total", value)?,
            _ => {}
        }
    }
    if search.chars().count() > MAX_SEARCH_LEN {
        return Err(AppwriteError::invalid_param(
            "search",
            "Value must be a valid string and no longer than 256 chars",
        ));
    }
    let query = UserQuery::parse(queries)?;
    let search = search.to_lowercase();
    let db = call.shared.db();
    let matching: Vec<&UserRecord> = db
        .users
        .iter()
        .filter(|u| query.matches(u))
        .filter(|u| {
            search.is_empty()
                || [
                    u.id.as_str(),
                    u.name.as_str(),
                    u.email.as_deref().unwrap_or(""),
                    u.phone.as_deref().unwrap_or(""),
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&search))
        })
        .collect();
    let users: Vec<Value> = matching
        .iter()
        .skip(query.offset())
        .take(query.limit())
        .map(|u| u.to_json())
        .collect();
    let total = if total { matching.len() } else { 0 };
    Ok((StatusCode::OK, json!({ "total": total, "users": users })))
}

/// `GET /v1/users/{userId}`
pub(super) async fn get(call: Call) -> Response {
    respond((|| {
        let db = call.shared.db();
        let user = db
            .user(&call.user_id)
            .ok_or_else(AppwriteError::user_not_found)?;
        Ok((StatusCode::OK, user.to_json()))
    })())
}

/// True when `email` looks like an address: `local@domain.tld`, no spaces, one `@`.
pub(super) fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// 400 unless `email` is a valid address.
pub(super) fn check_email(email: &str) -> Result<()> {
    if is_email(email) {
        Ok(())
    } else {
        Err(AppwriteError::invalid_param(
            "email",
            "Value must be a valid email address",
        ))
    }
}

/// 400 unless `password` has 8..=256 chars.
pub(super) fn check_password(password: &str) -> Result<()> {
    if (8..=256).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(AppwriteError::invalid_param(
            "password",
            "Password must be at least 8 characters and no more than 256 characters.",
        ))
    }
}

/// 400 if `name` is longer than 128 chars.
pub(super) fn check_name(name: &str) -> Result<()> {
    if name.chars().count() > MAX_NAME_LEN {
        Err(AppwriteError::invalid_param(
            "name",
            "Value must be a valid string and no longer than 128 chars",
        ))
    } else {
        Ok(())
    }
}

/// 400 unless `phone` is in E.164 form.
pub(super) fn check_phone(phone: &str) -> Result<()> {
    if is_phone(phone) {
        Ok(())
    } else {
        Err(AppwriteError::invalid_param(
            "phone",
            "Phone number must start with a '+' can have a maximum of fifteen digits.",
        ))
    }
}

/// True when `phone` matches `^\+[1-9]\d{6,14}$`.
fn is_phone(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `POST /v1/users`
pub(super) async fn create(call: Call) -> Response {
    respond(create_inner(&call))
}

fn create_inner(call: &Call) -> Result<(StatusCode, Value)> {
    let (shared, body) = (&call.shared, &call.body);
    let user_id = new_user_id(req_string(body, "userId")?)?;
    let email = opt_string(body, "email")?.map(|e| e.to_lowercase());
    if let Some(e) = &email {
        check_email(e)?;
    }
    let phone = opt_string(body, "phone")?;
    if let Some(p) = &phone {
        check_phone(p)?;
    }
    let password = opt_string(body, "password")?;
    if let Some(p) = &password {
        check_password(p)?;
    }
    let name = opt_string(body, "name")?.unwrap_or_default();
    check_name(&name)?;

    let now = shared.clock.now();
    let mut db = shared.db();
    let clash = db.users.iter().any(|u| {
        u.id == user_id
            || (email.is_some() && u.email == email)
            || (phone.is_some() && u.phone == phone)
    });
    if clash {
        return Err(AppwriteError::user_already_exists());
    }
    let mut user = UserRecord::new(user_id, now);
    user.name = name;
    user.email = email;
    user.phone = phone;
    if let Some(p) = password {
        user.set_password(&p, now);
    }
    let json = user.to_json();
    db.users.push(user);
    Ok((StatusCode::CREATED, json))
}

/// `POST /v1/users/{userId}/tokens`
pub(super) async fn create_token(call: Call) -> Response {
    respond((|| {
        let Call {
            shared,
            user_id,
            body,
            ..
        } = call;
        let (lmin, lmax, ldef) = TOKEN_LENGTH;
        let length = opt_range(&body, "length", lmin, lmax)?.unwrap_or(ldef) as usize;
        let (emin, emax, edef) = TOKEN_EXPIRE;
        let expire_seconds = opt_range(&body, "expire", emin, emax)?.unwrap_or(edef) as u64;

        let mut db = shared.db();
        if db.user(&user_id).is_none() {
            return Err(AppwriteError::user_not_found());
        }
        let now = shared.clock.now();
        let secret = hex_secret(length);
        let token = StoredToken {
            id: unique_id(),
            user_id,
            secret_sha256: Sha256::digest(secret.as_bytes()).into(),
            length,
            expire_seconds,
            created_at: now,
            expire: now + Duration::from_secs(expire_seconds),
            consumed: false,
        };
        let json = token.to_json(&secret);
        db.tokens.push(token);
        Ok((StatusCode::CREATED, json))
    })())
}

/// `PATCH /v1/users/{userId}/verification`
pub(super) async fn update_email_verification(call: Call) -> Response {
    respond((|| {
        let verified = req_bool(&call.body, "emailVerification")?;
        let now = call.shared.clock.now();
        let mut db = call.shared.db();
        let user = db
            .user_mut(&call.user_id)
            .ok_or_else(AppwriteError::user_not_found)?;
        user.email_verification = verified;
        user.updated_at = now;
        Ok((StatusCode::OK, user.to_json()))
    })())
}

/// How Appwrite describes its labels validator (`ArrayList` of `Text(36)` whose allow-list is
/// `Text::NUMBERS`, `ALPHABET_UPPER`, `ALPHABET_LOWER`), as its 400 message says it.
pub(crate) fn labels_rule() -> String {
    let allowed: Vec<String> = ('0'..='9')
        .chain('A'..='Z')
        .chain('a'..='z')
        .map(String::from)
        .collect();
    format!(
        "Value must a valid array no longer than {MAX_LABELS} items and Value must be a valid \
         string and at least 1 chars and no longer than {MAX_LABEL_LEN} chars and only consist \
         of '{}' chars",
        allowed.join(", ")
    )
}

/// The required `labels` body field: an array of at most 1000 strings, each 1..=36 ASCII
/// letters or digits. Duplicates are dropped (first occurrence kept), as Appwrite does.
fn parse_labels(body: &serde_json::Map<String, Value>) -> Result<Vec<String>> {
    let invalid = || AppwriteError::invalid_param("labels", &labels_rule());
    let items = match body.get("labels") {
        None | Some(Value::Null) => return Err(AppwriteError::missing_param("labels")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid()),
    };
    if items.len() > MAX_LABELS {
        return Err(invalid());
    }
    let mut labels: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let label = item.as_str().ok_or_else(invalid)?;
        let valid = (1..=MAX_LABEL_LEN).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(invalid());
        }
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_owned());
        }
    }
    Ok(labels)
}

/// `PUT /v1/users/{userId}/labels`
pub(super) async fn update_labels(call: Call) -> Response {
    respond((|| {
        let labels = parse_labels(&call.body)?;
        let now = call.shared.clock.now();
        let mut db = call.shared.db();
        let user = db
            .user_mut(&call.user_id)
            .ok_or_else(AppwriteError::user_not_found)?;
        user.labels = labels;
        user.updated_at = now;
        Ok((StatusCode::OK, user.to_json()))
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rule() {
        assert!(is_email("a@b.com"));
        assert!(is_email("first.last+tag@sub.example.org"));
        assert!(!is_email("a@b"));
        assert!(!is_email("ab.com"));
        assert!(!is_email("@b.com"));
        assert!(!is_email("a@@b.com"));
        assert!(!is_email("a b@c.com"));
        assert!(!is_email(""));
    }

    #[test]
    fn labels_rule() {
        let parse = |v: Value| parse_labels(v.as_object().unwrap());
        assert_eq!(
            parse(json!({"labels": ["a", "B9", "a"]})).unwrap(),
            vec!["a", "B9"]
        );
        assert!(parse(json!({"labels": []})).unwrap().is_empty());
        assert!(parse(json!({"labels": ["x".repeat(36)]})).is_ok());
        for bad in [
            json!({}),
            json!({"labels": null}),
            json!({"labels": "a"}),
            json!({"labels": [""]}),
            json!({"labels": ["x".repeat(37)]}),
            json!({"labels": ["a-b"]}),
            json!({"labels": ["a:b"]}),
            json!({"labels": ["é"]}),
            json!({"labels": [1]}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.status, 400, "{bad}");
            assert!(err.message.contains("labels"), "{bad}");
        }
        let many: Vec<String> = (0..1001).map(|i| format!("l{i}")).collect();
        assert!(parse(json!({"labels": many})).is_err());
        assert_eq!(parse(json!({"labels": &many[..1000]})).unwrap().len(), 1000);
    }

    #[test]
    fn phone_rule() {
        assert!(is_phone("+14155550100"));
        assert!(is_phone("+1234567"));
        assert!(is_phone("+123456789012345"));
        assert!(!is_phone("+123456"));
        assert!(!is_phone("+1234567890123456"));
        assert!(!is_phone("+0123456789"));
        assert!(!is_phone("14155550100"));
        assert!(!is_phone("+1415555010a"));
    }
}
