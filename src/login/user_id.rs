//! Appwrite user ids and link labels derived from an external identity under a secret key
//! (docs/reference/user-ids.md).
//!
//! Why a key: Appwrite's client API lets anyone create an account with a chosen id
//! (`POST /v1/account`, `/v1/account/tokens/email`, `/magic-url`, `/phone`). An id that anyone
//! could compute from the issuer and the subject could be created first by an attacker, with the
//! attacker's email, and a later first login of the victim would land in it. Under
//! `[mapping] id_key` nobody without the key knows the id before the gateway creates the user.

use std::fmt;

use data_encoding::{BASE32_NOPAD, BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::appwrite::id::APPWRITE_ID_MAX;

/// The label marking a user this gateway created for an external identity. Only a server key
/// can write labels, while anyone can create an account with a chosen id through the client API;
/// the label (with the keyed id) is what shows that a user with a derived id is the identity's
/// and not a squatter's.
pub const OWNER_LABEL: &str = "idpbridge";

/// Whether `label` is one of the gateway's own: [`OWNER_LABEL`] or a [`LinkLabel`] of any
/// identity. An access policy keeps these on every user and never writes one from its
/// configuration or from a claim (a claim value shaped like a link label would tie the user to
/// another identity).
pub fn is_gateway_label(label: &str) -> bool {
    label == OWNER_LABEL || LinkLabel::is_link_label(label)
}

/// Fewest key bytes `[mapping] id_key` may hold (the HMAC-SHA256 block security level).
pub const ID_KEY_MIN_BYTES: usize = 32;
/// First character of a derived user id.
const ID_PREFIX: char = 'u';
/// First character of a link label (an email link recorded on a user the gateway did not create).
const LINK_PREFIX: char = 'l';
/// Domain separation of link labels from user ids (no issuer is this string).
const LINK_DOMAIN: &str = "idp-bridge link label";

/// Why an `id_key` was refused. Never shows the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdKeyError {
    /// Not base64 (standard or URL-safe, padded or not).
    #[error("is not base64 (make one with `idp-bridge gen-key` or `openssl rand -base64 32`)")]
    NotBase64,
    /// Too short to key HMAC-SHA256 safely.
    #[error(
        "holds {0} bytes; at least {ID_KEY_MIN_BYTES} random bytes are needed (`idp-bridge gen-key`)"
    )]
    TooShort(usize),
}

/// The secret key of the derived ids (`[mapping] id_key`). Never printed.
#[derive(Clone)]
pub struct IdKey(hmac::Key);

impl fmt::Debug for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdKey([redacted])")
    }
}

/// Two keys are equal when they derive the same ids: compared through the id of a fixed probe
/// (175 bits of HMAC output), so the key bytes themselves are never compared or kept twice.
impl PartialEq for IdKey {
    fn eq(&self, other: &Self) -> bool {
        const PROBE: &[&str] = &["idp-bridge/id-key-comparison"];
        self.digest(PROBE) == other.digest(PROBE)
    }
}

impl Eq for IdKey {}

impl IdKey {
    /// Decodes a base64 key of at least [`ID_KEY_MIN_BYTES`] bytes.
    ///
    /// # Errors
    /// When `text` is not base64 or decodes to too few bytes.
    pub fn parse(text: &str) -> Result<Self, IdKeyError> {
        let text = text.trim();
        let bytes = [BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD]
            .iter()
            .find_map(|encoding| encoding.decode(text.as_bytes()).ok())
            .ok_or(IdKeyError::NotBase64)?;
        if bytes.len() < ID_KEY_MIN_BYTES {
            return Err(IdKeyError::TooShort(bytes.len()));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// A new random key of [`ID_KEY_MIN_BYTES`] bytes, base64 (what `idp-bridge gen-key` prints).
    ///
    /// # Errors
    /// When the operating system's random source fails.
    pub fn generate() -> Result<String, ring::error::Unspecified> {
        let mut bytes = [0u8; ID_KEY_MIN_BYTES];
        SystemRandom::new().fill(&mut bytes)?;
        Ok(BASE64.encode(&bytes))
    }

    /// Lowercase base32 of HMAC-SHA256(key, parts joined by NUL), cut to 35 characters. The NUL
    /// keeps (`a`, `bc`) and (`ab`, `c`) apart; issuers are URLs (or `hmac:{id}`) and hold none.
    fn digest(&self, parts: &[&str]) -> String {
        let mut mac = hmac::Context::with_key(&self.0);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0u8]);
            }
            mac.update(part.as_bytes());
        }
        let mut encoded = BASE32_NOPAD
            .encode(mac.sign().as_ref())
            .to_ascii_lowercase();
        encoded.truncate(APPWRITE_ID_MAX - 1);
        encoded
    }

    /// The Appwrite user id of (issuer, subject): HMAC over issuer ‖ NUL ‖ subject.
    pub fn user_id(&self, issuer: &str, subject: &str) -> AppwriteUserId {
        AppwriteUserId(format!("{ID_PREFIX}{}", self.digest(&[issuer, subject])))
    }

    /// The label recording that an existing Appwrite user was linked by email to (issuer,
    /// subject): HMAC over [`LINK_DOMAIN`] ‖ NUL ‖ issuer ‖ NUL ‖ subject, so that the label,
    /// which the account's owner can read, does not give away the derived id.
    pub fn link_label(&self, issuer: &str, subject: &str) -> LinkLabel {
        LinkLabel(format!(
            "{LINK_PREFIX}{}",
            self.digest(&[LINK_DOMAIN, issuer, subject])
        ))
    }
}

