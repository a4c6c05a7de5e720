//! Watching the configuration file (`[server] config_watch_seconds`): a changed file is
//! reloaded without anyone sending SIGHUP, so a Kubernetes ConfigMap update needs no second
//! container in the pod (one that could signal the gateway would share its process namespace,
//! and could read its memory and secret files through `/proc`).
//!
//! Every N seconds the reloader reads the file once and hashes it. A checksum other than the
//! one last applied or refused is reloaded, from the bytes of that very read, when the next
//! check reads the same checksum again. A file replaced whole (renamed over, or a ConfigMap's
//! `..data` symlink swapped) is so applied one check later; a file caught halfway through a
//! write in place reads differently at the next check, so a half-written file is neither
//! applied nor refused. A refused file is not tried again until it changes (one refusal in the
//! log, not one per check), nor is the file a SIGHUP reload read. A file that cannot be read is
//! reported the same way: once, when two checks in a row could not read it.
//!
//! Only the configuration file is watched. Each reload reads the `*_file` secrets again, but a
//! change of a secret file alone needs SIGHUP (or a restart): which files are secrets is only
//! known once the configuration is parsed, and most of them (`id_key`, the store's keys and
//! URL) are restart-only anyway.
//!
//! Owns: when a check leads to a reload, and the checks' pace. Must not: read or parse the file
//! (the reloader reads it once per check and reloads exactly those bytes).

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};

use super::{ConfigFile, ReloadError};

/// What a check or a reload found at the configuration file's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A file, by its checksum.
    File(String),
    /// No file could be read.
    Unreadable,
}

impl Seen {
    /// What a read of the file found.
    pub fn of(read: &Result<ConfigFile, ReloadError>) -> Self {
        match read {
            Ok(file) => Self::File(file.checksum().to_string()),
            Err(_) => Self::Unreadable,
        }
    }
}

/// The watch of one configuration file: its pace, and what it last acted on.
#[derive(Debug)]
pub struct Watch {
    every: Duration,
    /// Started on the first check, inside the runtime.
    ticks: Option<Interval>,
    /// The file last applied or refused (first, the one `serve` started with).
    last: Seen,
    /// A change seen by the previous check, to be reloaded if this check sees it again.
    pending: Option<Seen>,
}

impl Watch {
    /// A check every `every`, from the file `serve` loaded (`loaded`, its checksum). The first
    /// check comes at once, so a change made while the gateway started is not missed.
    pub fn new(every: Duration, loaded: String) -> Self {
        Self {
            every,
            ticks: None,
            last: Seen::File(loaded),
            pending: None,
        }
    }

    /// The time between two checks.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// A check found `seen`: whether to reload it now (or report that it cannot be read). It is
    /// then taken as tried.
    pub fn checked(&mut self, seen: Seen) -> bool {
        if seen == self.last {
            self.pending = None;
            false
        } else if self.pending.as_ref() == Some(&seen) {
            self.tried(seen);
            true
        } else {
            self.pending = Some(seen);
            false
        }
    }

    /// A reload read `seen` (SIGHUP's, whatever its outcome): the watch leaves it alone until
    /// the file changes.
    pub fn tried(&mut self, seen: Seen) {
        self.last = seen;
        self.pending = None;
    }
}

/// Waits for the next check of `watch`; without a watch, forever. Checks that a slow reload
/// delayed are not made up in a burst.
pub(super) async fn next_check(watch: &mut Option<Watch>) {
    match watch {
        Some(watch) => {
            let every = watch.every;
            let ticks = watch.ticks.get_or_insert_with(|| {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                ticks
            });
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(checksum: &str) -> Seen {
        Seen::File(checksum.to_string())
    }

    fn watch() -> Watch {
        Watch::new(Duration::from_secs(1), "a".into())
    }

    #[test]
    fn a_change_is_reloaded_when_two_checks_in_a_row_see_it() {
        let mut watch = watch();
        assert!(!watch.checked(file("a")), "the file serve loaded");
        assert!(!watch.checked(file("b")), "seen once");
        assert!(watch.checked(file("b")), "seen twice: reload");
        assert!(!watch.checked(file("b")), "reloaded: left alone");
        assert!(!watch.checked(file("b")));
    }

    #[test]
    fn a_file_caught_mid_write_is_never_reloaded() {
        let mut watch = watch();
        // Each check reads another partial file, then the write ends where it began.
        for partial in ["", "[server]", "[server]\nlisten"] {
            assert!(!watch.checked(file(partial)), "{partial:?}");
        }
        assert!(!watch.checked(file("a")));
        assert!(!watch.checked(file("a")));
        // A change seen once, then another: only the one that stays is reloaded.
        assert!(!watch.checked(file("half")));
        assert!(!watch.checked(file("whole")));
        assert!(watch.checked(file("whole")));
    }

    #[test]
    fn a_refused_file_is_tried_once_until_it_changes_back_or_again() {
        let mut watch = watch();
        watch.checked(file("broken"));
        assert!(watch.checked(file("broken")), "tried (and refused)");
        for _ in 0..5 {
            assert!(!watch.checked(file("broken")), "not tried again");
        }
        // Back to the file serve started with: that is a change from the refused one.
        assert!(!watch.checked(file("a")));
        assert!(watch.checked(file("a")));
    }

    #[test]
    fn an_unreadable_file_is_reported_once() {
        let mut watch = watch();
        assert!(!watch.checked(Seen::Unreadable));
        assert!(watch.checked(Seen::Unreadable), "reported");
        assert!(!watch.checked(Seen::Unreadable));
        assert!(!watch.checked(Seen::Unreadable));
        assert!(!watch.checked(file("a")));
        assert!(watch.checked(file("a")), "readable again");
    }

    #[test]
    fn a_file_a_sighup_read_is_not_reloaded_by_the_watch() {
        let mut watch = watch();
        assert!(!watch.checked(file("b")), "seen once");
        watch.tried(file("b"));
        assert!(!watch.checked(file("b")));
        assert!(!watch.checked(file("b")));
        watch.tried(Seen::Unreadable);
        assert!(!watch.checked(Seen::Unreadable));
    }
}
