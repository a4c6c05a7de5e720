//! Sealing stored values: AES-256-GCM (ring) under keys from `[store] encryption_keys`, so
//! that whoever can read or write the shared store can neither read a login (its PKCE verifier,
//! nonce, success URL) nor make one up, nor move a value to another key.
//!
//! Layout of a sealed value:
//! `version (1 byte, 1) ‖ id length (1 byte) ‖ key id ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//! The associated data is [`DOMAIN`] ‖ NUL ‖ the store key the value lives under: a value copied
//! to another key no longer opens.
//!
//! Keys: the first of the list seals, every one opens, so a key is rotated by adding the new
//! one second, then promoting it to first, then dropping the old one once every login sealed
//! with it has expired (one `transaction_ttl_seconds`).
//!
//! Owns: key parsing, sealing and opening. Must not: log or print key material or plaintext
//! (`Debug` shows key ids only).

use std::fmt;

use data_encoding::BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// The associated-data domain: binds a value to this use (login transactions of idp-bridge,
/// layout version 1) as well as to its key.
pub const DOMAIN: &[u8] = b"idp-bridge/store/v1";

/// The layout version byte.
const VERSION: u8 = 1;

/// Bytes of key material: AES-256.
pub const KEY_BYTES: usize = 32;

/// Longest key id, in characters.
pub const MAX_ID_LEN: usize = 32;

/// Why an `encryption_keys` entry is refused. Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `id:` before the key.
    #[error(
        "must be \"<id>:<base64 of {KEY_BYTES} random bytes>\" (make one with `idp-bridge gen-key`)"
    )]
    Shape,
    /// The id is empty, too long or holds other characters than letters, digits, `-`, `_`, `.`.
    #[error(
        "the key id must be 1 to {MAX_ID_LEN} letters, digits, '-', '_' or '.' (it travels with every sealed value)"
    )]
    BadId,
    /// The key is not base64.
    #[error("key {0:?}: the key is not base64 (make one with `idp-bridge gen-key`)")]
    Base64(String),
    /// The key has the wrong length.
    #[error("key {id:?}: the key holds {len} bytes; AES-256-GCM needs exactly {KEY_BYTES}")]
    Length {
        /// The key id.
        id: String,
        /// Bytes found.
        len: usize,
    },
    /// Two entries share an id: a sealed value could not say which one opens it.
    #[error("key {0:?}: the id is used by an earlier entry; every key needs its own id")]
    Duplicate(String),
}

/// Why a stored value does not open. The caller treats every one of them as an unknown login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than its own header says.
    #[error("the sealed value is truncated")]
    Truncated,
    /// A layout this version does not know.
    #[error("the sealed value has layout version {0}, not {VERSION}")]
    Version(u8),
    /// Sealed with a key this gateway does not have (rotated out, or another deployment's).
    #[error("the sealed value names key {0:?}, which is not configured")]
    UnknownKey(String),
    /// The tag does not verify: tampered, moved to another key, or sealed with another key of
    /// the same id.
    #[error("the sealed value does not verify (tampered, moved, or another key with that id)")]
    Forged,
}

/// Why sealing failed (the system's random source failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot seal: the system random source failed")]
pub struct SealError;

/// One key.
#[derive(Clone)]
struct SealKey {
    id: String,
    key: LessSafeKey,
}

/// The configured keys, the sealing one first.
#[derive(Clone)]
pub struct SealKeys {
    keys: Vec<SealKey>,
    random: SystemRandom,
    /// SHA-256 of the entries in order, so that two key lists can be compared (a reload must
    /// not change them) without keeping the raw keys: ring's keys cannot be read back.
    fingerprint: [u8; 32],
}

impl PartialEq for SealKeys {
    /// The same ids and keys in the same order.
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl Eq for SealKeys {}

impl fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("SealKeys")
            .field("ids", &ids)
            .field("keys", &"[redacted]")
            .finish()
    }
}

