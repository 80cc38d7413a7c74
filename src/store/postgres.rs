//! The PostgreSQL backend: the ledger database and a key store database of its own (by default
//! the ledger's name + `_keys` on the same server), each created when missing. Appends from many
//! processes keep one chain: each append row-locks the chain head first.

use super::common::impl_sql_store;
use super::DatabaseUrl;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;

/// The ledger and key store as two PostgreSQL databases.
pub struct PgStore {
    ledger: PgPool,
    /// Appends use the shared pool (the server's own buffer cache serves every connection), and
    /// connections of their own for the optimistic append's write statement.
    appender: PgAppender,
    keys: PgPool,
}

impl PgStore {
    const BACKEND: Backend = Backend::Postgres;
    /// The server keeps the plan; re-parsing 14,000-parameter INSERTs each batch was the cost.
    pub(super) const CACHE_FULL_CHUNKS: bool = true;
    const ANALYZE_CONTENT: &'static str = "ANALYZE content";
    /// Storing data keys holds the key store's header row against a rotation finishing.
    const LOCK_KEYSTORE_HEADER: &'static str = " FOR UPDATE OF m";

    /// Connects to both databases, creating and migrating them when missing.
    pub async fn connect(ledger: &DatabaseUrl, keys: &DatabaseUrl) -> Result<Self, StoreError> {
        let ledger_pool = open(ledger).await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&ledger_pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let keys_pool = open(keys).await?;
        sqlx::migrate!("./migrations/postgres_keys")
            .run(&keys_pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Self {
            appender: PgAppender {
                pool: ledger_pool.clone(),
                writes: open_with(ledger, "force_generic_plan", APPEND_WRITERS).await?,
            },
            ledger: ledger_pool,
            keys: keys_pool,
        })
    }

    async fn before_close(&self) {
        self.appender.writes.close().await;
    }

    async fn leave_checkpoints_to_caller(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn fold_wal_files(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Vacuums the key table so destroyed keys leave no dead tuples behind. (Ciphertext in dead
    /// ledger tuples is unreadable once its key is gone; the ledger is left to autovacuum.)
    async fn scrub_files(&self) -> Result<(), StoreError> {
        sqlx::query("VACUUM data_keys").execute(&self.keys).await?;
        Ok(())
    }

    /// Serialises job claims across instances with a transaction-scoped advisory lock.
    async fn lock_jobs(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock(7460213904152)")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// The pools an append goes through (see [`PgStore::append_optimistically`]).
pub(super) struct PgAppender {
    /// The shared pool: look-ups and the locking append, planned at each execution.
    pub pool: PgPool,
    /// The optimistic append's one write statement, on connections that keep its plan. The
    /// statement only inserts from its arrays and moves the one head row, so a plan made on
    /// empty tables stays right as they grow; re-planning it at every append was a tenth of the
    /// server's time under the http bench (perf on the backends).
    pub writes: PgPool,
}

/// Connections for [`PgAppender::writes`]: one append runs at a time per process; a second
/// one spares a reconnect after a connection broke.
const APPEND_WRITERS: u32 = 2;

/// Why connecting to `url` failed (the URL shown with its password redacted).
fn connect_error(url: &DatabaseUrl) -> impl Fn(sqlx::Error) -> StoreError + Copy + '_ {
    move |e| StoreError::Connect {
        url: url.to_string(),
        reason: e.to_string(),
    }
}

async fn open(url: &DatabaseUrl) -> Result<PgPool, StoreError> {
    let connect_error = connect_error(url);
    if !sqlx::Postgres::database_exists(url.expose())
        .await
        .map_err(connect_error)?
    {
        // Another process may create it at the same moment; only a still-missing database is an error.
        if let Err(e) = sqlx::Postgres::create_database(url.expose()).await {
            if !sqlx::Postgres::database_exists(url.expose())
                .await
                .unwrap_or(false)
            {
                return Err(connect_error(e));
            }
        }
    }
    // Statements are prepared once per connection, when the tables may still be empty; a generic
    // plan made then (a sequential scan) would stay as they grow. Plan each execution instead:
    // the statements are small, and planning them is cheaper than one wrong scan.
    open_with(url, "force_custom_plan", 8).await
}

/// A pool of at most `connections` to the existing database at `url`, planning with
/// `plan_cache_mode`.
async fn open_with(
    url: &DatabaseUrl,
    plan_cache_mode: &str,
    connections: u32,
) -> Result<PgPool, StoreError> {
    let connect_error = connect_error(url);
    let options = PgConnectOptions::from_str(url.expose())
        .map_err(connect_error)?
        .options([("plan_cache_mode", plan_cache_mode)]);
    PgPoolOptions::new()
        .max_connections(connections)
        // A broken connection fails its statement and is dropped; a ping before every use
        // would add a round trip to every transaction.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(connect_error)
}

impl_sql_store!(PgStore, sqlx::Postgres);

mod retention_impl {
    use super::PgStore;
    use crate::domain::SubjectId;
    use crate::store::common::{push_list, IN_CHUNK};
    use crate::store::retention_sql::{impl_retention_sql, ORPHANS};
    use crate::store::{Linker, NewRecord, StoreError};
    use sqlx::QueryBuilder;
    impl_retention_sql!(PgStore, sqlx::Postgres);
}

mod erasure_impl {
    use super::PgStore;
    use crate::domain::{Digest, SubjectId};
    use crate::store::common::{push_list, IN_CHUNK};
    use crate::store::erasure_sql::impl_erasure_sql;
    use crate::store::{Linker, NewRecord, StoreError};
    use sqlx::QueryBuilder;
    impl_erasure_sql!(PgStore, sqlx::Postgres);
}

mod keystore_impl {
    use super::PgStore;
    use crate::store::keystore_sql::impl_keystore_sql;
    use crate::store::StoreError;
    impl_keystore_sql!(PgStore, sqlx::Postgres);
}

mod report_impl {
    use super::PgStore;
    use crate::store::common::push_list;
    use crate::store::report_sql::impl_report_sql;
    use crate::store::StoreError;
    use sqlx::QueryBuilder;
    impl_report_sql!(PgStore, sqlx::Postgres);
}

mod token_impl {
    use super::PgStore;
    use crate::store::tokens::impl_token_sql;
    use crate::store::StoreError;
    impl_token_sql!(PgStore);
}
