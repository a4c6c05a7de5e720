//! A JSON Web Key Set read for verification: each key parsed once, from the fetched document,
//! into its metadata and a [`PublicKey`]. A key that cannot be read stays in the set with the
//! reason, so a caller can say why it was not used.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::key::PublicKey;

/// One key of a set; see the module documentation.
#[derive(Debug, Clone)]
pub struct Jwk {
    kid: Option<String>,
    key_use: Option<String>,
    alg: Option<String>,
    key: Result<PublicKey, String>,
}

impl Jwk {
    /// Reads one JWK object.
    /// A `kid`, `use` or `alg` that is present but not a string makes the key unusable (its
    /// [`Jwk::key`] says why): read as absent, a `kid` would match any token's.
    pub fn from_json(json: &Value) -> Self {
        let text = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_string);
        let not_text = ["kid", "use", "alg"]
            .into_iter()
            .find(|name| json.get(*name).is_some_and(|v| !v.is_string()));
        Self {
            kid: text("kid"),
            key_use: text("use"),
            alg: text("alg"),
            key: match not_text {
                Some(name) => Err(format!("`{name}` is not a string")),
                None => PublicKey::from_jwk(json),
            },
        }
    }

    /// The `kid`, if it is a string.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `use` (`sig`, `enc`), if any.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The `alg` the key is restricted to, if any.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The key, or why it could not be read.
    pub fn key(&self) -> Result<&PublicKey, &str> {
        self.key.as_ref().map_err(String::as_str)
    }
}

/// A key set; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// The keys, in the document's order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The first key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid() == Some(kid))
    }
}

impl<'de> Deserialize<'de> for KeySet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document = Document::deserialize(deserializer)?;
        Ok(Self {
            keys: document.keys.iter().map(Jwk::from_json).collect(),
        })
    }
}
