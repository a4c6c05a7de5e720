//! `[audit]`: the audit events' own file and whether they name the email. The validated
//! section is [`AuditConfig`], which the audit emitter and the log setup read.

use std::path::Path;

use serde::Deserialize;

use crate::audit::AuditConfig;

/// `[audit]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAudit {
    /// Also append every audit event to this file; relative paths from the config file's
    /// folder.
    file: Option<String>,
    /// Add the email the provider asserted to audit events.
    include_email: bool,
}

impl RawAudit {
    /// Resolves `file` against `base` and opens it for appending (creating it, empty, when
    /// missing) exactly as `serve` will, so that a path the gateway cannot write is refused
    /// here, naming `audit.file`: by `check-config` and before `serve` starts.
    pub(super) fn validate(
        self,
        base: &Path,
        p: &mut impl FnMut(&str, String),
    ) -> Option<AuditConfig> {
        let file = match self.file.as_deref().map(str::trim) {
            None => None,
            Some("") => {
                p(
                    "audit.file",
                    "is empty; leave it out to write audit events to the log only".into(),
                );
                return None;
            }
            Some(file) => {
                let path = base.join(file);
                if let Err(error) = crate::audit::file::open(&path) {
                    p(
                        "audit.file",
                        format!("cannot open {} for appending: {error}", path.display()),
                    );
                    return None;
                }
                Some(path)
            }
        };
        Some(AuditConfig {
            file,
            include_email: self.include_email,
        })
    }
}
