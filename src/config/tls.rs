//! `[tls]`: outbound HTTPS only (the gateway itself serves plain HTTP behind a proxy). The
//! validated section is the providers' shared [`OutboundTls`].

use std::path::Path;

use idp_provider_api::OutboundTls;
use serde::Deserialize;

/// `[tls]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTls {
    /// A PEM bundle of extra CAs, relative paths from the config file's folder.
    extra_ca_file: Option<String>,
}

impl RawTls {
    /// Loads the trust roots (the system's, plus `extra_ca_file` resolved against `base`),
    /// reporting a failure through `p`.
    pub(super) fn validate(
        self,
        base: &Path,
        p: &mut impl FnMut(&str, String),
    ) -> Option<OutboundTls> {
        let extra_ca_file = self.extra_ca_file.as_deref().map(|file| base.join(file));
        OutboundTls::new(extra_ca_file.as_deref())
            .map_err(|e| {
                let key = if extra_ca_file.is_some() {
                    "tls.extra_ca_file"
                } else {
                    "tls"
                };
                p(key, e.to_string());
            })
            .ok()
    }
}
