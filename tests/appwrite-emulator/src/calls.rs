//! The call log: every request the emulator received, in arrival order.

use std::sync::Mutex;

/// One request received by the emulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request path, including the `/v1` prefix.
    pub path: String,
    /// Raw (still percent-encoded) query string, empty when there is none.
    pub query: String,
    /// Response status; `0` when no response was sent (a `Fault::Drop`, or still in flight).
    pub status: u16,
}

/// Thread-safe call log. Entries are pushed on arrival and get their status when answered.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    entries: Vec<(u64, Call)>,
}

impl CallLog {
    /// Records a new request (status 0) and returns its sequence number.
    pub fn push(&self, method: &str, path: &str, query: &str) -> u64 {
        let mut inner = self.inner.lock().expect("call log mutex poisoned");
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.entries.push((
            seq,
            Call {
                method: method.to_owned(),
                path: path.to_owned(),
                query: query.to_owned(),
                status: 0,
            },
        ));
        seq
    }

    /// Sets the status of request `seq` (no-op if the log was cleared meanwhile).
    pub fn set_status(&self, seq: u64, status: u16) {
        let mut inner = self.inner.lock().expect("call log mutex poisoned");
        // From the newest end: the request answered is nearly always among the last ones, and
        // a long log (a benchmark's) would make every answer a scan of all of it.
        if let Some((_, call)) = inner.entries.iter_mut().rev().find(|(s, _)| *s == seq) {
            call.status = status;
        }
    }

    /// A snapshot of all calls, oldest first.
    pub fn snapshot(&self) -> Vec<Call> {
        let inner = self.inner.lock().expect("call log mutex poisoned");
        inner.entries.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Forgets every call.
    pub fn clear(&self) {
        self.inner
            .lock()
            .expect("call log mutex poisoned")
            .entries
            .clear();
    }
}
