//! Appwrite ids: the custom-id rule every user id, label and project id follows, and the
//! project id the client sends.

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
    fn project_ids_follow_the_rule() {
        assert_eq!(
            ProjectId::parse("my-project").map(|p| p.as_str().to_string()),
            Ok("my-project".to_string())
        );
        assert_eq!(ProjectId::parse("_x"), Err(InvalidId("_x".to_string())));
    }
}
