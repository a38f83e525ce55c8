//! The sled backend: embedded, one process (sled locks its directory).
//!
//! Trees (all in one database, applied together under the apply gate below):
//! - `sessions`: session id -> record (see [`rules::encode`])
//! - `active`:   `owner \0 scope` -> session id (the one in progress)
//! - `by_owner`: `owner \0 session id` -> scope (everything a user has)
//! - `expiry`:   [`ExpiryKey::to_bytes`] -> nothing (the sweep's index)
//! - `stats`:    `name \0 shard` -> i64 big-endian (sharded counters; keys
//!   without a shard were written by builds before sharding, and still count)
//! - `meta`:     small named values, leases, and `storage:layout`
//!
//! Durability: a change is durable once it is appended to the
//! [`journal`](super::journal::Journal) (and, under [`Durability::Power`], once an
//! `fdatasync` of the journal covers it), not when sled flushes. A flushed
//! sled 0.34 transaction costs two `pwrite` + `sync_file_range` round trips
//! through sled's thread pool; the journal costs one append into the page
//! cache (which survives `kill -9`) and, for `power`, one `fdatasync` shared
//! by concurrent changes. sled serves every read; a checkpoint thread
//! flushes sled (and `fdatasync`s its log file `<path>/db` under `power`:
//! sled's own `sync_file_range` flushes neither the device cache nor the
//! file's metadata) about once a second and retires the journal files that
//! flush covers. On open, the journal's records are replayed over what sled
//! persisted, then flushed, before anything else runs.
//!
//! Writes are serialised by one writer lock held across validate, append and
//! apply: the journal order is the commit order, and expectations are checked
//! against a state no other writer can change. What the lock covers is
//! microseconds of work; the `fdatasync` happens outside it.
//!
//! A change is applied to sled key by key, not as a sled transaction: every
//! sled 0.34 transaction (and batch) seals and writes sled's log buffer, twice,
//! with a `sync_file_range` each time, through its I/O thread pool, which
//! the journal already makes unnecessary (issue 11's profile: 18 % of the
//! bot's CPU in those threads). Atomicity comes from elsewhere: after a
//! crash, from the journal (a record is replayed whole); while running, from
//! the apply gate, which a change holds for writing while it is applied and
//! every read holds for reading, so no reader sees half a change.
//!
//! sled behind that gate can be closed and reopened in place. sled 0.34
//! writes its recovery snapshot only when it opens, and every open replays
//! its log from the last snapshot on: left alone, a process that ran for
//! months makes its successor (after `kill -9` too) replay all of it, which
//! took 3.3 s at a million consultations. So once enough changes have been
//! applied since the last open, the checkpoint thread reopens sled, when
//! the store has been quiet for a while, or anyway past a larger bound;
//! reads and writes wait for the reopen (the gate is held for writing).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ::sled::{Batch, Db, Tree};
use serde::{Deserialize, Serialize};

use super::engine::{Backend, Store};
use super::journal::{self, Journal, Op};
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
    /// Also survives a power cut or a crashed VM: an `fdatasync` of the
    /// journal before the change is acknowledged.
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
const META: usize = 5;
/// Keyspaces: the five trees above and `meta`.
const SPACES: usize = 6;

/// The layout this build writes; older stores are upgraded on open.
const LAYOUT: &[u8] = b"2";
const LAYOUT_KEY: &str = "storage:layout";

/// How often the checkpoint thread flushes sled and retires journal files
/// (sled's own periodic flush is off: this replaces it).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// A journal this large is checkpointed at once, whatever the clock says, so
/// a burst never leaves much to replay on the next open. Replaying is slow
/// per record in a large store: at a million consultations, the 5,348
/// records an 8 MiB bound left took about 600 ms of a 1.1 s open
/// (BENCHMARKS.md). 1 MiB is roughly 500 clicks of about 2 KB.
const CHECKPOINT_BYTES: u64 = 1024 * 1024;

