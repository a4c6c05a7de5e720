//! `[rate_limit]`: per-client-IP limits on the login routes.

use serde::Deserialize;

use super::in_range;

/// `[rate_limit]`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitConfig {
    /// Requests to start, callback and exchange per client IP per minute (back-channel logout
    /// is not limited); 0 turns it off.
    pub per_ip_per_minute: u32,
}

/// `[rate_limit]` as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawRateLimit {
    per_ip_per_minute: i64,
}

impl Default for RawRateLimit {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 120,
        }
    }
}

impl RawRateLimit {
    /// Checks the budget, reporting a problem through `p`.
    pub(super) fn validate(self, p: &mut impl FnMut(&str, String)) -> Option<RateLimitConfig> {
        let per_minute = in_range(
            p,
            "rate_limit.per_ip_per_minute",
            self.per_ip_per_minute,
            0,
            1_000_000,
        );
        Some(RateLimitConfig {
            per_ip_per_minute: u32::try_from(per_minute?).ok()?,
        })
    }
}