/// `prefix` + 35 lowercase base32 characters: the shape of derived ids and link labels.
fn has_derived_shape(text: &str, prefix: char) -> bool {
    text.len() == APPWRITE_ID_MAX
        && text.starts_with(prefix)
        && text[1..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// An Appwrite user id derived from an identity; only [`IdKey::user_id`] makes one.
///
/// `u` + 35 lowercase base32 characters, 36 in all: valid under every Appwrite id rule
/// (letters and digits only, starts with a letter), stable, the same on every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppwriteUserId(String);

impl AppwriteUserId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `id` has the shape of a derived id, i.e. belongs to an external identity.
    /// Appwrite's own `unique()` ids are 20 hex characters.
    pub fn is_derived(id: &str) -> bool {
        has_derived_shape(id, ID_PREFIX)
    }
}

/// A label that records an email link; only [`IdKey::link_label`] makes one. Labels are
/// alphanumeric and at most 36 characters, which `l` + 35 base32 characters is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLabel(String);

impl LinkLabel {
    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `label` records a link to some identity (this one or another).
    pub fn is_link_label(label: &str) -> bool {
        has_derived_shape(label, LINK_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appwrite::id::is_valid_appwrite_id;

    fn key() -> IdKey {
        IdKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("32 bytes")
    }

    #[test]
    fn derived_ids_are_valid_stable_and_distinct() {
        let key = key();
        let a = key.user_id("https://idp.example.com/", "alice");
        assert_eq!(a.as_str().len(), 36);
        assert!(AppwriteUserId::is_derived(a.as_str()));
        assert!(is_valid_appwrite_id(a.as_str()));
        assert_eq!(a, key.user_id("https://idp.example.com/", "alice"));
        assert_ne!(a, key.user_id("https://idp.example.com", "alice"));
        assert_ne!(key.user_id("a", "bc"), key.user_id("ab", "c"));
        let label = key.link_label("https://idp.example.com/", "alice");
        assert!(LinkLabel::is_link_label(label.as_str()));
        assert!(label.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(
            label.as_str()[1..],
            a.as_str()[1..],
            "the label does not give away the id"
        );
    }

    #[test]
    fn the_key_changes_every_id() {
        let other =
            IdKey::parse(&IdKey::generate().expect("random")).expect("generated keys parse");
        assert_ne!(key().user_id("iss", "sub"), other.user_id("iss", "sub"));
    }

    #[test]
    fn a_known_vector() {
        // Computed independently with Python: hmac.new(bytes(range(32)), b"iss\0sub",
        // hashlib.sha256), base64.b32encode, lowercased, first 35 characters. Pinned so the
        // mapping of existing users never changes by accident.
        assert_eq!(
            key().user_id("iss", "sub").as_str(),
            "uo5kkxa5ydqvugjqetkaggvyhqhgtuvnjav7"
        );
    }

    #[test]
    fn keys_must_be_base64_and_long_enough() {
        assert_eq!(
            IdKey::parse("not base64!").map(|_| ()),
            Err(IdKeyError::NotBase64)
        );
        assert_eq!(
            IdKey::parse("c2hvcnQ=").map(|_| ()),
            Err(IdKeyError::TooShort(5))
        );
        assert!(IdKey::parse(&IdKey::generate().expect("random")).is_ok());
        // URL-safe and unpadded forms are accepted too.
        assert!(IdKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").is_ok());
        assert!(!format!("{:?}", key()).contains("AAEC"));
    }
}