/// sled replays its whole log since its last recovery snapshot when it
/// opens, and sled 0.34 writes that snapshot only when it opens (its
/// `snapshot_after_ops` "does nothing for now"). So after this many bytes
/// of changes a quiet store is closed and reopened in place, which writes a
/// fresh snapshot and keeps the next open (after `kill -9` too) short.
const RESNAPSHOT_WHEN_QUIET_BYTES: u64 = 4 * 1024 * 1024;
/// "Quiet": no change for this long.
const QUIET_FOR: Duration = Duration::from_secs(10);
/// A store that is never quiet is reopened after this many bytes anyway:
/// every read and write waits while it happens (BENCHMARKS.md measures it),
/// but the next open's replay stays bounded.
const RESNAPSHOT_ANYWAY_BYTES: u64 = 16 * 1024 * 1024;
/// How long a reopen waits for the previous handle's file lock to go.
const RELOCK_FOR: Duration = Duration::from_secs(5);

pub struct SledBackend {
    shared: Arc<Shared>,
    checkpointer: Option<JoinHandle<()>>,
}

/// What one open of sled gives: the database, its trees, its log file.
struct Sled {
    db: Db,
    /// Indexed by the space constants above (`meta` last).
    trees: [Tree; SPACES],
    /// sled's log file, `fdatasync`ed at each flush under [`Durability::Power`].
    log: Option<Arc<File>>,
}

impl Sled {
    fn open(path: &Path, options: SledOptions) -> Result<Sled, String> {
        let started = Instant::now();
        let db = loop {
            let opened = ::sled::Config::new()
                .path(path)
                .cache_capacity(options.cache_capacity)
                // The checkpoint thread flushes; the journal is the durability point.
                .flush_every_ms(None)
                .open();
            match opened {
                Ok(db) => break db,
                // A reopen can race sled's last I/O of the handle just
                // dropped, which still holds the file lock for a moment.
                Err(e) if e.to_string().contains("could not acquire lock") && started.elapsed() < RELOCK_FOR => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        let log = match options.durability {
            Durability::Power => Some(Arc::new(
                File::open(path.join("db")).map_err(|e| format!("sled's log file: {e}"))?,
            )),
            Durability::Process => None,
        };
        let trees = Self::trees_of(&db).map_err(|e| e.to_string())?;
        Ok(Sled { db, trees, log })
    }

    fn temporary() -> Result<Sled, StoreError> {
        let db = ::sled::Config::new().temporary(true).open()?;
        let trees = Self::trees_of(&db)?;
        Ok(Sled { db, trees, log: None })
    }

    fn trees_of(db: &Db) -> Result<[Tree; SPACES], StoreError> {
        Ok([
            db.open_tree("sessions")?,
            db.open_tree("active")?,
            db.open_tree("by_owner")?,
            db.open_tree("expiry")?,
            db.open_tree("stats")?,
            db.open_tree("meta")?,
        ])
    }

    /// Handles for a flush outside the gate (a flush can take milliseconds,
    /// and must not hold up the changes applied meanwhile).
    fn flush_handles(&self) -> (Db, Option<Arc<File>>) {
        (self.db.clone(), self.log.clone())
    }
}

struct Shared {
    /// sled behind the apply gate: written while a change is applied (and
    /// while sled is reopened), read by every read, so a change is seen
    /// whole or not at all (see the module docs). `None` only after a
    /// reopen failed; the checkpoint thread retries it.
    sled: RwLock<Option<Sled>>,
    /// Where and how to reopen sled; `None` for [`SledStore::temporary`].
    reopen: Option<(PathBuf, SledOptions)>,
    /// `None` for [`SledStore::temporary`] (tests, benches): every sync is a
    /// sled flush there, as nothing survives the process anyway.
    journal: Option<Journal>,
    /// Held across validate, append and apply (see the module docs).
    writer: Mutex<()>,
    /// Key and value bytes applied since sled was last opened: what its
    /// next open would replay.
    applied_since_open: AtomicU64,
    /// When the last change was applied (for "quiet").
    last_change: Mutex<Instant>,
    /// Set on drop; the checkpoint thread waits on `wake`.
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The store on sled. Cloning is not needed: share it in an `Arc`.
pub type SledStore = Store<SledBackend>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing guarded here is left half-changed by a panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io(format!("{what}: {e}"))
}

fn closed() -> StoreError {
    StoreError::Io("sled is closed: reopening it failed, and the checkpoint thread is retrying".into())
}

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

    /// Opens (or creates) the store at `path`, replaying the journal a
    /// previous process left. A second process on the same directory gets an
    /// `Open` error naming the path (sled holds a file lock).
    pub fn open_with(path: &Path, options: SledOptions) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        let power = options.durability == Durability::Power;
        let started = Instant::now();
        let sled = Sled::open(path, options).map_err(open_error)?;
        let sled_ms = started.elapsed().as_millis() as u64;
        let recovered = journal::recover(path).map_err(|e| open_error(format!("reading the journal: {e}")))?;
        if !recovered.records.is_empty() || recovered.discarded_bytes > 0 {
            tracing::info!(
                records = recovered.records.len(),
                discarded_bytes = recovered.discarded_bytes,
                "replaying the journal"
            );
        }
        replay(&sled.trees, &recovered.records)?;
        flush_sled(&sled.db, sled.log.as_deref())?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            sled_ms,
            journal_records = recovered.records.len(),
            "store opened"
        );
        let journal =
            Journal::start(path, power, &recovered).map_err(|e| open_error(format!("starting the journal: {e}")))?;
        let shared = Shared::new(sled, Some((path.to_path_buf(), options)), Some(journal))?;
        let worker = shared.clone();
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || worker.checkpoint_loop())
            .map_err(|e| open_error(format!("starting the checkpoint thread: {e}")))?;
        Ok(Store::new(SledBackend {
            shared,
            checkpointer: Some(checkpointer),
        }))
    }

    /// A store in a temporary directory removed on drop (tests, benches).
    pub fn temporary() -> Result<Self, StoreError> {
        let shared = Shared::new(Sled::temporary()?, None, None)?;
        Ok(Store::new(SledBackend {
            shared,
            checkpointer: None,
        }))
    }

    /// Flushes sled and empties the journal; used on shutdown.
    pub fn close(&self) -> Result<(), StoreError> {
        self.backend().shared.checkpoint()
    }

    /// Closes and reopens sled in place, which writes its recovery snapshot
    /// (the checkpoint thread does this by itself; see
    /// [`RESNAPSHOT_ANYWAY_BYTES`]). Every read and write waits meanwhile.
    /// Does nothing for a temporary store.
    pub fn resnapshot(&self) -> Result<(), StoreError> {
        self.backend().shared.resnapshot()
    }
}

