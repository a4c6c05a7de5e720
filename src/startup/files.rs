//! The process's open-file limit against the connections it may hold. Every connection is a
//! file descriptor, and a process with none left cannot `accept` at all: `[server]
//! max_connections` only keeps slow clients from starving the others while it is below that
//! limit. So serving begins by raising the soft limit (never past the hard one) to what the
//! connections need, and warns when the hard limit is too low for them.

/// Descriptors kept for everything but served connections: the listeners, the runtime, Redis,
/// the log, and the outbound connections (Appwrite, providers) of logins in flight.
pub const RESERVED: u64 = 1024;

/// Makes room for `connections` served at once (all listeners together), plus [`RESERVED`].
#[cfg(unix)]
pub fn make_room(connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = u64::try_from(connections)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVED);
    let limit = getrlimit(Resource::Nofile);
    // `None` is no limit at all.
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= needed {
        return;
    }
    let reachable = needed.min(limit.maximum.unwrap_or(u64::MAX));
    let raised = Rlimit {
        current: Some(reachable),
        maximum: limit.maximum,
    };
    let now = match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::info!(
                from = current,
                to = reachable,
                "raised the open-file limit for server.max_connections"
            );
            reachable
        }
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            current
        }
    };
    if now < needed {
        tracing::warn!(
            limit = now,
            needed,
            "the open-file limit is below what server.max_connections needs (its connections \
             on every listener, plus {RESERVED}); past it new connections fail instead of \
             waiting: raise the hard limit (ulimit -Hn, systemd LimitNOFILE=, docker --ulimit \
             nofile=) or lower server.max_connections"
        );
    }
}

/// No open-file limit to adjust on this platform.
#[cfg(not(unix))]
pub fn make_room(_connections: usize) {}

#[cfg(all(test, unix))]
mod tests {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    use super::{RESERVED, make_room};

    #[test]
    fn the_soft_limit_is_raised_to_fit_the_connections_but_never_past_the_hard_one() {
        let started = getrlimit(Resource::Nofile);
        // No room to test in: no hard limit, or one lower than the test needs.
        if started.maximum.is_none_or(|hard| hard < 2 * RESERVED + 100) {
            return;
        }
        // A low soft limit, as systemd gives services by default.
        let low = Rlimit {
            current: Some(RESERVED / 2),
            maximum: started.maximum,
        };
        setrlimit(Resource::Nofile, low).expect("lower the soft limit");
        make_room(100);
        let raised = getrlimit(Resource::Nofile);
        assert_eq!(raised.current, Some(100 + RESERVED));
        assert_eq!(
            raised.maximum, started.maximum,
            "the hard limit is left alone"
        );
        // Enough already: left as it is.
        make_room(10);
        assert_eq!(getrlimit(Resource::Nofile).current, Some(100 + RESERVED));
        // More than the hard limit allows: up to the hard limit (and a warning).
        make_room(usize::MAX);
        assert_eq!(getrlimit(Resource::Nofile).current, started.maximum);
    }
}
