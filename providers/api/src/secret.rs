//! `Secret<T>`: a value that must never reach a log, an error page or a panic message.
//!
//! `Debug` prints `[redacted]`, there is no `Display` and no `Serialize`, and the only way to the
//! value is [`Secret::expose`]. Equality compares in constant time.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret value: API keys, client secrets, codes, tokens, nonces, PKCE verifiers.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The wrapped value.
    ///
    /// # Security
    /// Call it only where the value leaves the process on purpose (an HTTP header or body sent
    /// to the party that owns it, a hash). Never format the result into a log line or an error.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_ref().ct_eq(other.0.as_ref()).into()
    }
}

impl<T: AsRef<[u8]>> Eq for Secret<T> {}

impl From<String> for Secret<String> {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2".to_string());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
    }

    #[test]
    fn equality_compares_the_bytes() {
        assert_eq!(Secret::new("a".to_string()), Secret::new("a".to_string()));
        assert_ne!(Secret::new("a".to_string()), Secret::new("b".to_string()));
        assert_ne!(Secret::new("a".to_string()), Secret::new("ab".to_string()));
    }
}
