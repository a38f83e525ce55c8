//! [`SessionStore`] on sled 0.34.
//!
//! Trees (all in one database, so one transaction covers them):
//! - `sessions`: session id -> JSON record `{"schema": 1, "session": {...}}`
//! - `active`:   `owner \0 scope` -> session id (the one in progress)
//! - `by_owner`: `owner \0 session id` -> scope (everything a user has)
//! - `stats`:    counter name -> u64 big-endian
//! - `meta`:     small named values
//!
//! JSON rather than a binary codec: records are small, the cost is dominated
//! by `flush` (an fsync), and a human can read a record when debugging a store.

use std::cell::RefCell;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree, UnabortableTransactionError,
};
use sled::{Db, Tree};

use super::{SessionStore, Started, Stats, StoreError, SCHEMA_VERSION};
use crate::domain::questionnaire::{EngineError, Session, Status};

const SESSIONS: usize = 0;
const ACTIVE: usize = 1;
const BY_OWNER: usize = 2;
const STATS: usize = 3;

#[derive(Serialize)]
struct Record {
    schema: u32,
    session: Session,
}

/// Cloning is cheap (sled handles are reference-counted).
#[derive(Clone)]
pub struct SledStore {
    db: Db,
    /// sessions, active, by_owner, stats: in the order of the constants above.
    trees: [Tree; 4],
    meta: Tree,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<EngineError>>;

fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

/// The envelope alone, so the version is checked before the body is decoded.
#[derive(Deserialize)]
struct Envelope {
    schema: u32,
    session: serde_json::Value,
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<Session, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if envelope.schema != SCHEMA_VERSION {
        return Err(corrupt(format!(
            "schema version {} (this build reads {SCHEMA_VERSION})",
            envelope.schema
        )));
    }
    serde_json::from_value(envelope.session).map_err(|e| corrupt(e.to_string()))
}

fn encode(session: &Session) -> Vec<u8> {
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_vec(&Record {
        schema: SCHEMA_VERSION,
        session: session.clone(),
    })
    .unwrap_or_default()
}

fn bump(stats: &TransactionalTree, name: &str, by: u64) -> Result<(), UnabortableTransactionError> {
    let old = stats
        .get(name.as_bytes())?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    stats.insert(name.as_bytes(), &old.saturating_add(by).to_be_bytes())?;
    Ok(())
}

/// Counters and index changes for a status transition, inside a transaction.
fn on_transition(
    t: &[TransactionalTree],
    old: Option<&Session>,
    new: &Session,
) -> Result<(), UnabortableTransactionError> {
    let was = old.map(|s| s.status);
    if was == Some(new.status) {
        return Ok(());
    }
    let stats = &t[STATS];
    match (new.status, &new.team) {
        (Status::Active, None) => bump(stats, "started", 1)?,
        (Status::Active, Some(_)) => bump(stats, "team:started", 1)?,
        (Status::Completed, None) => {
            bump(stats, "completed", 1)?;
            bump(
                stats,
                &format!("outcome:{}", new.outcome.as_deref().unwrap_or("unknown")),
                1,
            )?;
        }
        (Status::Completed, Some(team)) => {
            bump(stats, "team:completed", 1)?;
            bump(stats, "team:participants", team.participants() as u64)?;
            bump(stats, "team:votes", team.vote_count() as u64)?;
        }
        (Status::Cancelled, _) => abandon(stats, new)?,
    }
    if new.status != Status::Active {
        release_active(&t[ACTIVE], new)?;
    }
    Ok(())
}

fn abandon(stats: &TransactionalTree, session: &Session) -> Result<(), UnabortableTransactionError> {
    if session.team.is_some() {
        return bump(stats, "team:abandoned", 1);
    }
    bump(stats, "abandoned", 1)?;
    if let Some(q) = &session.current {
        bump(stats, &format!("dropoff:{q}"), 1)?;
    }
    Ok(())
}

/// Removes the active-index entry if it still points at this session.
fn release_active(active: &TransactionalTree, session: &Session) -> Result<(), UnabortableTransactionError> {
    let k = key2(&session.owner, &session.scope);
    if active.get(&k)?.is_some_and(|v| v.as_ref() == session.id.as_bytes()) {
        active.remove(k)?;
    }
    Ok(())
}

fn map_tx<T>(r: Result<T, TransactionError<EngineError>>) -> Result<Result<T, EngineError>, StoreError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(TransactionError::Abort(e)) => Ok(Err(e)),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

impl SledStore {
    /// Opens (or creates) the store at `path`. A second process on the same
    /// directory gets an `Open` error naming the path (sled holds a file lock).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            // Bound the page cache: sessions are tiny and reads are rare.
            .cache_capacity(16 * 1024 * 1024)
            .open()
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        Self::from_db(db)
    }

