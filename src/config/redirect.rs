//! `[redirect]`: where browsers may be sent and how the secret travels. The validated section
//! is the login pipeline's [`RedirectConfig`].

use serde::Deserialize;

use crate::return_urls::{AllowList, Delivery, RedirectConfig};

/// `[redirect]` as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRedirect {
    allowed: Vec<String>,
    delivery: Delivery,
}

impl RawRedirect {
    /// Parses the allow-list, reporting each refused entry through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<RedirectConfig> {
        let allowed = match AllowList::parse(&self.allowed) {
            Ok(list) => Some(list),
            Err(reasons) => {
                for reason in reasons {
                    p("redirect.allowed", reason);
                }
                None
            }
        };
        Some(RedirectConfig {
            allowed: allowed?,
            delivery: self.delivery,
        })
    }
}
