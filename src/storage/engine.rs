//! [`Store`]: the one implementation of [`SessionStore`], over any
//! [`Backend`]. It reads, asks [`rules`] what a change writes, and commits
//! optimistically: the backend applies a [`WriteSet`] only if what was read
//! is still current, else the change runs again on the newer state.
//! Retries are counted (`store_tx_retries_total`): with per-session keys and
//! sharded counters they happen only when two changes touch the same session.

use std::sync::atomic::{AtomicU64, Ordering};

use super::rules::{self, After, ExpiryKey, ExpiryWrite, Kind, Lease, OwnerWrite, Ttls, WriteSet};
use super::{SessionStore, Started, Stats, StoreError};
use crate::domain::session::{EngineError, Session, Status};

/// Enough for any real contention; a change still conflicting after this
/// many rounds is reported instead of spinning forever.
const MAX_ATTEMPTS: u32 = 10_000;

/// How many expired sessions one sweep batch removes before syncing and
/// letting other changes in.
pub const SWEEP_BATCH: usize = 256;

/// After each full batch the sweep rests this many times as long as the
/// batch took, so it uses at most a share of one core and interactions never
/// queue behind it (an hourly sweep has no deadline; a click has a person
/// waiting). Measured in `benches/scale.rs` as step latency during a sweep.
const SWEEP_REST_RATIO: u32 = 1;

/// The small transactional primitive a storage engine provides.
pub trait Backend: Send + Sync + 'static {
    /// For metrics labels and messages.
    fn name(&self) -> &'static str;
    /// The raw record of session `id`.
    fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// The id the active index holds for `(owner, scope)`.
    fn read_active(&self, owner: &str, scope: &str) -> Result<Option<String>, StoreError>;
    /// Ids of every session the owner index holds for `owner`.
    fn owner_sessions(&self, owner: &str) -> Result<Vec<String>, StoreError>;
    /// Up to `limit` expiry entries of `kind` touched before `before`, oldest first.
    fn expired(&self, kind: Kind, before: i64, limit: usize) -> Result<Vec<ExpiryKey>, StoreError>;
    /// Applies `writes` atomically if every expectation in them holds:
    /// `Ok(true)` when applied, `Ok(false)` on a conflict (nothing written).
    /// Not yet durable: see [`Backend::sync`].
    fn commit(&self, writes: &WriteSet) -> Result<bool, StoreError>;
    /// The durability point: everything committed so far survives a crash
    /// (as far as the backend's durability setting promises).
    fn sync(&self) -> Result<(), StoreError>;
    /// Every counter shard as (name, value).
    fn counters(&self) -> Result<Vec<(String, i64)>, StoreError>;
    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `new` (deletes on `None`) if it holds `expect` (absent on `None`).
    fn meta_cas(&self, key: &str, expect: Option<&[u8]>, new: Option<&[u8]>) -> Result<bool, StoreError>;
    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Conflicts the backend resolved by itself (e.g. sled re-running a
    /// transaction), to add to the store's own count.
    fn internal_retries(&self) -> u64 {
        0
    }
}

/// A [`SessionStore`] over a backend.
pub struct Store<B> {
    backend: B,
    retries: AtomicU64,
}

impl<B: Backend> std::fmt::Debug for Store<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Store<B> {
    pub fn new(backend: B) -> Self {
        Store {
            backend,
            retries: AtomicU64::new(0),
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn retried(&self, attempt: &mut u32) -> Result<(), StoreError> {
        self.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(super::TX_RETRIES_METRIC, "backend" => self.backend.name()).increment(1);
        *attempt += 1;
        if *attempt >= MAX_ATTEMPTS {
            return Err(StoreError::Io(format!(
                "a change conflicted {MAX_ATTEMPTS} times in a row; giving up"
            )));
        }
        Ok(())
    }

    fn load(&self, id: &str) -> Result<Option<(Session, rules::Version)>, StoreError> {
        self.backend.read(id)?.map(|b| rules::decode(id, &b)).transpose()
    }

    /// Removes one expiry entry if its session is really due; returns the
    /// session when it was active (its users are told).
    fn expire_one(&self, key: &ExpiryKey, now: i64, ttls: Ttls) -> Result<ExpireOutcome, StoreError> {
        let record = match self.load(&key.id) {
            Ok(r) => r,
            Err(StoreError::Corrupt { key: k, reason }) => {
                // Leave the record for a human; drop its index entry so the
                // sweep does not stumble on it again.
                tracing::warn!(key = %k, %reason, "unreadable session record left out of the sweep");
                return self.drop_stale_entry(key);
            }
            Err(e) => return Err(e),
        };
        let Some((session, v)) = record else {
            return self.drop_stale_entry(key);
        };
        if ExpiryKey::of(&session) != *key {
            // Touched since the scan: its entry moved; this one is stale
            // only if the record no longer matches it.
            return self.drop_stale_entry(key);
        }
        if !session.is_expired(now, ttls.of(Kind::of(&session))) {
            return Ok(ExpireOutcome::Kept);
        }
        let ws = rules::plan(&key.id, Some((&session, v)), After::Expired);
        if !self.backend.commit(&ws)? {
            return Ok(ExpireOutcome::Conflict);
        }
        Ok(ExpireOutcome::Removed(
            (session.status == Status::Active).then_some(session).map(Box::new),
        ))
    }

    fn drop_stale_entry(&self, key: &ExpiryKey) -> Result<ExpireOutcome, StoreError> {
        let ws = WriteSet {
            expiry: vec![ExpiryWrite::Remove(key.clone())],
            ..WriteSet::default()
        };
        self.backend.commit(&ws)?;
        Ok(ExpireOutcome::Removed(None))
    }
}

enum ExpireOutcome {
    Removed(Option<Box<Session>>),
    Kept,
    Conflict,
}

impl<B: Backend> SessionStore for Store<B> {
    fn start(&self, session: Session) -> Result<Started, StoreError> {
        let mut attempt = 0;
        loop {
            let seen = self.backend.read_active(&session.owner, &session.scope)?;
            if let Some(id) = &seen {
                if let Some((existing, _)) = self.load(id)? {
                    if existing.status == Status::Active {
                        return Ok(Started::Existing(existing));
                    }
                }
            }
            if self.backend.commit(&rules::plan_start(&session, seen))? {
                self.backend.sync()?;
                return Ok(Started::New(session));
            }
            self.retried(&mut attempt)?;
        }
    }

    fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.load(id)?.map(|(s, _)| s))
    }

