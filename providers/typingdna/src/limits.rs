//! Attempt limits of one provider: per client IP (IPv6 per /64) and per user, each a governor
//! keyed GCRA limiter with `n` attempts per minute and bursts of `n`. They live in the gateway
//! process, so with several instances each counts its own attempts.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ring::digest;

/// How many checks pass between two sweeps of idle keys.
const SWEEP_EVERY: u64 = 1024;

/// The two limiters.
pub(crate) struct Limits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    /// Keyed by a SHA-256 of the user key, so no email is held in memory for a minute.
    per_user: DefaultKeyedRateLimiter<[u8; 32]>,
    checks: AtomicU64,
}

impl Limits {
    /// `per_user` and `per_ip` attempts per minute.
    pub fn new(per_user: NonZeroU32, per_ip: NonZeroU32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(per_ip)),
            per_user: RateLimiter::keyed(Quota::per_minute(per_user)),
            checks: AtomicU64::new(0),
        }
    }

    /// Whether the client may try now. A request without a known address shares one budget
    /// (the unspecified address) rather than going unlimited.
    pub fn allow_ip(&self, ip: Option<IpAddr>) -> bool {
        self.sweep();
        let key = ip.map_or(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            idp_provider_api::client_bucket,
        );
        self.per_ip.check_key(&key).is_ok()
    }

    /// Whether the user named by `kind` and `key` (an email, an Appwrite user id) may try now.
    pub fn allow_user(&self, kind: &str, key: &str) -> bool {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(kind.as_bytes());
        ctx.update(b"\0");
        ctx.update(key.as_bytes());
        let mut hash = [0u8; 32];
        hash.copy_from_slice(ctx.finish().as_ref());
        self.per_user.check_key(&hash).is_ok()
    }

    /// Forgets keys whose budget is full again, now and then, so the maps stay bounded by the
    /// keys seen within a minute.
    fn sweep(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.per_ip.retain_recent();
            self.per_ip.shrink_to_fit();
            self.per_user.retain_recent();
            self.per_user.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(user: u32, ip: u32) -> Limits {
        Limits::new(
            NonZeroU32::new(user).expect("non-zero"),
            NonZeroU32::new(ip).expect("non-zero"),
        )
    }

    #[test]
    fn each_ip_has_its_own_budget_and_ipv6_counts_per_64() {
        let l = limits(10, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "203.0.113.9".parse().expect("ip");
        assert!(l.allow_ip(Some(a)) && l.allow_ip(Some(same_64)));
        assert!(!l.allow_ip(Some(a)), "the /64 spent its budget");
        assert!(l.allow_ip(Some(other)));
        assert!(
            l.allow_ip(None) && l.allow_ip(None) && !l.allow_ip(None),
            "unknown shares one"
        );
    }

    #[test]
    fn each_user_has_its_own_budget() {
        let l = limits(1, 100);
        assert!(l.allow_user("email", "a@example.com"));
        assert!(!l.allow_user("email", "a@example.com"));
        assert!(l.allow_user("email", "b@example.com"));
        assert!(
            l.allow_user("user", "a@example.com"),
            "kinds do not share budgets"
        );
    }
}
