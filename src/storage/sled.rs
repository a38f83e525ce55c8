//! The sled backend: embedded, one process (sled locks its directory).
//!
//! Trees (all in one database, so one transaction covers them):
//! - `sessions`: session id -> record (see [`rules::encode`])
//! - `active`:   `owner \0 scope` -> session id (the one in progress)
//! - `by_owner`: `owner \0 session id` -> scope (everything a user has)
//! - `expiry`:   [`ExpiryKey::to_bytes`] -> nothing (the sweep's index)
//! - `stats`:    `name \0 shard` -> i64 big-endian (sharded counters; keys
//!   without a shard were written by builds before sharding, and still count)
//! - `meta`:     small named values, leases, and `storage:layout`
//!
//! Durability: sled makes a flush durable with `pwrite` + `sync_file_range`
//! (`pagecache/iobuf.rs`), which survives `kill -9` but flushes neither the
//! device cache nor the file's metadata. [`Durability::Power`] adds an
//! `fdatasync` of sled's log file (`<path>/db`, see `Config::db_path` in
//! sled's `config.rs`) after each flush: an fsync through any descriptor
//! flushes the file.

use std::cell::Cell;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ::sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use ::sled::{Db, Tree};
use serde::{Deserialize, Serialize};

use super::engine::{Backend, Store};
use super::rules::{self, ActiveWrite, ExpiryKey, ExpiryWrite, Kind, OwnerWrite, WriteSet};
use super::StoreError;
use crate::domain::session::Status;

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// What a flush protects against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Survives the process being killed (the OS still holds the data).
    Process,
    /// Also survives a power cut or a crashed VM: an `fdatasync` after the flush.
    #[default]
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SledOptions {
    /// sled's page cache bound in bytes (the main term of the process's memory).
    pub cache_capacity: u64,
    pub durability: Durability,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            // Sessions are small and a click reads one: a small cache suffices.
            cache_capacity: 16 * 1024 * 1024,
            durability: Durability::default(),
        }
    }
}

const SESSIONS: usize = 0;
const ACTIVE: usize = 1;
const BY_OWNER: usize = 2;
const EXPIRY: usize = 3;
const STATS: usize = 4;

/// The layout this build writes; older stores are upgraded on open.
const LAYOUT: &[u8] = b"2";
const LAYOUT_KEY: &str = "storage:layout";

pub struct SledBackend {
    db: Db,
    /// In the order of the constants above.
    trees: [Tree; 5],
    meta: Tree,
    /// sled's log file, for `fdatasync` under [`Durability::Power`].
    log: Option<File>,
    internal_retries: AtomicU64,
}

/// The store on sled. Cloning is not needed: share it in an `Arc`.
pub type SledStore = Store<SledBackend>;

/// A commit's expectation did not hold.
#[derive(Debug)]
struct Conflict;

fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

fn counter_key(name: &str, shard: u8) -> Vec<u8> {
    let mut k = key2(name, "");
    k.push(shard);
    k
}

fn counter_value(v: &[u8]) -> i64 {
    <[u8; 8]>::try_from(v).map_or(0, i64::from_be_bytes)
}

impl Store<SledBackend> {
    /// Opens (or creates) the store at `path` with the default options.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SledOptions::default())
    }

    /// Opens (or creates) the store at `path`. A second process on the same
    /// directory gets an `Open` error naming the path (sled holds a file lock).
    pub fn open_with(path: &Path, options: SledOptions) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        let db = ::sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_capacity)
            .open()
            .map_err(|e| open_error(e.to_string()))?;
        let log = match options.durability {
            Durability::Process => None,
            Durability::Power => {
                Some(File::open(path.join("db")).map_err(|e| open_error(format!("sled's log file: {e}")))?)
            }
        };
        Ok(Store::new(SledBackend::from_db(db, log)?))
    }

    /// A store in a temporary directory removed on drop (tests, benches).
    pub fn temporary() -> Result<Self, StoreError> {
        Ok(Store::new(SledBackend::from_db(
            ::sled::Config::new().temporary(true).open()?,
            None,
        )?))
    }

    /// Flushes and returns when done; used on shutdown.
    pub fn close(&self) -> Result<(), StoreError> {
        self.backend().sync()
    }
}