    fn active(&self, owner: &str, scope: &str) -> Result<Option<Session>, StoreError> {
        let Some(id) = self.backend.read_active(owner, scope)? else {
            return Ok(None);
        };
        Ok(self.get(&id)?.filter(|s| s.status == Status::Active))
    }

    fn update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session) -> Result<(), EngineError>,
    ) -> Result<Option<Result<Session, EngineError>>, StoreError> {
        let mut attempt = 0;
        loop {
            let Some((old, v)) = self.load(id)? else {
                return Ok(None);
            };
            let mut new = old.clone();
            if let Err(e) = change(&mut new) {
                return Ok(Some(Err(e)));
            }
            if new == old {
                return Ok(Some(Ok(new)));
            }
            if self
                .backend
                .commit(&rules::plan(id, Some((&old, v)), After::Stored(&new)))?
            {
                // The one durability point of a click.
                self.backend.sync()?;
                return Ok(Some(Ok(new)));
            }
            self.retried(&mut attempt)?;
        }
    }

    fn delete_owner(&self, owner: &str) -> Result<usize, StoreError> {
        let mut attempt = 0;
        loop {
            let mut ws = WriteSet::default();
            let mut removed = 0;
            for id in self.backend.owner_sessions(owner)? {
                match self.load(&id) {
                    Ok(Some((s, v))) => {
                        removed += 1;
                        ws.extend(rules::plan(&id, Some((&s, v)), After::Deleted));
                    }
                    // A dangling owner entry, or a damaged record: the entry goes.
                    Ok(None) | Err(StoreError::Corrupt { .. }) => ws.owners.push(OwnerWrite::Remove {
                        owner: owner.to_string(),
                        id: id.clone(),
                    }),
                    Err(e) => return Err(e),
                }
            }
            if ws.is_empty() {
                return Ok(0);
            }
            if self.backend.commit(&ws)? {
                self.backend.sync()?;
                return Ok(removed);
            }
            self.retried(&mut attempt)?;
        }
    }

    fn sweep_expired(&self, now: i64, ttl_secs: i64, team_ttl_secs: i64) -> Result<Vec<Session>, StoreError> {
        let ttls = Ttls {
            private: ttl_secs,
            team: team_ttl_secs,
        };
        let mut swept = Vec::new();
        for kind in [Kind::Private, Kind::Team] {
            let before = ttls.cutoff(kind, now);
            // Batches: each removal is its own small commit, so clicks
            // interleave with the sweep; one sync per batch.
            loop {
                let started = std::time::Instant::now();
                let batch = self.backend.expired(kind, before, SWEEP_BATCH)?;
                let mut progress = false;
                for key in &batch {
                    match self.expire_one(key, now, ttls)? {
                        ExpireOutcome::Removed(active) => {
                            progress = true;
                            swept.extend(active.map(|b| *b));
                        }
                        ExpireOutcome::Kept | ExpireOutcome::Conflict => {}
                    }
                }
                if progress {
                    self.backend.sync()?;
                }
                if batch.len() < SWEEP_BATCH || !progress {
                    break;
                }
                std::thread::sleep(started.elapsed() * SWEEP_REST_RATIO);
            }
        }
        Ok(swept)
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        Ok(rules::stats_from_counters(self.backend.counters()?))
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.meta_get(key)
    }

    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.backend.meta_put(key, value)?;
        self.backend.sync()
    }

    fn try_lock(&self, name: &str, holder: &str, now: i64, ttl_secs: i64) -> Result<bool, StoreError> {
        let key = Lease::meta_key(name);
        let current = self.backend.meta_get(&key)?;
        if let Some(lease) = current.as_deref().and_then(Lease::decode) {
            if !lease.available_to(holder, now) {
                return Ok(false);
            }
        }
        let lease = Lease {
            holder: holder.to_string(),
            until: now.saturating_add(ttl_secs),
        };
        let taken = self.backend.meta_cas(&key, current.as_deref(), Some(&lease.encode()))?;
        if taken {
            self.backend.sync()?;
        }
        Ok(taken)
    }

    fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let key = Lease::meta_key(name);
        let current = self.backend.meta_get(&key)?;
        if current
            .as_deref()
            .and_then(Lease::decode)
            .is_some_and(|l| l.holder == holder)
            && self.backend.meta_cas(&key, current.as_deref(), None)?
        {
            self.backend.sync()?;
        }
        Ok(())
    }

    fn tx_retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed) + self.backend.internal_retries()
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.backend.sync()
    }
}
