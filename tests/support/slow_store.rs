//! A store whose writes are slow (a slow disk, a stalled flush), to drive the deferral timer.

use std::time::Duration;

use framework_advisor::domain::session::{EngineError, Session};
use framework_advisor::storage::{SessionStore, SledStore, Started, Stats, StoreError};

/// A store whose writes take `delay` (a slow disk, a stalled flush).
pub struct SlowStore {
    pub inner: SledStore,
    pub delay: Duration,
}

impl SessionStore for SlowStore {
    fn start(&self, session: Session) -> Result<Started, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.start(session)
    }
    fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.inner.get(id)
    }
    fn active(&self, owner: &str, scope: &str) -> Result<Option<Session>, StoreError> {
        self.inner.active(owner, scope)
    }
    fn update(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut Session) -> Result<(), EngineError>,
    ) -> Result<Option<Result<Session, EngineError>>, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.update(id, change)
    }
    fn delete_owner(&self, owner: &str) -> Result<usize, StoreError> {
        self.inner.delete_owner(owner)
    }
    fn sweep_expired(&self, now: i64, ttl: i64, team_ttl: i64) -> Result<Vec<Session>, StoreError> {
        self.inner.sweep_expired(now, ttl, team_ttl)
    }
    fn stats(&self) -> Result<Stats, StoreError> {
        self.inner.stats()
    }
    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta_get(key)
    }
    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.meta_put(key, value)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn try_lock(&self, name: &str, holder: &str, now: i64, ttl_secs: i64) -> Result<bool, StoreError> {
        self.inner.try_lock(name, holder, now, ttl_secs)
    }
    fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.inner.unlock(name, holder)
    }
    fn tx_retries(&self) -> u64 {
        self.inner.tx_retries()
    }
}