/// Writes the journal's records into sled, in order (later values win).
fn replay(trees: &[Tree; SPACES], records: &[Vec<Op>]) -> Result<(), StoreError> {
    let mut batches: [Batch; SPACES] = Default::default();
    for op in records.iter().flatten() {
        let Some(batch) = batches.get_mut(usize::from(op.space)) else {
            // Not written by this build: nothing to apply it to.
            tracing::warn!(space = op.space, "journal entry for an unknown keyspace skipped");
            continue;
        };
        match &op.value {
            Some(v) => batch.insert(op.key.as_slice(), v.as_slice()),
            None => batch.remove(op.key.as_slice()),
        }
    }
    for (tree, batch) in trees.iter().zip(batches) {
        tree.apply_batch(batch)?;
    }
    Ok(())
}

/// sled's flush, plus an `fdatasync` of its log under `power`.
fn flush_sled(db: &Db, log: Option<&File>) -> Result<(), StoreError> {
    db.flush()?;
    if let Some(log) = log {
        log.sync_data().map_err(io_error("fdatasync of sled's log"))?;
    }
    Ok(())
}

impl Drop for SledBackend {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.checkpointer.take() {
            let _ = thread.join();
        }
        if let Err(e) = self.shared.checkpoint() {
            // The journal still holds everything: the next open replays it.
            tracing::warn!(error = %e, "final checkpoint failed");
        }
    }
}

/// Changes being planned under the writer lock: reads see them first.
#[derive(Default)]
struct Pending(BTreeMap<(usize, Vec<u8>), Option<Vec<u8>>>);