impl SledBackend {
    fn from_db(db: Db, log: Option<File>) -> Result<Self, StoreError> {
        let trees = [
            db.open_tree("sessions")?,
            db.open_tree("active")?,
            db.open_tree("by_owner")?,
            db.open_tree("expiry")?,
            db.open_tree("stats")?,
        ];
        let meta = db.open_tree("meta")?;
        let backend = SledBackend {
            db,
            trees,
            meta,
            log,
            internal_retries: AtomicU64::new(0),
        };
        backend.upgrade_layout()?;
        Ok(backend)
    }

    /// Stores written before the expiry index and the active counter get
    /// both, once, from one pass over the records.
    fn upgrade_layout(&self) -> Result<(), StoreError> {
        if self.meta.get(LAYOUT_KEY)?.as_deref() == Some(LAYOUT) {
            return Ok(());
        }
        let mut active = 0i64;
        for item in self.trees[SESSIONS].iter() {
            let (key, bytes) = item?;
            let id = String::from_utf8_lossy(&key);
            match rules::decode(&id, &bytes) {
                Ok((session, _)) => {
                    self.trees[EXPIRY].insert(ExpiryKey::of(&session).to_bytes(), &[][..])?;
                    if session.status == Status::Active {
                        active += 1;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreadable record left out of the expiry index"),
            }
        }
        if active != 0 {
            self.trees[STATS].insert(counter_key(rules::counter::ACTIVE, 0), &active.to_be_bytes())?;
        }
        self.meta.insert(LAYOUT_KEY, LAYOUT)?;
        self.db.flush()?;
        Ok(())
    }

    fn apply(&self, ws: &WriteSet) -> Result<bool, StoreError> {
        let runs = Cell::new(0u32);
        let result = Transactional::<Conflict>::transaction(self.trees.as_slice(), |t| {
            runs.set(runs.get() + 1);
            let conflict = || ConflictableTransactionError::Abort(Conflict);
            for r in &ws.records {
                let current = t[SESSIONS].get(r.id.as_bytes())?;
                // An unreadable record never matches: the caller re-reads
                // and reports it.
                let version = current.map(|b| rules::version_of(&b).unwrap_or(u64::MAX));
                if version != r.expect {
                    return Err(conflict());
                }
                match &r.new {
                    Some((_, bytes)) => t[SESSIONS].insert(r.id.as_bytes(), bytes.as_slice())?,
                    None => t[SESSIONS].remove(r.id.as_bytes())?,
                };
            }
            for a in &ws.active {
                match a {
                    ActiveWrite::Claim {
                        owner,
                        scope,
                        id,
                        expect,
                    } => {
                        let k = key2(owner, scope);
                        let current = t[ACTIVE].get(&k)?;
                        if current.as_deref() != expect.as_deref().map(str::as_bytes) {
                            return Err(conflict());
                        }
                        t[ACTIVE].insert(k, id.as_bytes())?;
                    }
                    ActiveWrite::Release { owner, scope, id } => {
                        let k = key2(owner, scope);
                        if t[ACTIVE].get(&k)?.is_some_and(|v| v.as_ref() == id.as_bytes()) {
                            t[ACTIVE].remove(k)?;
                        }
                    }
                }
            }
            for o in &ws.owners {
                match o {
                    OwnerWrite::Add { owner, id, scope } => {
                        t[BY_OWNER].insert(key2(owner, id), scope.as_bytes())?;
                    }
                    OwnerWrite::Remove { owner, id } => {
                        t[BY_OWNER].remove(key2(owner, id))?;
                    }
                }
            }
            for e in &ws.expiry {
                match e {
                    ExpiryWrite::Add(k) => t[EXPIRY].insert(k.to_bytes(), &[][..])?,
                    ExpiryWrite::Remove(k) => t[EXPIRY].remove(k.to_bytes())?,
                };
            }
            for c in &ws.counters {
                let k = counter_key(&c.name, c.shard);
                let old = t[STATS].get(&k)?.map_or(0, |v| counter_value(&v));
                t[STATS].insert(k, &old.saturating_add(c.delta).to_be_bytes())?;
            }
            Ok(())
        });
        if runs.get() > 1 {
            self.internal_retries
                .fetch_add(u64::from(runs.get() - 1), Ordering::Relaxed);
            metrics::counter!(super::TX_RETRIES_METRIC, "backend" => "sled").increment(u64::from(runs.get() - 1));
        }
        match result {
            Ok(()) => Ok(true),
            Err(TransactionError::Abort(Conflict)) => Ok(false),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

impl Backend for SledBackend {
    fn name(&self) -> &'static str {
        "sled"
    }

    fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees[SESSIONS].get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    fn read_active(&self, owner: &str, scope: &str) -> Result<Option<String>, StoreError> {
        Ok(self.trees[ACTIVE]
            .get(key2(owner, scope))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn owner_sessions(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let prefix = key2(owner, "");
        self.trees[BY_OWNER]
            .scan_prefix(&prefix)
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?[prefix.len()..]).into_owned()))
            .collect()
    }

    fn expired(&self, kind: Kind, before: i64, limit: usize) -> Result<Vec<ExpiryKey>, StoreError> {
        let range = ExpiryKey::bound(kind, i64::MIN)..ExpiryKey::bound(kind, before);
        let mut out = Vec::new();
        for k in self.trees[EXPIRY].range(range).keys().take(limit) {
            let k = k?;
            match ExpiryKey::from_bytes(&k) {
                Some(key) => out.push(key),
                // Not written by this code; removing it keeps the sweep moving.
                None => {
                    self.trees[EXPIRY].remove(k)?;
                }
            }
        }
        Ok(out)
    }

    fn commit(&self, writes: &WriteSet) -> Result<bool, StoreError> {
        self.apply(writes)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        if let Some(log) = &self.log {
            log.sync_data()
                .map_err(|e| StoreError::Io(format!("fdatasync of sled's log: {e}")))?;
        }
        Ok(())
    }

    fn counters(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.trees[STATS]
            .iter()
            .map(|item| {
                let (k, v) = item?;
                let name = match k.iter().position(|b| *b == 0) {
                    Some(end) => &k[..end],
                    None => &k[..],
                };
                Ok((String::from_utf8_lossy(name).into_owned(), counter_value(&v)))
            })
            .collect()
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    fn meta_cas(&self, key: &str, expect: Option<&[u8]>, new: Option<&[u8]>) -> Result<bool, StoreError> {
        Ok(self.meta.compare_and_swap(key.as_bytes(), expect, new)?.is_ok())
    }

    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(key.as_bytes(), value)?;
        Ok(())
    }

    fn internal_retries(&self) -> u64 {
        self.internal_retries.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::questionnaire::tests::sample;
    use crate::domain::session::{Session, PRIVATE_SCOPE};
    use crate::storage::SessionStore;

    fn new_session(id: &str, owner: &str) -> Session {
        Session::start(&sample(), id.into(), owner.into(), PRIVATE_SCOPE.into(), 0)
    }

    #[test]
    fn second_open_of_same_directory_fails_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }));
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn unreadable_record_is_reported_not_panicked() {
        let store = SledStore::temporary().unwrap();
        store.backend().trees[SESSIONS].insert("x", &b"{not json"[..]).unwrap();
        assert!(matches!(store.get("x"), Err(StoreError::Corrupt { .. })));
        store.backend().trees[SESSIONS]
            .insert("y", &br#"{"schema":99,"session":{}}"#[..])
            .unwrap();
        assert!(store.get("y").unwrap_err().to_string().contains("schema version 99"));
    }

    /// A store written by the previous layout (no expiry index, unsharded
    /// counters, no active counter) reads the same and sweeps after upgrade.
    #[test]
    fn previous_layout_is_upgraded_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = ::sled::open(dir.path()).unwrap();
            let sessions = db.open_tree("sessions").unwrap();
            let active = db.open_tree("active").unwrap();
            let stats = db.open_tree("stats").unwrap();
            for (id, owner) in [("a", "u"), ("b", "v")] {
                let s = new_session(id, owner);
                let old = serde_json::to_vec(&serde_json::json!({"schema": 1, "session": s})).unwrap();
                sessions.insert(id, old).unwrap();
                active.insert(key2(owner, PRIVATE_SCOPE), id).unwrap();
            }
            stats.insert("started", &2u64.to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let stats = store.stats().unwrap();
        assert_eq!((stats.started, stats.active), (2, 2));
        assert_eq!(store.active("u", PRIVATE_SCOPE).unwrap().unwrap().id, "a");
        assert_eq!(store.sweep_expired(10_000, 100, 100).unwrap().len(), 2);
        assert_eq!(store.stats().unwrap().active, 0);
    }

    #[test]
    fn power_durability_opens_the_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open_with(
            dir.path(),
            SledOptions {
                durability: Durability::Power,
                ..SledOptions::default()
            },
        )
        .unwrap();
        assert!(store.backend().log.is_some());
        store.start(new_session("a", "u")).unwrap();
        store.flush().unwrap();
    }
}
