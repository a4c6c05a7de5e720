//! IDs and secrets: the Utopia `Key`/`UID` custom-ID rule, `ID::unique()` and token secrets.

use rand::Rng;

use crate::error::AppwriteError;

/// Maximum custom ID length on Appwrite's SQL adapters.
pub const MAX_ID_LEN: usize = 36;

/// The literal that asks the server to generate an ID.
pub const UNIQUE: &str = "unique()";

/// The validator description Appwrite puts after "Invalid `userId` param: ".
pub const KEY_RULE: &str = "Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, \
                            0-9, period, hyphen, and underscore. Can't start with a special char";

/// True when `id` satisfies `Utopia\Database\Validator\Key`: non-empty, at most 36 chars of
/// `[A-Za-z0-9._-]`, and not starting with `_`, `.` or `-`.
pub fn is_valid_custom_id(id: &str) -> bool {
    let Some(first) = id.chars().next() else {
        return false;
    };
    id.len() <= MAX_ID_LEN
        && !matches!(first, '_' | '.' | '-')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The id of a user to create from the requested `userId`: a fresh [`unique_id`] for
/// [`UNIQUE`], the requested id when it follows [`KEY_RULE`], else 400 for `userId`.
pub(crate) fn new_user_id(requested: String) -> Result<String, AppwriteError> {
    if requested == UNIQUE {
        Ok(unique_id())
    } else if is_valid_custom_id(&requested) {
        Ok(requested)
    } else {
        Err(AppwriteError::invalid_param("userId", KEY_RULE))
    }
}

/// A 20-char lowercase hex ID like `ID::unique()` (13 hex chars of time + 7 random hex chars).
pub fn unique_id() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    // uniqid(): 8 hex chars of seconds + 5 hex chars of microseconds.
    let secs = (micros / 1_000_000) as u64;
    let usec = (micros % 1_000_000) as u32;
    let mut rng = rand::thread_rng();
    let tail: u32 = rng.gen_range(0..0x1000_0000);
    format!("{:08x}{:05x}{:07x}", secs & 0xffff_ffff, usec, tail)
}

/// A random lowercase hex secret of exactly `length` chars (`Auth::tokenGenerator`).
pub fn hex_secret(length: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..length)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rule() {
        assert!(is_valid_custom_id("a"));
        assert!(is_valid_custom_id("oidc.google-123_x"));
        assert!(is_valid_custom_id(&"a".repeat(36)));
        assert!(!is_valid_custom_id(""));
        assert!(!is_valid_custom_id(&"a".repeat(37)));
        assert!(!is_valid_custom_id("_a"));
        assert!(!is_valid_custom_id(".a"));
        assert!(!is_valid_custom_id("-a"));
        assert!(!is_valid_custom_id("a:b"));
        assert!(!is_valid_custom_id("a b"));
        assert!(!is_valid_custom_id("é"));
        assert!(!is_valid_custom_id(UNIQUE));
    }

    #[test]
    fn unique_ids_are_20_hex_and_distinct() {
        let a = unique_id();
        let b = unique_id();
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert!(is_valid_custom_id(&a));
    }

    #[test]
    fn secrets_have_requested_length() {
        for len in [4, 6, 7, 128] {
            let s = hex_secret(len);
            assert_eq!(s.len(), len);
            assert!(s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        }
    }
}
