//! The PostgreSQL backend: several instances on one database.
//!
//! Client: tokio-postgres with a deadpool pool. The [`SessionStore`] trait
//! is synchronous (the application calls it from `spawn_blocking`, and the
//! terminal mode has no runtime), so this backend owns a small tokio runtime
//! of its own and blocks on it; see `PgBackend::block`. Callers did not
//! change.
//!
//! Concurrency: optimistic. A change reads the record and its version, and
//! commits with `UPDATE … WHERE id = $1 AND version = $2` inside a
//! transaction with its index and counter writes; zero rows means another
//! instance changed it first, and the store runs the change again on the
//! newer state. Counters are sharded rows (see [`super::rules`]), taken in
//! sorted order. A change is committed (WAL flushed, with PostgreSQL's
//! default `synchronous_commit = on`) before the method returns.
//!
//! Migrations are the SQL files in `migrations/postgres/`, embedded, applied
//! at connect under an advisory lock (so two instances starting together
//! apply them once); a database migrated by a newer build is refused.
//!
//! [`SessionStore`]: super::SessionStore

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, NoTls};

use super::engine::{Backend, Store};
use super::rules::{ActiveWrite, ExpiryKey, ExpiryWrite, Kind, OwnerWrite, WriteSet};
use super::StoreError;

/// The embedded migrations, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/postgres/0001_initial.sql"))];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Advisory lock key taken while migrating ("fa-migr" in ASCII).
const MIGRATION_LOCK: i64 = 0x66_61_2d_6d_69_67_72;

#[derive(Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/db` or key=value form.
    pub url: String,
    pub pool_size: usize,
    /// Server-side limit per statement; a stuck query becomes an error the
    /// user sees as the usual apology instead of a hung click.
    pub statement_timeout_ms: u64,
    /// How long to wait for a connection (new or from the pool).
    pub connect_timeout_ms: u64,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PgOptions")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout_ms", &self.statement_timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .finish()
    }
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            pool_size: 16,
            statement_timeout_ms: 5000,
            connect_timeout_ms: 5000,
        }
    }
}

pub struct PgBackend {
    pool: Pool,
    /// This backend's runtime, which drives the connections.
    handle: tokio::runtime::Handle,
    _runtime: OwnedRuntime,
}

/// Owns the runtime and lets it wind down in the background on drop:
/// dropping a runtime may block, which tokio forbids inside async code (a
/// store dropped by a test's runtime).
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The store on PostgreSQL.
pub type PgStore = Store<PgBackend>;

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("postgres: {e}"))
}

fn db_error(e: tokio_postgres::Error) -> StoreError {
    io(match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    })
}

/// Errors that mean "another change won; run it again", not "broken".
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

impl Store<PgBackend> {
    /// Connects, applies pending migrations, and refuses a newer schema.
    pub fn connect(options: &PgOptions) -> Result<Self, StoreError> {
        let backend = PgBackend::connect(options)?;
        backend.block(async {
            let mut client = backend.client().await?;
            migrate(&mut client).await
        })?;
        Ok(Store::new(backend))
    }

    /// Connects without changing anything and returns the database's schema
    /// version; a newer one than this build's is an error (for `check`).
    pub fn probe(options: &PgOptions) -> Result<i64, StoreError> {
        let backend = PgBackend::connect(options)?;
        let found = backend.block(async {
            let client = backend.client().await?;
            current_version(&**client).await.map_err(db_error)
        })?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(found)
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let b = self.backend();
        b.block(async {
            let client = b.client().await?;
            current_version(&**client).await.map_err(db_error)
        })
    }
}

impl PgBackend {
    fn connect(options: &PgOptions) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = options
            .url
            .parse()
            // tokio-postgres's parse errors do not echo the URL (or its password).
            .map_err(|e| StoreError::Open {
                path: "[storage] url".into(),
                reason: format!("{e}"),
            })?;
        config.options(format!("-c statement_timeout={}", options.statement_timeout_ms));
        config.connect_timeout(Duration::from_millis(options.connect_timeout_ms));
        if config.get_application_name().is_none() {
            config.application_name("framework-advisor");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection whose socket closed (a server restart) is
                // dropped and replaced when next taken from the pool.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(Duration::from_millis(options.connect_timeout_ms));
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .build()
            .map_err(|e| StoreError::Open {
                path: "[storage] url".into(),
                reason: e.to_string(),
            })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres-io")
            .enable_all()
            .build()
            .map_err(|e| io(format!("cannot start the database runtime: {e}")))?;
        Ok(PgBackend {
            pool,
            handle: runtime.handle().clone(),
            _runtime: OwnedRuntime(Some(runtime)),
        })
    }