impl SealKeys {
    /// Parses `"<id>:<base64 32 bytes>"` entries; the first seals. Returns one problem per bad
    /// entry, with its index; `None` for an empty list is the caller's to report.
    ///
    /// # Errors
    /// Every bad entry, as `(index, problem)`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, Vec<(usize, KeyError)>> {
        let mut keys: Vec<SealKey> = Vec::new();
        let mut problems = Vec::new();
        let mut fingerprint = Sha256::new();
        for (index, entry) in entries.iter().enumerate() {
            fingerprint.update(entry.as_ref().trim().as_bytes());
            fingerprint.update(b"\n");
            match parse_entry(entry.as_ref().trim()) {
                Ok(key) if keys.iter().any(|k| k.id == key.id) => {
                    problems.push((index, KeyError::Duplicate(key.id)));
                }
                Ok(key) => keys.push(key),
                Err(problem) => problems.push((index, problem)),
            }
        }
        if problems.is_empty() {
            Ok(Self {
                keys,
                random: SystemRandom::new(),
                fingerprint: fingerprint.finalize().into(),
            })
        } else {
            Err(problems)
        }
    }

    /// The key ids, the sealing one first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// Seals `plaintext` for the store key `store_key` with the first key.
    ///
    /// # Errors
    /// When the random source fails (or no key is configured, which parsing prevents).
    pub fn seal(&self, store_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = self.keys.first().ok_or(SealError)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SealError)?;
        let id = key.id.as_bytes();
        let id_len = u8::try_from(id.len()).map_err(|_| SealError)?;
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.push(id_len);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(store_key)),
                &mut body,
            )
            .map_err(|_| SealError)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value sealed for `store_key`.
    ///
    /// # Errors
    /// See [`OpenError`]: every one means the value is not a login this gateway made for that
    /// key.
    pub fn open(&self, store_key: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError::Truncated)?;
        if version != VERSION {
            return Err(OpenError::Version(version));
        }
        let (&id_len, rest) = rest.split_first().ok_or(OpenError::Truncated)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(OpenError::Truncated);
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let key = self
            .keys
            .iter()
            .find(|k| k.id.as_bytes() == id)
            .ok_or_else(|| OpenError::UnknownKey(String::from_utf8_lossy(id).into_owned()))?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Truncated)?;
        let mut body = body.to_vec();
        let plaintext = key
            .key
            .open_in_place(nonce, Aad::from(aad(store_key)), &mut body)
            .map_err(|_| OpenError::Forged)?;
        Ok(plaintext.to_vec())
    }
}

/// A fresh key entry, `"<id>:<base64 of 32 random bytes>"`, for `gen-key`.
///
/// # Errors
/// When the system random source fails.
pub fn generate(id: &str) -> Result<String, SealError> {
    let mut key = [0u8; KEY_BYTES];
    SystemRandom::new().fill(&mut key).map_err(|_| SealError)?;
    Ok(format!("{id}:{}", BASE64.encode(&key)))
}

fn aad(store_key: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DOMAIN.len() + 1 + store_key.len());
    aad.extend_from_slice(DOMAIN);
    aad.push(0);
    aad.extend_from_slice(store_key.as_bytes());
    aad
}