    /// A store that lives in a temporary directory removed on drop (tests, benches).
    pub fn temporary() -> Result<Self, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    fn from_db(db: Db) -> Result<Self, StoreError> {
        let trees = [
            db.open_tree("sessions")?,
            db.open_tree("active")?,
            db.open_tree("by_owner")?,
            db.open_tree("stats")?,
        ];
        let meta = db.open_tree("meta")?;
        Ok(SledStore { db, trees, meta })
    }

    /// Flushes and returns when done; used on shutdown.
    pub fn close(&self) -> Result<(), StoreError> {
        SessionStore::flush(self)
    }

    fn read_in(t: &TransactionalTree, id: &str) -> Result<Option<Session>, ConflictableTransactionError<EngineError>> {
        match t.get(id.as_bytes())? {
            None => Ok(None),
            // A damaged record inside a transaction: surface as storage error.
            Some(bytes) => decode(id.as_bytes(), &bytes)
                .map(Some)
                .map_err(|e| ConflictableTransactionError::Storage(sled::Error::Unsupported(e.to_string()))),
        }
    }
}

impl SessionStore for SledStore {
    fn start(&self, session: Session) -> Result<Started, StoreError> {
        let result = Transactional::<EngineError>::transaction(self.trees.as_slice(), |t| -> TxResult<Started> {
            let k = key2(&session.owner, &session.scope);
            if let Some(existing) = t[ACTIVE].get(&k)? {
                let id = String::from_utf8_lossy(&existing).into_owned();
                if let Some(s) = Self::read_in(&t[SESSIONS], &id)? {
                    if s.status == Status::Active {
                        return Ok(Started::Existing(s));
                    }
                }
            }
            t[SESSIONS].insert(session.id.as_bytes(), encode(&session))?;
            t[ACTIVE].insert(k, session.id.as_bytes())?;
            t[BY_OWNER].insert(key2(&session.owner, &session.id), session.scope.as_bytes())?;
            on_transition(t, None, &session)?;
            Ok(Started::New(session.clone()))
        });
        let started = map_tx(result)?.map_err(|e| StoreError::Io(e.to_string()))?;
        self.flush()?;
        Ok(started)
    }

    fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.trees[SESSIONS]
            .get(id.as_bytes())?
            .map(|b| decode(id.as_bytes(), &b))
            .transpose()
    }

    fn active(&self, owner: &str, scope: &str) -> Result<Option<Session>, StoreError> {
        let Some(id) = self.trees[ACTIVE].get(key2(owner, scope))? else {
            return Ok(None);
        };
        let id = String::from_utf8_lossy(&id).into_owned();
        Ok(self.get(&id)?.filter(|s| s.status == Status::Active))
    }

    fn update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session) -> Result<(), EngineError>,
    ) -> Result<Option<Result<Session, EngineError>>, StoreError> {
        // sled may run the closure several times (optimistic retries) and
        // wants `Fn`; each run starts again from the committed record.
        let change = RefCell::new(change);
        let result =
            Transactional::<EngineError>::transaction(self.trees.as_slice(), |t| -> TxResult<Option<Session>> {
                let Some(old) = Self::read_in(&t[SESSIONS], id)? else {
                    return Ok(None);
                };
                let mut new = old.clone();
                (change.borrow_mut())(&mut new).map_err(ConflictableTransactionError::Abort)?;
                if new != old {
                    t[SESSIONS].insert(id.as_bytes(), encode(&new))?;
                    on_transition(t, Some(&old), &new)?;
                }
                Ok(Some(new))
            });
        let outcome = match map_tx(result)? {
            Ok(None) => return Ok(None),
            Ok(Some(s)) => Ok(s),
            Err(e) => Err(e),
        };
        if outcome.is_ok() {
            self.flush()?;
        }
        Ok(Some(outcome))
    }

    fn delete_owner(&self, owner: &str) -> Result<usize, StoreError> {
        let prefix = key2(owner, "");
        let entries: Vec<(Vec<u8>, String, Vec<u8>)> = self.trees[BY_OWNER]
            .scan_prefix(&prefix)
            .map(|r| {
                r.map(|(k, scope)| {
                    let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                    (k.to_vec(), id, scope.to_vec())
                })
            })
            .collect::<Result<_, _>>()?;
        let result = Transactional::<EngineError>::transaction(self.trees.as_slice(), |t| -> TxResult<usize> {
            let mut removed = 0;
            for (owner_key, id, scope) in &entries {
                if t[SESSIONS].remove(id.as_bytes())?.is_some() {
                    removed += 1;
                }
                t[BY_OWNER].remove(owner_key.as_slice())?;
                let mut active_key = prefix.clone();
                active_key.extend_from_slice(scope);
                t[ACTIVE].remove(active_key)?;
            }
            Ok(removed)
        });
        let removed = map_tx(result)?.map_err(|e| StoreError::Io(e.to_string()))?;
        self.flush()?;
        Ok(removed)
    }

    fn sweep_expired(&self, now: i64, ttl_secs: i64, team_ttl_secs: i64) -> Result<Vec<Session>, StoreError> {
        let ttl_of = |s: &Session| if s.team.is_some() { team_ttl_secs } else { ttl_secs };
        let mut swept = Vec::new();
        for item in self.trees[SESSIONS].iter() {
            let (key, bytes) = item?;
            let Ok(session) = decode(&key, &bytes) else {
                tracing::warn!(key = %String::from_utf8_lossy(&key), "skipping unreadable session record in sweep");
                continue;
            };
            if !session.is_expired(now, ttl_of(&session)) {
                continue;
            }
            let id = session.id.clone();
            let result =
                Transactional::<EngineError>::transaction(self.trees.as_slice(), |t| -> TxResult<Option<Session>> {
                    // Re-read: a click may have refreshed it since the scan.
                    let Some(current) = Self::read_in(&t[SESSIONS], &id)? else {
                        return Ok(None);
                    };
                    if !current.is_expired(now, ttl_of(&current)) {
                        return Ok(None);
                    }
                    if current.status == Status::Active {
                        abandon(&t[STATS], &current)?;
                        release_active(&t[ACTIVE], &current)?;
                    }
                    t[SESSIONS].remove(id.as_bytes())?;
                    t[BY_OWNER].remove(key2(&current.owner, &current.id))?;
                    Ok(Some(current))
                });
            if let Ok(Some(s)) = map_tx(result)? {
                swept.push(s);
            }
        }
        if !swept.is_empty() {
            self.flush()?;
        }
        Ok(swept)
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        let mut stats = Stats::default();
        for item in self.trees[STATS].iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k);
            let n = <[u8; 8]>::try_from(v.as_ref()).map_or(0, u64::from_be_bytes);
            match name.as_ref() {
                "team:started" => stats.team.started = n,
                "team:completed" => stats.team.completed = n,
                "team:abandoned" => stats.team.abandoned = n,
                "team:participants" => stats.team.participants = n,
                "team:votes" => stats.team.votes = n,
                "started" => stats.started = n,
                "completed" => stats.completed = n,
                "abandoned" => stats.abandoned = n,
                other => {
                    if let Some(o) = other.strip_prefix("outcome:") {
                        stats.outcomes.insert(o.to_string(), n);
                    } else if let Some(q) = other.strip_prefix("dropoff:") {
                        stats.dropoff.insert(q.to_string(), n);
                    }
                }
            }
        }
        stats.active = self.trees[ACTIVE].len() as u64;
        Ok(stats)
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(key.as_bytes(), value)?;
        self.flush()
    }

    /// Durability point: everything committed so far reaches the disk.
    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::questionnaire::tests::sample;
    use crate::domain::questionnaire::{Command, PRIVATE_SCOPE};
    use std::sync::Arc;

    fn new_session(id: &str, owner: &str) -> Session {
        Session::start(&sample(), id.into(), owner.into(), PRIVATE_SCOPE.into(), 0)
    }

    fn answer(q: &str, o: &str) -> Command {
        Command::Answer {
            question: q.into(),
            options: vec![o.into()],
        }
    }

    #[test]
    fn start_is_idempotent_per_owner_and_scope() {
        let store = SledStore::temporary().unwrap();
        assert!(matches!(store.start(new_session("a", "u")).unwrap(), Started::New(_)));
        match store.start(new_session("b", "u")).unwrap() {
            Started::Existing(s) => assert_eq!(s.id, "a"),
            other => panic!("expected existing, got {other:?}"),
        }
        assert!(store.get("b").unwrap().is_none());
        assert!(matches!(store.start(new_session("c", "v")).unwrap(), Started::New(_)));
        assert_eq!(store.stats().unwrap().started, 2);
        assert_eq!(store.stats().unwrap().active, 2);
    }

    #[test]
    fn reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let q = sample();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.start(new_session("a", "u")).unwrap();
            store
                .update("a", &mut |s| s.apply(&q, answer("kind", "api"), 5))
                .unwrap()
                .unwrap()
                .unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let s = store.active("u", PRIVATE_SCOPE).unwrap().expect("still active");
        assert_eq!(s.answers.len(), 1);
        assert_eq!(s.current.as_deref(), Some("realtime"));
        store
            .update("a", &mut |s| s.apply(&q, answer("realtime", "ws"), 6))
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(store.get("a").unwrap().unwrap().answers.len(), 2);
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
    fn refused_change_stores_nothing() {
        let store = SledStore::temporary().unwrap();
        let q = sample();
        store.start(new_session("a", "u")).unwrap();
        let r = store
            .update("a", &mut |s| s.apply(&q, answer("templates", "yes"), 1))
            .unwrap()
            .unwrap();
        assert!(matches!(r, Err(EngineError::WrongQuestion { .. })));
        assert_eq!(store.get("a").unwrap().unwrap().revision, 0);
        assert!(store.update("missing", &mut |_| Ok(())).unwrap().is_none());
    }

    #[test]
    fn concurrent_double_clicks_apply_once() {
        let store = Arc::new(SledStore::temporary().unwrap());
        let q = Arc::new(sample());
        store.start(new_session("a", "u")).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (store, q) = (store.clone(), q.clone());
                std::thread::spawn(move || {
                    store
                        .update("a", &mut |s| s.apply_at(&q, answer("kind", "site"), 0, 1))
                        .unwrap()
                        .unwrap()
                        .is_ok()
                })
            })
            .collect();
        let applied = threads.into_iter().map(|t| t.join().unwrap()).filter(|ok| *ok).count();
        assert_eq!(applied, 1, "exactly one of the concurrent clicks applies");
        let s = store.get("a").unwrap().unwrap();
        assert_eq!((s.revision, s.answers.len()), (1, 1));
    }

    #[test]
    fn concurrent_updates_lose_no_write() {
        // Every thread appends under CAS semantics: the final count must be exact.
        let store = Arc::new(SledStore::temporary().unwrap());
        store.start(new_session("a", "u")).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        store
                            .update("a", &mut |s| {
                                s.revision += 1;
                                Ok(())
                            })
                            .unwrap()
                            .unwrap()
                            .unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(store.get("a").unwrap().unwrap().revision, 100);
    }

    #[test]
    fn completion_and_cancel_update_stats_and_index() {
        let store = SledStore::temporary().unwrap();
        let q = sample();
        store.start(new_session("a", "u")).unwrap();
        store.start(new_session("b", "v")).unwrap();
        store
            .update("a", &mut |s| {
                s.apply(&q, answer("kind", "api"), 1)?;
                s.apply(&q, answer("realtime", "ws"), 1)?;
                s.apply(&q, answer("team", "knows_flask"), 1)?;
                s.outcome = Some("flask".into());
                Ok(())
            })
            .unwrap()
            .unwrap()
            .unwrap();
        store
            .update("b", &mut |s| {
                s.apply(&q, answer("kind", "site"), 1)?;
                s.apply(&q, Command::Cancel, 1)
            })
            .unwrap()
            .unwrap()
            .unwrap();
        let stats = store.stats().unwrap();
        assert_eq!(
            (stats.started, stats.completed, stats.abandoned, stats.active),
            (2, 1, 1, 0)
        );
        assert_eq!(stats.outcomes.get("flask"), Some(&1));
        assert_eq!(stats.dropoff.get("templates"), Some(&1));
        assert!(store.active("u", PRIVATE_SCOPE).unwrap().is_none());
    }

    #[test]
    fn sweep_removes_expired_and_counts_abandoned() {
        let store = SledStore::temporary().unwrap();
        store.start(new_session("old", "u")).unwrap();
        let mut fresh = new_session("new", "v");
        fresh.updated_at = 1000;
        store.start(fresh).unwrap();
        let swept = store.sweep_expired(1000, 500, 500).unwrap();
        assert_eq!(swept.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["old"]);
        assert!(store.get("old").unwrap().is_none());
        assert!(store.get("new").unwrap().is_some());
        let stats = store.stats().unwrap();
        assert_eq!((stats.abandoned, stats.active), (1, 1));
        assert_eq!(stats.dropoff.get("kind"), Some(&1));
    }

    #[test]
    fn delete_owner_removes_only_theirs() {
        let store = SledStore::temporary().unwrap();
        store.start(new_session("a", "u")).unwrap();
        store.start(new_session("b", "uv")).unwrap();
        assert_eq!(store.delete_owner("u").unwrap(), 1);
        assert!(store.get("a").unwrap().is_none());
        assert!(store.active("u", PRIVATE_SCOPE).unwrap().is_none());
        assert!(
            store.get("b").unwrap().is_some(),
            "owner 'uv' shares a prefix but is someone else"
        );
    }

    #[test]
    fn unreadable_record_is_reported_not_panicked() {
        let store = SledStore::temporary().unwrap();
        store.trees[SESSIONS].insert("x", &b"{not json"[..]).unwrap();
        assert!(matches!(store.get("x"), Err(StoreError::Corrupt { .. })));
        store.trees[SESSIONS]
            .insert("y", &br#"{"schema":99,"session":{}}"#[..])
            .unwrap();
        assert!(store.get("y").unwrap_err().to_string().contains("schema version 99"));
    }
}
