//! The per-client rate limiter (governor's keyed GCRA limiter): a budget per client address
//! (an IPv6 client per /64), kept across reloads while the budget is unchanged.
//! Must not: use another module of `http` but `client_key` (the state holds the limiter, and
//! the middleware in `rate_limit` reads it from the state).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use idp_provider_api::client_bucket;

use super::client_key::ClientKey;

/// The limiter: `per_minute` requests per client, with bursts up to the same number.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<ClientKey>,
    per_minute: u32,
}

impl RateLimit {
    /// `None` when `per_minute` is 0 (limits off).
    pub fn new(per_minute: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Self {
            limiter: RateLimiter::keyed(quota),
            per_minute,
        })
    }

    /// The budget it was made with (a reload keeps the limiter, and its counts, when this is
    /// unchanged).
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Forgets clients whose budget is full again, so the map does not grow without bound.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub(super) fn allow(&self, client: ClientKey) -> bool {
        let key = match client {
            ClientKey::Ip(ip) => ClientKey::Ip(client_bucket(ip)),
            opaque @ ClientKey::Opaque(_) => opaque,
        };
        self.limiter.check_key(&key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_bucket(a), client_bucket(b));
        assert_ne!(client_bucket(a), client_bucket(c));
        let v4: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(client_bucket(v4), v4);
    }

    #[test]
    fn the_budget_is_per_client() {
        let limit = RateLimit::new(2).expect("on");
        let a: IpAddr = "203.0.113.1".parse().expect("ip");
        let b: IpAddr = "203.0.113.2".parse().expect("ip");
        let (a, b) = (ClientKey::Ip(a), ClientKey::Ip(b));
        assert!(limit.allow(a.clone()) && limit.allow(a.clone()));
        assert!(!limit.allow(a));
        assert!(limit.allow(b));
        assert!(RateLimit::new(0).is_none(), "0 turns limiting off");
    }
}
