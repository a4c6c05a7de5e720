//! Appwrite ids: the custom-id rule every user id and project id follows, the stricter label
//! rule, and the project id the client sends.

use std::fmt;

/// Length of Appwrite's custom ids on SQL adapters, and of its labels.
pub const APPWRITE_ID_MAX: usize = 36;

/// Appwrite's custom-id rule (`Utopia\Database\Validator\Key`): 1..=36 of `[A-Za-z0-9._-]`,
/// not starting with `.`, `_` or `-`.
pub fn is_valid_appwrite_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= APPWRITE_ID_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !matches!(id.as_bytes()[0], b'.' | b'_' | b'-')
}

/// Most labels one user may carry (`APP_LIMIT_ARRAY_LABELS_SIZE` of `PUT /v1/users/{id}/labels`).
pub const LABELS_MAX: usize = 1000;

/// Appwrite's label rule (`Text(36)` with an allow-list of ASCII letters and digits): 1..=36
/// characters of `[A-Za-z0-9]`, so no `-`, `_`, `:` or `.`.
pub fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= APPWRITE_ID_MAX
        && label.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A text that breaks [`is_valid_appwrite_id`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid Appwrite id")]
pub struct InvalidId(pub String);

/// An Appwrite project id (`X-Appwrite-Project`), valid under [`is_valid_appwrite_id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectId(String);

impl ProjectId {
    /// Checks `id` against the custom-id rule.
    ///
    /// # Errors
    /// When `id` breaks [`is_valid_appwrite_id`].
    pub fn parse(id: &str) -> Result<Self, InvalidId> {
        if is_valid_appwrite_id(id) {
            Ok(Self(id.to_string()))
        } else {
            Err(InvalidId(id.to_string()))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appwrite_id_rule() {
        assert!(is_valid_appwrite_id("demo-project"));
        assert!(is_valid_appwrite_id("a.b_c-d"));
        assert!(!is_valid_appwrite_id("_x"));
        assert!(!is_valid_appwrite_id("-x"));
        assert!(!is_valid_appwrite_id(""));
        assert!(!is_valid_appwrite_id("a b"));
        assert!(!is_valid_appwrite_id(&"a".repeat(37)));
    }

    #[test]
    fn label_rule() {
        assert!(is_valid_label("admin"));
        assert!(is_valid_label("Team42"));
        assert!(is_valid_label(&"a".repeat(36)));
        for bad in ["", "a-b", "a_b", "a.b", "a:b", "a b", "é", "a\n"] {
            assert!(!is_valid_label(bad), "{bad:?}");
        }
        assert!(!is_valid_label(&"a".repeat(37)));
    }

    #[test]
    fn project_ids_follow_the_rule() {
        assert_eq!(
            ProjectId::parse("my-project").map(|p| p.as_str().to_string()),
            Ok("my-project".to_string())
        );
        assert_eq!(ProjectId::parse("_x"), Err(InvalidId("_x".to_string())));
    }
}