    /// Runs `f` on this backend's runtime and waits for it, from any thread:
    /// a plain thread or a `spawn_blocking` one (blocks directly), a
    /// multi-threaded runtime's worker (via `block_in_place`), or a
    /// current-thread runtime (on a scoped helper thread).
    fn block<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let rt = &self.handle;
        match tokio::runtime::Handle::try_current() {
            Err(_) => rt.block_on(f),
            Ok(h) => match h.runtime_flavor() {
                tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| rt.block_on(f)),
                _ => std::thread::scope(|s| match s.spawn(|| rt.block_on(f)).join() {
                    Ok(v) => v,
                    Err(panic) => std::panic::resume_unwind(panic),
                }),
            },
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => db_error(e),
            other => io(other),
        })
    }

    async fn apply(&self, ws: &WriteSet) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        match apply_in(&mut client, ws).await {
            Ok(applied) => Ok(applied),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(db_error(e)),
        }
    }
}

async fn current_version(client: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('fa_schema_version') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM fa_schema_version", &[])
        .await?
        .get(0))
}

/// Applies the embedded migrations the database lacks, in one transaction.
async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    // A migration is one transaction: all or nothing, so it may take as
    // long as it needs (the statement timeout is for clicks).
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS fa_schema_version (
            version bigint PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(db_error)?;
    let found = current_version(&*tx).await.map_err(db_error)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        tx.batch_execute(sql).await.map_err(db_error)?;
        tx.execute("INSERT INTO fa_schema_version (version) VALUES ($1)", &[version])
            .await
            .map_err(db_error)?;
        tracing::info!(version, "applied database migration");
    }
    tx.commit().await.map_err(db_error)
}

