//! Durable consultation state.
//!
//! [`SessionStore`] is what the application needs from storage. The rules
//! (record envelope and schema version, what a change does to the indexes,
//! the counters and the expiry index, which TTL applies) live once, in
//! [`rules`] (pure) and [`engine`] (the optimistic read-plan-commit loop);
//! a backend is a small transactional primitive ([`engine::Backend`]):
//! [`sled`] (embedded, one process; its durability point is the write-ahead
//! [`journal`]) and [`postgres`] (several instances).
//!
//! The contract every backend keeps:
//! - one record per consultation, with a schema version and a version that
//!   every change bumps;
//! - an index from (owner, scope) to the active session, from owner to all
//!   of their sessions (for "forget me"), and from expiry time to session (so
//!   the sweep reads only what is due);
//! - every change is atomic (record, indexes and counters together) and
//!   durable before the method returns, with exactly one sync per change, so
//!   once a user sees the next question their answer survives a crash;
//! - concurrent updates of one session never lose a write: the update closure
//!   runs against the latest committed state and runs again on conflict.

pub mod engine;
pub mod journal;
pub mod postgres;
pub mod rules;
pub mod sled;

pub use self::engine::{Backend, Store};
pub use self::postgres::{PgOptions, PgStore};
pub use self::sled::{Durability, SledOptions, SledStore};

/// Prometheus counter of optimistic transaction retries (label `backend`).
pub const TX_RETRIES_METRIC: &str = "framework_advisor_store_tx_retries_total";

use std::collections::BTreeMap;

use thiserror::Error;

use crate::domain::session::{EngineError, Session};

/// Version of the record layout written by this build.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum StoreError {
    /// Opening failed: locked by another instance, unreadable, or corrupt.
    /// The message names the path; `main` prints it as one line.
    #[error("cannot open the session store at {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("session store I/O: {0}")]
    Io(String),
    /// A record that does not decode (written by a newer build, or damaged).
    #[error("session record {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
    /// The database was migrated by a newer build than this one.
    #[error("the database schema is version {found}, newer than this build's {supported}: upgrade framework-advisor")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// What `start` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Started {
    /// The new session was stored and is now the owner's active one.
    New(Session),
    /// The owner already had an active session in that scope; it is returned
    /// unchanged and the new one was not stored.
    Existing(Session),
}

/// Counters for `/advisor stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub started: u64,
    pub completed: u64,
    /// Cancelled by the user, or expired while active.
    pub abandoned: u64,
    /// Outcome (framework id or `close_call`) -> completed sessions.
    pub outcomes: BTreeMap<String, u64>,
    /// Question id -> sessions abandoned while it was the current question.
    pub dropoff: BTreeMap<String, u64>,
    /// Sessions stored right now that are active.
    pub active: u64,
    /// Team consultations, counted apart from the private ones above.
    pub team: TeamStats,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamStats {
    pub started: u64,
    pub completed: u64,
    pub abandoned: u64,
    /// Distinct members who voted, summed over completed team sessions.
    pub participants: u64,
    /// Votes cast, summed over completed team sessions.
    pub votes: u64,
}

/// The application's view of storage. Object-safe so it can be injected.
pub trait SessionStore: Send + Sync {
    /// Stores `session` as the active one of its (owner, scope), unless one
    /// is active there already.
    fn start(&self, session: Session) -> Result<Started, StoreError>;

    fn get(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// The active session of `owner` in `scope`, if any.
    fn active(&self, owner: &str, scope: &str) -> Result<Option<Session>, StoreError>;

    /// Runs `change` on the latest state of session `id` and stores the
    /// result atomically (retrying on a concurrent change). `Ok(None)`: no
    /// such session. `Ok(Some(Err(_)))`: `change` refused, nothing stored.
    fn update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session) -> Result<(), EngineError>,
    ) -> Result<Option<Result<Session, EngineError>>, StoreError>;

    /// Deletes every session of `owner` and their index entries; returns how many.
    fn delete_owner(&self, owner: &str) -> Result<usize, StoreError>;

    /// Deletes sessions not touched for their TTL (`team_ttl_secs` for team
    /// sessions); active ones count as abandoned and are returned, so the
    /// adapter can tell their users.
    fn sweep_expired(&self, now: i64, ttl_secs: i64, team_ttl_secs: i64) -> Result<Vec<Session>, StoreError>;

    fn stats(&self) -> Result<Stats, StoreError>;

    /// Small named values (e.g. the hash of the registered commands).
    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Takes (or renews) the lease `name` for `holder` until `now + ttl_secs`,
    /// unless another holder's lease is still running: one sweeper and one
    /// command sync across instances. `Ok(false)`: someone else holds it.
    fn try_lock(&self, name: &str, holder: &str, now: i64, ttl_secs: i64) -> Result<bool, StoreError>;
    /// Gives the lease back early (a no-op unless `holder` holds it).
    fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// Optimistic transactions run again because of a conflict, since start.
    fn tx_retries(&self) -> u64;

    /// Makes everything written so far durable (used on shutdown).
    fn flush(&self) -> Result<(), StoreError>;
}

/// Opens the configured backend (sled at `path`, or PostgreSQL at `url`,
/// migrating it).
pub fn open(config: &crate::config::StorageConfig) -> Result<std::sync::Arc<dyn SessionStore>, StoreError> {
    Ok(match config.backend {
        crate::config::StorageBackend::Sled => {
            std::sync::Arc::new(SledStore::open_with(&config.path, config.sled_options())?)
        }
        crate::config::StorageBackend::Postgres => std::sync::Arc::new(PgStore::connect(&config.pg_options())?),
    })
}