impl Pending {
    fn get(&self, sled: &Sled, space: usize, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.0.get(&(space, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => Ok(sled.trees[space].get(key)?.map(|v| v.to_vec())),
        }
    }
    fn put(&mut self, space: usize, key: Vec<u8>, value: &[u8]) {
        self.0.insert((space, key), Some(value.to_vec()));
    }
    fn remove(&mut self, space: usize, key: Vec<u8>) {
        self.0.insert((space, key), None);
    }
}

impl Shared {
    /// The shared state of an open store, upgraded to this build's layout.
    fn new(
        sled: Sled,
        reopen: Option<(PathBuf, SledOptions)>,
        journal: Option<Journal>,
    ) -> Result<Arc<Self>, StoreError> {
        upgrade_layout(&sled)?;
        Ok(Arc::new(Shared {
            sled: RwLock::new(Some(sled)),
            reopen,
            journal,
            writer: Mutex::new(()),
            applied_since_open: AtomicU64::new(0),
            last_change: Mutex::new(Instant::now()),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        }))
    }

    /// Runs `f` on sled under the gate held for reading (a scan included).
    fn reading<T>(&self, f: impl FnOnce(&Sled) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let gate = self.sled.read().unwrap_or_else(PoisonError::into_inner);
        f(gate.as_ref().ok_or_else(closed)?)
    }

    /// Appends `pending` to the journal and applies it to sled atomically.
    /// The caller holds the writer lock.
    fn write(&self, pending: Pending) -> Result<(), StoreError> {
        if pending.0.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op> = pending
            .0
            .into_iter()
            .map(|((space, key), value)| Op {
                space: space as u8,
                key,
                value,
            })
            .collect();
        // Under the writer lock sled cannot be reopened, so if it is there
        // now it is still there when the gate is taken below: nothing reaches
        // the journal that could not be applied.
        self.reading(|_| Ok(()))?;
        if let Some(journal) = &self.journal {
            journal.append(&ops).map_err(io_error("appending to the journal"))?;
            if journal.len() > CHECKPOINT_BYTES {
                self.wake.notify_all();
            }
        }
        // Key by key under the gate: readers wait the few microseconds this
        // takes and then see all of it. If sled fails part-way (it only fails
        // on I/O), the journal still holds the whole record, and the next
        // open replays it.
        let gate = self.sled.write().unwrap_or_else(PoisonError::into_inner);
        let sled = gate.as_ref().ok_or_else(closed)?;
        let mut bytes = 0u64;
        for op in &ops {
            let tree = &sled.trees[usize::from(op.space)];
            bytes += (op.key.len() + op.value.as_ref().map_or(0, Vec::len)) as u64;
            match &op.value {
                Some(v) => tree.insert(op.key.as_slice(), v.as_slice())?,
                None => tree.remove(op.key.as_slice())?,
            };
        }
        drop(gate);
        self.applied_since_open.fetch_add(bytes, Ordering::Relaxed);
        *lock(&self.last_change) = Instant::now();
        Ok(())
    }

