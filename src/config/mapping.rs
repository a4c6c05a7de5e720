//! `[mapping]`: how identities become Appwrite users.

use idp_provider_api::Secret;
use serde::Deserialize;

use crate::login::user_id::IdKey;

/// `[mapping]`: how identities become Appwrite users.
#[derive(Debug, Clone)]
pub struct MappingConfig {
    /// Keys the derived user ids; changing it orphans every existing user.
    pub id_key: IdKey,
}

/// `[mapping]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMapping {
    id_key: Option<Secret<String>>,
}

impl RawMapping {
    /// Checks that the id key is given and long enough, reporting the problem through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<MappingConfig> {
        let id_key = match self.id_key {
            None => {
                p(
                    "mapping.id_key",
                    "is required (or mapping.id_key_file): a secret of at least 32 random bytes, base64, that keys the derived user ids; make one with `idp-bridge gen-key` or `openssl rand -base64 32`, and never change it once users exist".into(),
                );
                None
            }
            Some(text) => IdKey::parse(text.expose())
                .map_err(|e| p("mapping.id_key", e.to_string()))
                .ok(),
        };
        Some(MappingConfig { id_key: id_key? })
    }
}
