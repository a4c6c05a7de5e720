//! The emulator's clock: real time ([`SystemTime`]) plus an offset tests can move forward.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// Wall clock with a test-controlled forward offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    /// The emulator's "now": the real time plus every [`Clock::advance`] so far.
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + *self.offset.lock().expect("clock mutex poisoned")
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().expect("clock mutex poisoned") += by;
    }
}

/// Formats a time the way Appwrite does: `2020-10-15T06:38:00.000+00:00`.
pub fn iso8601(time: SystemTime) -> String {
    let dt: DateTime<Utc> = time.into();
    dt.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// Formats a time for a `Set-Cookie` `expires` attribute (RFC 7231 IMF-fixdate).
pub fn http_date(time: SystemTime) -> String {
    let dt: DateTime<Utc> = time.into();
    dt.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_format_matches_appwrite() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_602_743_880_123);
        assert_eq!(iso8601(t), "2020-10-15T06:38:00.123+00:00");
        assert_eq!(http_date(t), "Thu, 15 Oct 2020 06:38:00 GMT");
    }

    #[test]
    fn advance_moves_now() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        let after = clock.now();
        assert!(after.duration_since(before).unwrap() >= Duration::from_secs(3600));
    }
}