    /// Plans `ws` against the current state: `None` if an expectation fails.
    fn plan(&self, sled: &Sled, ws: &WriteSet) -> Result<Option<Pending>, StoreError> {
        let mut p = Pending::default();
        for r in &ws.records {
            let current = p.get(sled, SESSIONS, r.id.as_bytes())?;
            // An unreadable record never matches: the caller re-reads and
            // reports it.
            let version = current.map(|b| rules::version_of(&b).unwrap_or(u64::MAX));
            if version != r.expect {
                return Ok(None);
            }
            match &r.new {
                Some((_, bytes)) => p.put(SESSIONS, r.id.as_bytes().to_vec(), bytes),
                None => p.remove(SESSIONS, r.id.as_bytes().to_vec()),
            }
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
                    let current = p.get(sled, ACTIVE, &k)?;
                    if current.as_deref() != expect.as_deref().map(str::as_bytes) {
                        return Ok(None);
                    }
                    p.put(ACTIVE, k, id.as_bytes());
                }
                ActiveWrite::Release { owner, scope, id } => {
                    let k = key2(owner, scope);
                    if p.get(sled, ACTIVE, &k)?.is_some_and(|v| v == id.as_bytes()) {
                        p.remove(ACTIVE, k);
                    }
                }
            }
        }
        for o in &ws.owners {
            match o {
                OwnerWrite::Add { owner, id, scope } => p.put(BY_OWNER, key2(owner, id), scope.as_bytes()),
                OwnerWrite::Remove { owner, id } => p.remove(BY_OWNER, key2(owner, id)),
            }
        }
        for e in &ws.expiry {
            match e {
                ExpiryWrite::Add(k) => p.put(EXPIRY, k.to_bytes(), &[]),
                ExpiryWrite::Remove(k) => p.remove(EXPIRY, k.to_bytes()),
            }
        }
        for c in &ws.counters {
            let k = counter_key(&c.name, c.shard);
            let old = p.get(sled, STATS, &k)?.map_or(0, |v| counter_value(&v));
            p.put(STATS, k, &old.saturating_add(c.delta).to_be_bytes());
        }
        Ok(Some(p))
    }

    /// sled's flush (and log `fdatasync`), run outside the gate.
    fn flush(&self) -> Result<(), StoreError> {
        let (db, log) = self.reading(|sled| Ok(sled.flush_handles()))?;
        flush_sled(&db, log.as_deref())
    }

    /// Flushes sled durably, then retires the journal files that flush covers.
    fn checkpoint(&self) -> Result<(), StoreError> {
        let Some(journal) = &self.journal else {
            return self.flush();
        };
        // Under the writer lock, so every record in the old file is applied.
        let old = {
            let _writer = lock(&self.writer);
            journal.rotate().map_err(io_error("rotating the journal"))?
        };
        if let Some(old) = old {
            self.flush()?;
            journal
                .retire(&old)
                .map_err(io_error("removing a checkpointed journal file"))?;
        }
        Ok(())
    }

    /// Whether the next open's replay has grown enough to reopen sled now.
    fn due_for_resnapshot(&self) -> bool {
        let applied = self.applied_since_open.load(Ordering::Relaxed);
        let quiet = lock(&self.last_change).elapsed() >= QUIET_FOR;
        applied >= RESNAPSHOT_ANYWAY_BYTES || (quiet && applied >= RESNAPSHOT_WHEN_QUIET_BYTES)
    }

    /// Closes sled and opens it again in place (see [`RESNAPSHOT_ANYWAY_BYTES`]).
    fn resnapshot(&self) -> Result<(), StoreError> {
        let Some((path, options)) = &self.reopen else {
            return Ok(());
        };
        let started = Instant::now();
        // No change is planned, appended or applied meanwhile, and no read
        // runs: every handle to the old sled is dropped before the new open.
        let _writer = lock(&self.writer);
        let mut gate = self.sled.write().unwrap_or_else(PoisonError::into_inner);
        let applied = self.applied_since_open.load(Ordering::Relaxed);
        if let Some(old) = gate.as_ref() {
            // Left open (and in place) if this fails: nothing changes.
            flush_sled(&old.db, old.log.as_deref())?;
        }
        drop(gate.take());
        let reopened = Sled::open(path, *options).map_err(|reason| StoreError::Open {
            path: path.display().to_string(),
            reason,
        })?;
        *gate = Some(reopened);
        self.applied_since_open.store(0, Ordering::Relaxed);
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            applied_bytes = applied,
            "sled reopened to write a fresh recovery snapshot"
        );
        Ok(())
    }

    fn checkpoint_loop(&self) {
        let mut stop = lock(&self.stop);
        while !*stop {
            stop = self
                .wake
                .wait_timeout(stop, CHECKPOINT_EVERY)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if *stop {
                break;
            }
            drop(stop);
            if let Err(e) = self.checkpoint() {
                // Nothing is lost: the journal keeps every record until a
                // checkpoint succeeds.
                tracing::warn!(error = %e, "store checkpoint failed; will retry");
            }
            let closed = self.sled.read().unwrap_or_else(PoisonError::into_inner).is_none();
            if closed || self.due_for_resnapshot() {
                if let Err(e) = self.resnapshot() {
                    tracing::error!(error = %e, "reopening sled failed; will retry");
                }
            }
            stop = lock(&self.stop);
        }
    }
}