fn parse_entry(entry: &str) -> Result<SealKey, KeyError> {
    let (id, material) = entry.split_once(':').ok_or(KeyError::Shape)?;
    let valid_id = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_id {
        return Err(KeyError::BadId);
    }
    let bytes = BASE64
        .decode(material.trim().as_bytes())
        .map_err(|_| KeyError::Base64(id.to_string()))?;
    if bytes.len() != KEY_BYTES {
        return Err(KeyError::Length {
            id: id.to_string(),
            len: bytes.len(),
        });
    }
    let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::Length {
        id: id.to_string(),
        len: bytes.len(),
    })?;
    Ok(SealKey {
        id: id.to_string(),
        key: LessSafeKey::new(key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(entries: &[&str]) -> SealKeys {
        SealKeys::parse(entries).expect("keys")
    }

    fn fresh(id: &str) -> String {
        generate(id).expect("random")
    }

    /// A reload compares key lists (they are restart-only) without the raw keys.
    #[test]
    fn key_lists_are_equal_only_with_the_same_keys_in_the_same_order() {
        let (k1, k2) = (fresh("k1"), fresh("k2"));
        assert_eq!(keys(&[&k1, &k2]), keys(&[&k1, &k2]));
        assert_eq!(
            keys(&[&k1]),
            keys(&[&format!("  {k1}  ")]),
            "spaces are not a change"
        );
        assert_ne!(keys(&[&k1, &k2]), keys(&[&k2, &k1]), "another sealing key");
        assert_ne!(keys(&[&k1]), keys(&[&k1, &k2]));
        assert_ne!(
            keys(&[&k1]),
            keys(&[&fresh("k1")]),
            "the same id, another key"
        );
    }

    #[test]
    fn a_sealed_value_opens_under_its_key_and_hides_its_plaintext() {
        let k1 = keys(&[&fresh("k1")]);
        let sealed = k1.seal("p:tx:abc", b"the pkce verifier").expect("seal");
        assert_eq!(&sealed[..4], &[1, 2, b'k', b'1']);
        assert!(!sealed.windows(4).any(|w| w == b"pkce"));
        assert_eq!(
            k1.open("p:tx:abc", &sealed).expect("open"),
            b"the pkce verifier"
        );
        // A fresh nonce each time: sealing twice gives two values.
        assert_ne!(
            sealed,
            k1.seal("p:tx:abc", b"the pkce verifier").expect("seal")
        );
    }

    #[test]
    fn another_store_key_does_not_open_it() {
        let k1 = keys(&[&fresh("k1")]);
        let sealed = k1.seal("p:tx:abc", b"data").expect("seal");
        assert_eq!(k1.open("p:tx:abd", &sealed), Err(OpenError::Forged));
    }

    #[test]
    fn an_unknown_key_id_does_not_open_it() {
        let sealed = keys(&[&fresh("k1")]).seal("k", b"data").expect("seal");
        let other = keys(&[&fresh("k2")]);
        assert_eq!(
            other.open("k", &sealed),
            Err(OpenError::UnknownKey("k1".into()))
        );
        // Another key under the same id: the tag does not verify.
        assert_eq!(
            keys(&[&fresh("k1")]).open("k", &sealed),
            Err(OpenError::Forged)
        );
    }

    #[test]
    fn tampering_and_truncation_are_refused() {
        let k1 = keys(&[&fresh("k1")]);
        let sealed = k1.seal("k", b"data").expect("seal");
        for at in [4, 10, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1;
            assert_eq!(k1.open("k", &tampered), Err(OpenError::Forged), "byte {at}");
        }
        for len in [0, 1, 3, 4 + NONCE_LEN, sealed.len() - 17] {
            assert_eq!(
                k1.open("k", &sealed[..len]),
                Err(OpenError::Truncated),
                "{len} bytes"
            );
        }
        let mut version = sealed.clone();
        version[0] = 2;
        assert_eq!(k1.open("k", &version), Err(OpenError::Version(2)));
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let (old, new) = (fresh("old"), fresh("new"));
        let before = keys(&[&old]).seal("k", b"in flight").expect("seal");
        let rotated = keys(&[&new, &old]);
        assert_eq!(rotated.open("k", &before).expect("opens"), b"in flight");
        let after = rotated.seal("k", b"new login").expect("seal");
        assert_eq!(&after[2..5], b"new");
        assert_eq!(rotated.ids().collect::<Vec<_>>(), ["new", "old"]);
    }

    #[test]
    fn bad_entries_are_named_and_never_echo_the_key() {
        let short = format!("k2:{}", BASE64.encode(&[7u8; 16]));
        let good = fresh("k1");
        let problems = SealKeys::parse(&[
            good.as_str(),
            "no-colon",
            ":AAAA",
            "k3:not base64!",
            short.as_str(),
            good.as_str(),
            "bad id:AAAA",
        ])
        .expect_err("refused");
        assert_eq!(
            problems,
            vec![
                (1, KeyError::Shape),
                (2, KeyError::BadId),
                (3, KeyError::Base64("k3".into())),
                (
                    4,
                    KeyError::Length {
                        id: "k2".into(),
                        len: 16
                    }
                ),
                (5, KeyError::Duplicate("k1".into())),
                (6, KeyError::BadId),
            ]
        );
        let material = good.split_once(':').expect("id").1;
        for (_, problem) in &problems {
            assert!(!problem.to_string().contains(material));
        }
        let debug = format!("{:?}", keys(&[&good]));
        assert!(debug.contains("k1") && !debug.contains(material), "{debug}");
    }
}
