//! State shared between the HTTP handlers and the [`crate::Emulator`] handle.

use std::sync::{Mutex, MutexGuard};

use crate::EmulatorConfig;
use crate::calls::CallLog;
use crate::clock::Clock;
use crate::faults::FaultSet;
use crate::model::{JwtRecord, SentMessage, SessionRecord, StoredToken, UserRecord};

/// The emulated project's data.
#[derive(Debug, Default)]
pub(crate) struct Db {
    /// Users in creation order (Appwrite's default `$sequence` order).
    pub users: Vec<UserRecord>,
    pub tokens: Vec<StoredToken>,
    pub sessions: Vec<SessionRecord>,
    /// Account JWTs issued by `POST /v1/users/{userId}/jwts`.
    pub jwts: Vec<JwtRecord>,
    /// Emails and SMS "sent" by the client token routes, oldest first.
    pub messages: Vec<SentMessage>,
}

impl Db {
    pub fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn user_mut(&mut self, id: &str) -> Option<&mut UserRecord> {
        self.users.iter_mut().find(|u| u.id == id)
    }
}

/// Everything a request handler can reach.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub clock: Clock,
    pub db: Mutex<Db>,
    pub calls: CallLog,
    pub faults: FaultSet,
}

impl Shared {
    pub fn new(config: EmulatorConfig) -> Self {
        Self {
            config,
            clock: Clock::default(),
            db: Mutex::new(Db::default()),
            calls: CallLog::default(),
            faults: FaultSet::default(),
        }
    }

    /// Locks the database. A poisoned lock means a handler panicked: a bug, so panic too.
    pub fn db(&self) -> MutexGuard<'_, Db> {
        self.db.lock().expect("emulator db mutex poisoned")
    }
}