fn version_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One commit: every statement must affect the rows expected, else the
/// transaction is dropped (rolled back) and the change reported as a conflict.
async fn apply_in(client: &mut deadpool_postgres::Object, ws: &WriteSet) -> Result<bool, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    for r in &ws.records {
        let affected = match (r.expect, &r.new) {
            (None, Some((v, body))) => {
                let st = tx
                    .prepare_cached(
                        "INSERT INTO fa_sessions (id, version, body) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                    )
                    .await?;
                tx.execute(&st, &[&r.id, &version_param(*v), body]).await?
            }
            (Some(old), Some((v, body))) => {
                let st = tx
                    .prepare_cached("UPDATE fa_sessions SET version = $2, body = $3 WHERE id = $1 AND version = $4")
                    .await?;
                tx.execute(&st, &[&r.id, &version_param(*v), body, &version_param(old)])
                    .await?
            }
            (Some(old), None) => {
                let st = tx
                    .prepare_cached("DELETE FROM fa_sessions WHERE id = $1 AND version = $2")
                    .await?;
                tx.execute(&st, &[&r.id, &version_param(old)]).await?
            }
            (None, None) => 1,
        };
        if affected != 1 {
            return Ok(false);
        }
    }
    for a in &ws.active {
        match a {
            ActiveWrite::Claim {
                owner,
                scope,
                id,
                expect: None,
            } => {
                let st = tx
                    .prepare_cached(
                        "INSERT INTO fa_active (owner, scope, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .await?;
                if tx.execute(&st, &[owner, scope, id]).await? != 1 {
                    return Ok(false);
                }
            }
            ActiveWrite::Claim {
                owner,
                scope,
                id,
                expect: Some(old),
            } => {
                let st = tx
                    .prepare_cached("UPDATE fa_active SET id = $3 WHERE owner = $1 AND scope = $2 AND id = $4")
                    .await?;
                if tx.execute(&st, &[owner, scope, id, old]).await? != 1 {
                    return Ok(false);
                }
            }
            ActiveWrite::Release { owner, scope, id } => {
                let st = tx
                    .prepare_cached("DELETE FROM fa_active WHERE owner = $1 AND scope = $2 AND id = $3")
                    .await?;
                tx.execute(&st, &[owner, scope, id]).await?;
            }
        }
    }
    for o in &ws.owners {
        match o {
            OwnerWrite::Add { owner, id, scope } => {
                let st = tx
                    .prepare_cached(
                        "INSERT INTO fa_owner_sessions (owner, id, scope) VALUES ($1, $2, $3)
                         ON CONFLICT (owner, id) DO UPDATE SET scope = EXCLUDED.scope",
                    )
                    .await?;
                tx.execute(&st, &[owner, id, scope]).await?;
            }
            OwnerWrite::Remove { owner, id } => {
                let st = tx
                    .prepare_cached("DELETE FROM fa_owner_sessions WHERE owner = $1 AND id = $2")
                    .await?;
                tx.execute(&st, &[owner, id]).await?;
            }
        }
    }
    for e in &ws.expiry {
        let (sql, k) = match e {
            ExpiryWrite::Add(k) => (
                "INSERT INTO fa_expiry (kind, touched, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                k,
            ),
            ExpiryWrite::Remove(k) => ("DELETE FROM fa_expiry WHERE kind = $1 AND touched = $2 AND id = $3", k),
        };
        let st = tx.prepare_cached(sql).await?;
        tx.execute(&st, &[&i16::from(k.kind.code()), &k.touched, &k.id]).await?;
    }
    // Sorted by (name, shard) in the write set: row locks in one order.
    for c in &ws.counters {
        let st = tx
            .prepare_cached(
                "INSERT INTO fa_counters (name, shard, value) VALUES ($1, $2, $3)
                 ON CONFLICT (name, shard) DO UPDATE SET value = fa_counters.value + EXCLUDED.value",
            )
            .await?;
        tx.execute(&st, &[&c.name, &i16::from(c.shard), &c.delta]).await?;
    }
    tx.commit().await?;
    Ok(true)
}

impl Backend for PgBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn read(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT body FROM fa_sessions WHERE id = $1")
                .await
                .map_err(db_error)?;
            let row = client.query_opt(&st, &[&id]).await.map_err(db_error)?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })
    }

    fn read_active(&self, owner: &str, scope: &str) -> Result<Option<String>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let st = client
                .prepare_cached("SELECT id FROM fa_active WHERE owner = $1 AND scope = $2")
                .await
                .map_err(db_error)?;
            let row = client.query_opt(&st, &[&owner, &scope]).await.map_err(db_error)?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })
    }

    fn owner_sessions(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query("SELECT id FROM fa_owner_sessions WHERE owner = $1", &[&owner])
                .await
                .map_err(db_error)?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    fn expired(&self, kind: Kind, before: i64, limit: usize) -> Result<Vec<ExpiryKey>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT touched, id FROM fa_expiry WHERE kind = $1 AND touched < $2
                     ORDER BY touched, id LIMIT $3",
                    &[
                        &i16::from(kind.code()),
                        &before,
                        &i64::try_from(limit).unwrap_or(i64::MAX),
                    ],
                )
                .await
                .map_err(db_error)?;
            Ok(rows
                .iter()
                .map(|r| ExpiryKey {
                    kind,
                    touched: r.get(0),
                    id: r.get(1),
                })
                .collect())
        })
    }

    fn commit(&self, writes: &WriteSet) -> Result<bool, StoreError> {
        self.block(self.apply(writes))
    }

    /// Each commit is durable by itself (`synchronous_commit = on`).
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn counters(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let rows = client
                .query("SELECT name, SUM(value)::bigint FROM fa_counters GROUP BY name", &[])
                .await
                .map_err(db_error)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let row = client
                .query_opt("SELECT value FROM fa_meta WHERE key = $1", &[&key])
                .await
                .map_err(db_error)?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })
    }

    fn meta_cas(&self, key: &str, expect: Option<&[u8]>, new: Option<&[u8]>) -> Result<bool, StoreError> {
        self.block(async {
            let client = self.client().await?;
            let result = match (expect, new) {
                (None, Some(new)) => {
                    client
                        .execute(
                            "INSERT INTO fa_meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            &[&key, &new],
                        )
                        .await
                }
                (Some(old), Some(new)) => {
                    client
                        .execute(
                            "UPDATE fa_meta SET value = $2 WHERE key = $1 AND value = $3",
                            &[&key, &new, &old],
                        )
                        .await
                }
                (Some(old), None) => {
                    client
                        .execute("DELETE FROM fa_meta WHERE key = $1 AND value = $2", &[&key, &old])
                        .await
                }
                (None, None) => {
                    client
                        .execute(
                            "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM fa_meta WHERE key = $1)",
                            &[&key],
                        )
                        .await
                }
            };
            match result {
                Ok(n) => Ok(n == 1),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(db_error(e)),
            }
        })
    }

    fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.block(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO fa_meta (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&key, &value],
                )
                .await
                .map_err(db_error)?;
            Ok(())
        })
    }
}
