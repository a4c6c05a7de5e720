//! The logout token on the wire: its JOSE header and claims as they are read ([`Header`],
//! [`Payload`], [`Audiences`]), the strict base64url segment and JSON object readers, and the
//! `typ` values accepted. Parsing only: a value read here is checked by the parent module.
//! Must not: verify a signature or judge a claim's value; accept a repeated member, an array for
//! an object, or lax base64.

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The JOSE header fields read (a derived struct refuses a repeated one).
#[derive(Deserialize)]
pub(super) struct Header {
    pub(super) alg: String,
    #[serde(default)]
    pub(super) kid: Option<String>,
    #[serde(default)]
    pub(super) typ: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub(super) crit: bool,
    #[serde(default, deserialize_with = "present")]
    pub(super) cty: bool,
    #[serde(default, deserialize_with = "present")]
    pub(super) zip: bool,
}

/// The claims read; every other claim is ignored. A repeated one fails the parse.
#[derive(Deserialize)]
pub(super) struct Payload {
    #[serde(default)]
    pub(super) iss: Option<String>,
    #[serde(default)]
    pub(super) aud: Option<Audiences>,
    #[serde(default)]
    pub(super) azp: Option<String>,
    #[serde(default)]
    pub(super) iat: Option<f64>,
    #[serde(default)]
    pub(super) exp: Option<f64>,
    #[serde(default)]
    pub(super) nbf: Option<f64>,
    #[serde(default)]
    pub(super) jti: Option<String>,
    #[serde(default)]
    pub(super) sub: Option<String>,
    #[serde(default)]
    pub(super) sid: Option<String>,
    #[serde(default)]
    pub(super) events: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(super) nonce: bool,
    #[serde(default)]
    pub(super) tid: Option<Value>,
}

/// `aud`: one string or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Audiences {
    One(String),
    Many(Vec<String>),
}

/// `true` whenever the member is there, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// A strict base64url segment (no padding, no stray bits).
pub(super) fn segment(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// A JSON object (a derived struct would also read an array) into `T`.
pub(super) fn object<T: serde::de::DeserializeOwned>(json: &[u8]) -> Option<T> {
    (json.trim_ascii_start().first() == Some(&b'{'))
        .then(|| serde_json::from_slice(json).ok())
        .flatten()
}

/// Whether `typ` names a JWT or a logout token (RFC 7515: a media type, case-insensitive,
/// `application/` may be left out).
pub(super) fn logout_typ(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    matches!(typ, "jwt" | "logout+jwt")
}
