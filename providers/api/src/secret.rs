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

/// Reads a secret from configuration. Errors never show the value: a type error names only the
/// type found. A bare number or boolean (which environment overrides produce for digit-only
/// values, dropping leading zeros) is refused rather than silently turned into different text.
impl<'de> serde::Deserialize<'de> for Secret<String> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Secret<String>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (quote values that look like numbers, or use the _file key)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Secret(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Secret(v))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Err(E::invalid_type(
                    serde::de::Unexpected::Other("a number"),
                    &self,
                ))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Err(E::invalid_type(
                    serde::de::Unexpected::Other("a number"),
                    &self,
                ))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Err(E::invalid_type(
                    serde::de::Unexpected::Other("a number"),
                    &self,
                ))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Err(E::invalid_type(
                    serde::de::Unexpected::Other("a boolean"),
                    &self,
                ))
            }
        }
        deserializer.deserialize_any(Text)
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
    fn type_errors_never_show_the_value() {
        let ok: Secret<String> = serde_json::from_str(r#""s3cret""#).expect("a string");
        assert_eq!(ok.expose(), "s3cret");
        for raw in ["98765432109876", "true", "1.5"] {
            let err = serde_json::from_str::<Secret<String>>(raw)
                .unwrap_err()
                .to_string();
            assert!(!err.contains(raw), "{err}");
            assert!(err.contains("expected a string"), "{err}");
        }
    }

    #[test]
    fn equality_compares_the_bytes() {
        assert_eq!(Secret::new("a".to_string()), Secret::new("a".to_string()));
        assert_ne!(Secret::new("a".to_string()), Secret::new("b".to_string()));
        assert_ne!(Secret::new("a".to_string()), Secret::new("ab".to_string()));
    }
}