/// Stores written before the expiry index and the active counter get
/// both, once, from one pass over the records.
fn upgrade_layout(sled: &Sled) -> Result<(), StoreError> {
    let meta = &sled.trees[META];
    if meta.get(LAYOUT_KEY)?.as_deref() == Some(LAYOUT) {
        return Ok(());
    }
    let mut active = 0i64;
    for item in sled.trees[SESSIONS].iter() {
        let (key, bytes) = item?;
        let id = String::from_utf8_lossy(&key);
        match rules::decode(&id, &bytes) {
            Ok((session, _)) => {
                sled.trees[EXPIRY].insert(ExpiryKey::of(&session).to_bytes(), &[][..])?;
                if session.status == Status::Active {
                    active += 1;
                }
            }
            Err(e) => tracing::warn!(error = %e, "unreadable record left out of the expiry index"),
        }
    }
    if active != 0 {
        sled.trees[STATS].insert(counter_key(rules::counter::ACTIVE, 0), &active.to_be_bytes())?;
    }
    meta.insert(LAYOUT_KEY, LAYOUT)?;
    // Before any journal record can depend on it.
    flush_sled(&sled.db, sled.log.as_deref())
}

impl Backend for SledBackend {
    fn name(&self) -> &'static str {
        "sled"
    }

    fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.shared
            .reading(|sled| Ok(sled.trees[SESSIONS].get(id.as_bytes())?.map(|v| v.to_vec())))
    }

    fn read_active(&self, owner: &str, scope: &str) -> Result<Option<String>, StoreError> {
        self.shared.reading(|sled| {
            Ok(sled.trees[ACTIVE]
                .get(key2(owner, scope))?
                .map(|v| String::from_utf8_lossy(&v).into_owned()))
        })
    }

    fn owner_sessions(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        let prefix = key2(owner, "");
        self.shared.reading(|sled| {
            sled.trees[BY_OWNER]
                .scan_prefix(&prefix)
                .keys()
                .map(|k| Ok(String::from_utf8_lossy(&k?[prefix.len()..]).into_owned()))
                .collect()
        })
    }

    fn expired(&self, kind: Kind, before: i64, limit: usize) -> Result<Vec<ExpiryKey>, StoreError> {
        let range = ExpiryKey::bound(kind, i64::MIN)..ExpiryKey::bound(kind, before);
        let mut out = Vec::new();
        let mut foreign = Pending::default();
        self.shared.reading(|sled| {
            for k in sled.trees[EXPIRY].range(range).keys().take(limit) {
                let k = k?;
                match ExpiryKey::from_bytes(&k) {
                    Some(key) => out.push(key),
                    // Not written by this code; removing it keeps the sweep moving.
                    None => foreign.remove(EXPIRY, k.to_vec()),
                }
            }
            Ok(())
        })?;
        if !foreign.0.is_empty() {
            let _writer = lock(&self.shared.writer);
            self.shared.write(foreign)?;
        }
        Ok(out)
    }

    fn commit(&self, writes: &WriteSet) -> Result<bool, StoreError> {
        let _writer = lock(&self.shared.writer);
        match self.shared.reading(|sled| self.shared.plan(sled, writes))? {
            Some(pending) => self.shared.write(pending).map(|()| true),
            None => Ok(false),
        }
    }

    fn sync(&self) -> Result<(), StoreError> {
        match &self.shared.journal {
            Some(journal) => journal.sync().map_err(io_error("fdatasync of the journal")),
            None => self.shared.flush(),
        }
    }

    fn counters(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.shared.reading(|sled| {
            sled.trees[STATS]
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
        })
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.shared
            .reading(|sled| Ok(sled.trees[META].get(key.as_bytes())?.map(|v| v.to_vec())))
    }

    fn meta_cas(&self, key: &str, expect: Option<&[u8]>, new: Option<&[u8]>) -> Result<bool, StoreError> {
        let _writer = lock(&self.shared.writer);
        let mut p = Pending::default();
        let current = self.shared.reading(|sled| p.get(sled, META, key.as_bytes()))?;
        if current.as_deref() != expect {
            return Ok(false);
        }
        match new {
            Some(v) => p.put(META, key.as_bytes().to_vec(), v),
            None => p.remove(META, key.as_bytes().to_vec()),
        }
        self.shared.write(p).map(|()| true)
    }

    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let _writer = lock(&self.shared.writer);
        let mut p = Pending::default();
        p.put(META, key.as_bytes().to_vec(), value);
        self.shared.write(p)
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

    /// A store in `dir` whose syncs skip the `fdatasync` (tests that commit
    /// thousands of changes).
    fn process_store(dir: &Path) -> SledStore {
        SledStore::open_with(
            dir,
            SledOptions {
                durability: Durability::Process,
                ..SledOptions::default()
            },
        )
        .unwrap()
    }

    /// The sum of a sharded counter's shards.
    fn counter_total(store: &SledStore, name: &str) -> i64 {
        store
            .backend()
            .counters()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v)
            .sum()
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
        let put = |id: &str, bytes: &[u8]| {
            store
                .backend()
                .shared
                .reading(|sled| Ok(sled.trees[SESSIONS].insert(id, bytes)?))
                .unwrap();
        };
        put("x", b"{not json");
        assert!(matches!(store.get("x"), Err(StoreError::Corrupt { .. })));
        put("y", br#"{"schema":99,"session":{}}"#);
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

    /// A journal left by a killed process is replayed on open, then retired.
    #[test]
    fn journal_records_are_replayed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let record = {
            let store = SledStore::open(dir.path()).unwrap();
            store.start(new_session("a", "u")).unwrap();
            store.backend().read("a").unwrap().unwrap()
        };
        // What a kill before the next checkpoint leaves: the journal holds
        // the change, sled does not.
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.delete_owner("u").unwrap();
            store.backend().shared.checkpoint().unwrap();
        }
        std::fs::write(
            dir.path().join("fa-journal.99"),
            journal::encode(&[
                Op {
                    space: SESSIONS as u8,
                    key: b"a".to_vec(),
                    value: Some(record),
                },
                Op {
                    space: ACTIVE as u8,
                    key: key2("u", PRIVATE_SCOPE),
                    value: Some(b"a".to_vec()),
                },
            ]),
        )
        .unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.active("u", PRIVATE_SCOPE).unwrap().unwrap().id, "a");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("fa-journal."))
            .collect();
        assert_eq!(left, vec!["fa-journal.100".to_string()], "replayed files are retired");
    }

    /// Changes acknowledged under `process` durability are in the journal
    /// before sled flushes them.
    #[test]
    fn a_commit_is_in_the_journal_before_any_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = process_store(dir.path());
        store.start(new_session("a", "u")).unwrap();
        // The checkpoint thread rotates under the writer lock: holding it
        // keeps the record where it was written while the journal is read.
        let _writer = lock(&store.backend().shared.writer);
        let recovered = journal::recover(dir.path()).unwrap();
        let keys: Vec<_> = recovered
            .records
            .iter()
            .flatten()
            .map(|o| (o.space, o.key.clone()))
            .collect();
        assert!(keys.contains(&(SESSIONS as u8, b"a".to_vec())), "{keys:?}");
    }

    /// A change touching several keys is seen whole or not at all, even by
    /// a scan running while it is applied.
    #[test]
    fn readers_never_see_half_a_change() {
        use crate::storage::rules::CounterDelta;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(process_store(dir.path()));
        // Each change moves one unit from `b` to `a`: a + b is 0 in every
        // committed state, across many shards so the scan is long.
        let moves = |shard: u8| WriteSet {
            counters: vec![
                CounterDelta {
                    name: "a".into(),
                    shard,
                    delta: 1,
                },
                CounterDelta {
                    name: "b".into(),
                    shard: shard.wrapping_add(7),
                    delta: -1,
                },
            ],
            ..WriteSet::default()
        };
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..3000u32 {
                    assert!(store.backend().commit(&moves((i % 64) as u8)).unwrap());
                }
            })
        };
        let mut scans = 0;
        while !writer.is_finished() {
            let total: i64 = store.backend().counters().unwrap().iter().map(|(_, v)| v).sum();
            assert_eq!(total, 0, "a scan saw half a change after {scans} scans");
            scans += 1;
        }
        writer.join().unwrap();
        assert_eq!(counter_total(&store, "a"), 3000);
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
        let has_log = store.backend().shared.reading(|sled| Ok(sled.log.is_some())).unwrap();
        assert!(has_log);
        store.start(new_session("a", "u")).unwrap();
        store.flush().unwrap();
    }

    fn snapshot_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("snap."))
            .collect();
        names.sort();
        names
    }

    /// A reopen in place writes sled's recovery snapshot and loses nothing,
    /// neither what was there nor what comes after.
    #[test]
    fn a_reopen_in_place_writes_a_snapshot_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.start(new_session("a", "u")).unwrap();
            store.start(new_session("b", "v")).unwrap();
            let before = snapshot_files(dir.path());
            store.resnapshot().unwrap();
            let after = snapshot_files(dir.path());
            assert_ne!(before, after, "a new snapshot is written");
            assert_eq!(store.backend().shared.applied_since_open.load(Ordering::Relaxed), 0);
            assert_eq!(store.active("u", PRIVATE_SCOPE).unwrap().unwrap().id, "a");
            assert_eq!(store.stats().unwrap().active, 2);
            store.start(new_session("c", "w")).unwrap();
            assert!(store.backend().shared.applied_since_open.load(Ordering::Relaxed) > 0);
        }
        let store = SledStore::open(dir.path()).unwrap();
        for (owner, id) in [("u", "a"), ("v", "b"), ("w", "c")] {
            assert_eq!(store.active(owner, PRIVATE_SCOPE).unwrap().unwrap().id, id);
        }
        assert_eq!(store.stats().unwrap().active, 3);
    }

    /// Reads and writes that arrive while sled is reopened wait for it and
    /// then succeed; none fails and none is lost.
    #[test]
    fn reads_and_writes_during_reopens_wait_and_succeed() {
        use crate::storage::rules::CounterDelta;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(process_store(dir.path()));
        store.start(new_session("a", "u")).unwrap();
        let bump = WriteSet {
            counters: vec![CounterDelta {
                name: "n".into(),
                shard: 0,
                delta: 1,
            }],
            ..WriteSet::default()
        };
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    assert!(store.backend().commit(&bump).unwrap());
                }
            })
        };
        let reader = {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    assert_eq!(store.get("a").unwrap().unwrap().owner, "u");
                }
            })
        };
        let mut reopens = 0;
        while !writer.is_finished() || !reader.is_finished() {
            store.resnapshot().unwrap();
            reopens += 1;
        }
        writer.join().unwrap();
        reader.join().unwrap();
        assert!(reopens > 0);
        assert_eq!(counter_total(&store, "n"), 2000);
    }

    /// If a reopen failed, sled is missing: every operation says so (no
    /// panic, nothing written to the journal), and the next reopen mends it.
    #[test]
    fn a_store_whose_reopen_failed_refuses_politely_until_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.start(new_session("a", "u")).unwrap();
        let shared = &store.backend().shared;
        let taken = shared.sled.write().unwrap().take();
        drop(taken);
        let journal_len = shared.journal.as_ref().unwrap().len();
        assert!(matches!(store.get("a"), Err(StoreError::Io(_))));
        assert!(matches!(store.start(new_session("b", "v")), Err(StoreError::Io(_))));
        assert!(matches!(store.backend().meta_put("k", b"v"), Err(StoreError::Io(_))));
        assert!(matches!(store.stats(), Err(StoreError::Io(_))));
        assert_eq!(shared.journal.as_ref().unwrap().len(), journal_len);
        store.resnapshot().unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().owner, "u");
        store.start(new_session("b", "v")).unwrap();
    }
}
