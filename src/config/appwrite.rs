//! `[appwrite]`: the project and the server key the gateway mints with. The validated section
//! is the Appwrite client's own [`AppwriteConfig`].

use std::time::Duration;

use idp_provider_api::Secret;
use serde::Deserialize;

use super::in_range;
use crate::appwrite::{AppwriteConfig, ProjectId, parse_endpoint};

/// `[appwrite]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAppwrite {
    endpoint: Option<String>,
    project: Option<String>,
    api_key: Option<Secret<String>>,
    timeout_ms: i64,
}

impl Default for RawAppwrite {
    fn default() -> Self {
        Self {
            endpoint: None,
            project: None,
            api_key: None,
            timeout_ms: 5000,
        }
    }
}

impl RawAppwrite {
    /// Checks the endpoint (the API base ending in `/v1`), the project id, the key and the
    /// timeout, reporting each problem through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<AppwriteConfig> {
        let endpoint = match &self.endpoint {
            None => {
                p("appwrite.endpoint", "is required".into());
                None
            }
            Some(text) => parse_endpoint(text)
                .map_err(|e| p("appwrite.endpoint", e.to_string()))
                .ok(),
        };
        let project = match self.project.as_deref() {
            None | Some("") => {
                p("appwrite.project", "is required".into());
                None
            }
            Some(id) => ProjectId::parse(id)
                .map_err(|_| {
                    p(
                        "appwrite.project",
                        format!("{id:?} is not a valid Appwrite project id"),
                    )
                })
                .ok(),
        };
        let api_key = match self.api_key {
            Some(key) if !key.expose().is_empty() => Some(key),
            _ => {
                p(
                    "appwrite.api_key",
                    "is required (or appwrite.api_key_file); it needs users.read and users.write"
                        .into(),
                );
                None
            }
        };
        let timeout_ms = in_range(p, "appwrite.timeout_ms", self.timeout_ms, 100, 60_000);
        Some(AppwriteConfig {
            endpoint: endpoint?,
            project: project?,
            api_key: api_key?,
            timeout: Duration::from_millis(timeout_ms?),
        })
    }
}
