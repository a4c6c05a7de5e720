//! The JSON query syntax of `queries[]` on `GET /v1/users` (Appwrite ≥ 1.5).
//!
//! Supported: `equal` on `email`, `phone`, `name`, `$id` (string values) and
//! `emailVerification`, `status` (boolean values); `contains` on the array attribute `labels`
//! (a user matches when it has any of the values; `equal` on an array is refused, as Appwrite
//! refuses it); `limit` and `offset`. Anything else, including attributes Appwrite accepts but
//! the emulator does not model, is 400 `general_query_invalid`, as is malformed JSON.

use serde_json::Value;

use crate::error::AppwriteError;
use crate::model::UserRecord;

/// Appwrite's `APP_LIMIT_COUNT`: largest `limit`/`offset`.
const MAX_LIMIT: u64 = 5000;
/// Default page size when no `limit` query is given.
const DEFAULT_LIMIT: usize = 25;
/// Most queries per request.
const MAX_QUERIES: usize = 100;
/// Longest single query string.
const MAX_QUERY_LEN: usize = 4096;

/// Attributes Appwrite allows in user queries that the emulator does not implement.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "passwordUpdate",
    "registration",
    "phoneVerification",
    "$createdAt",
    "$updatedAt",
    "$sequence",
];

/// Methods Appwrite knows that the emulator does not implement.
const METHODS_UNSUPPORTED: &[&str] = &[
    "notEqual",
    "lessThan",
    "lessThanEqual",
    "greaterThan",
    "greaterThanEqual",
    "search",
    "isNull",
    "isNotNull",
    "between",
    "startsWith",
    "endsWith",
    "select",
    "orderAsc",
    "orderDesc",
    "cursorAfter",
    "cursorBefore",
    "and",
    "or",
];

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Text(TextAttr, Vec<String>),
    /// `contains` on `labels`: any of the values.
    Labels(Vec<String>),
    Flag(FlagAttr, Vec<bool>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TextAttr {
    Id,
    Email,
    Phone,
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FlagAttr {
    EmailVerification,
    Status,
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserQuery {
    filters: Vec<Filter>,
    limit: usize,
    offset: usize,
}

impl UserQuery {
    /// Parses every `queries[]` value.
    pub fn parse<'a>(queries: impl IntoIterator<Item = &'a str>) -> Result<Self, AppwriteError> {
        let mut q = UserQuery {
            filters: Vec::new(),
            limit: DEFAULT_LIMIT,
            offset: 0,
        };
        let mut count = 0;
        for raw in queries {
            count += 1;
            if count > MAX_QUERIES {
                return Err(AppwriteError::query_invalid(
                    "Maximum of 100 queries are allowed",
                ));
            }
            if raw.len() > MAX_QUERY_LEN {
                return Err(AppwriteError::query_invalid("Query is too long"));
            }
            q.add(raw)?;
        }
        Ok(q)
    }

    fn add(&mut self, raw: &str) -> Result<(), AppwriteError> {
        let value: Value = serde_json::from_str(raw)
            .map_err(|_| AppwriteError::query_invalid(&format!("Syntax error in {raw}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| AppwriteError::query_invalid("Query must be a JSON object"))?;
        let method = obj
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| AppwriteError::query_invalid("Query method is missing"))?;
        let values = match obj.get("values") {
            Some(Value::Array(v)) => v.as_slice(),
            None => &[],
            Some(_) => {
                return Err(AppwriteError::query_invalid(
                    "Query values must be an array",
                ));
            }
        };
        let attribute = obj.get("attribute").and_then(Value::as_str).unwrap_or("");
        match method {
            "equal" => self.add_equal(attribute, values),
            "contains" => self.add_contains(attribute, values),
            "limit" => {
                self.limit = single_int(values, "limit", 1)? as usize;
                Ok(())
            }
            "offset" => {
                self.offset = single_int(values, "offset", 0)? as usize;
                Ok(())
            }
            m if METHODS_UNSUPPORTED.contains(&m) => Err(AppwriteError::query_invalid(&format!(
                "Query method `{m}` is not supported by the Appwrite emulator"
            ))),
            m => Err(AppwriteError::query_invalid(&format!(
                "Invalid query method: {m}"
            ))),
        }
    }

    fn add_equal(&mut self, attribute: &str, values: &[Value]) -> Result<(), AppwriteError> {
        if values.is_empty() {
            return Err(AppwriteError::query_invalid(
                "Equal queries require at least one value.",
            ));
        }
        if values.len() > 500 {
            return Err(AppwriteError::query_invalid(
                "Query on attribute has greater than 500 values",
            ));
        }
        let text = |attr| {
            values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(|vals| Filter::Text(attr, vals))
        };
        let flag = |attr| {
            values
                .iter()
                .map(Value::as_bool)
                .collect::<Option<Vec<_>>>()
                .map(|vals| Filter::Flag(attr, vals))
        };
        let filter = match attribute {
            "$id" => text(TextAttr::Id),
            "email" => text(TextAttr::Email),
            "phone" => text(TextAttr::Phone),
            "name" => text(TextAttr::Name),
            "emailVerification" => flag(FlagAttr::EmailVerification),
            "status" => flag(FlagAttr::Status),
            "labels" => {
                return Err(AppwriteError::query_invalid(
                    "Invalid query: Cannot query equal on attribute \"labels\" because it is an array.",
                ));
            }
            a if KNOWN_UNSUPPORTED.contains(&a) => {
                return Err(AppwriteError::query_invalid(&format!(
                    "Queries on attribute `{a}` are not supported by the Appwrite emulator"
                )));
            }
            a => {
                return Err(AppwriteError::query_invalid(&format!(
                    "Attribute not found in schema: {a}"
                )));
            }
        };
        let filter = filter.ok_or_else(|| {
            AppwriteError::query_invalid(&format!(
                "Query value is invalid for attribute \"{attribute}\""
            ))
        })?;
        self.filters.push(filter);
        Ok(())
    }

    fn add_contains(&mut self, attribute: &str, values: &[Value]) -> Result<(), AppwriteError> {
        if attribute != "labels" {
            return Err(AppwriteError::query_invalid(&format!(
                "`contains` on attribute `{attribute}` is not supported by the Appwrite emulator"
            )));
        }
        if values.is_empty() || values.len() > 500 {
            return Err(AppwriteError::query_invalid(
                "Contains queries require 1 to 500 values.",
            ));
        }
        let labels = values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                AppwriteError::query_invalid("Query value is invalid for attribute \"labels\"")
            })?;
        self.filters.push(Filter::Labels(labels));
        Ok(())
    }

    /// True when `user` passes every filter (values of one filter are OR-ed).
    pub fn matches(&self, user: &UserRecord) -> bool {
        self.filters.iter().all(|f| match f {
            Filter::Text(attr, vals) => {
                let field = match attr {
                    TextAttr::Id => user.id.as_str(),
                    TextAttr::Email => user.email.as_deref().unwrap_or(""),
                    TextAttr::Phone => user.phone.as_deref().unwrap_or(""),
                    TextAttr::Name => user.name.as_str(),
                };
                vals.iter().any(|v| v == field)
            }
            Filter::Flag(attr, vals) => {
                let field = match attr {
                    FlagAttr::EmailVerification => user.email_verification,
                    FlagAttr::Status => user.status,
                };
                vals.contains(&field)
            }
            Filter::Labels(vals) => user.labels.iter().any(|l| vals.contains(l)),
        })
    }

    /// Page size.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Number of matches to skip.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

fn single_int(values: &[Value], method: &str, min: u64) -> Result<u64, AppwriteError> {
    match values {
        [v] => v
            .as_u64()
            .filter(|n| (min..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AppwriteError::query_invalid(&format!(
                    "Invalid {method}: Value must be a valid range between {min} and {MAX_LIMIT}"
                ))
            }),
        _ => Err(AppwriteError::query_invalid(&format!(
            "{method} queries require exactly one value."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn user(id: &str, email: &str) -> UserRecord {
        let mut u = UserRecord::new(id.into(), SystemTime::now());
        u.email = Some(email.into());
        u
    }

    #[test]
    fn equal_email_and_limit() {
        let q = UserQuery::parse([
            r#"{"method":"equal","attribute":"email","values":["a@b.com"]}"#,
            r#"{"method":"limit","values":[1]}"#,
        ])
        .unwrap();
        assert_eq!(q.limit(), 1);
        assert!(q.matches(&user("x", "a@b.com")));
        assert!(!q.matches(&user("x", "c@b.com")));
    }

    #[test]
    fn flag_filter() {
        let q = UserQuery::parse([r#"{"method":"equal","attribute":"status","values":[false]}"#])
            .unwrap();
        let mut u = user("x", "a@b.com");
        assert!(!q.matches(&u));
        u.status = false;
        assert!(q.matches(&u));
    }

    #[test]
    fn contains_on_labels() {
        let mut tagged = user("a", "a@x.io");
        tagged.labels = vec!["admin".into(), "l123".into()];
        let plain = user("b", "b@x.io");
        let q = UserQuery::parse([
            r#"{"method":"contains","attribute":"labels","values":["l123","zz"]}"#,
        ])
        .expect("valid");
        assert!(q.matches(&tagged));
        assert!(!q.matches(&plain));
    }

    #[test]
    fn rejects_bad_queries() {
        for bad in [
            "not json",
            r#"equal("email", ["a@b.com"])"#,
            r#"{"method":"equal","attribute":"nope","values":["x"]}"#,
            r#"{"method":"equal","attribute":"labels","values":["x"]}"#,
            r#"{"method":"equal","attribute":"email","values":[]}"#,
            r#"{"method":"equal","attribute":"email","values":[1]}"#,
            r#"{"method":"equal","attribute":"status","values":["true"]}"#,
            r#"{"method":"frobnicate","attribute":"email","values":["x"]}"#,
            r#"{"method":"notEqual","attribute":"email","values":["x"]}"#,
            r#"{"method":"contains","attribute":"email","values":["x"]}"#,
            r#"{"method":"contains","attribute":"labels","values":[]}"#,
            r#"{"method":"contains","attribute":"labels","values":[1]}"#,
            r#"{"method":"limit","values":[0]}"#,
            r#"{"method":"limit","values":[5001]}"#,
            r#"{"method":"offset","values":[-1]}"#,
            r#"[1,2]"#,
        ] {
            let err = UserQuery::parse([bad]).unwrap_err();
            assert_eq!(err.kind, "general_query_invalid", "{bad}");
            assert_eq!(err.status, 400);
        }
    }
}
