//! The embedded SQLite backend: two files (ledger and key store), WAL mode, `synchronous=FULL`,
//! `secure_delete=ON` so deleted values are overwritten rather than left in free pages.

use super::common::impl_sql_store;
use super::DatabaseUrl;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Performance settings, measured on the ingest bench: statement journals of multi-row INSERTs
/// went to temporary files. (A larger page cache gained 5% at 1M entries but cost 20-40 MB per
/// connection, so the shared connections keep SQLite's 2 MB; only the one appending connection
/// has more, see [`APPENDER_CACHE_KIB`].) The automatic
/// checkpoint waits for 4,000 WAL pages (16 MB) rather than 1,000: `serve` folds the WAL itself
/// off the writer's path, and many small webhook commits would otherwise each pay for one.
/// Public so the bench's floor uses the same settings.
pub const TUNING: &[(&str, &str)] = &[("temp_store", "memory"), ("wal_autocheckpoint", "4000")];

/// Page cache of the appending connection, in KiB. Appends touch a few random index leaves per
/// envelope, which SQLite's default 2 MB (and a cache dropped by every other connection's write)
/// kept reading back from the OS: under the http bench the writes and commit of a 30-envelope
/// batch took 5.5 ms on pooled connections with the default cache, 3.4 ms on one connection with
/// a large cache (temporary timers). 16 MB and 64 MB measured the same.
const APPENDER_CACHE_KIB: i64 = 16 * 1024;

/// Prepared statements the appending connection keeps: the writes and look-ups of webhook-sized
/// batches, one text per batch shape (see `append_rows`).
const APPENDER_STATEMENTS: usize = 128;

/// SQLite's automatic checkpoint threshold (WAL pages) on the appending connection once the
/// caller folds the WAL itself ([`Store::take_over_wal_folding`](super::Store)): only a backstop,
/// far above what `serve`'s folding lets the WAL reach between two folds.
const FOLDED_AUTOCHECKPOINT: u32 = 40_000;

/// The ledger and key store as two SQLite files.
pub struct SqliteStore {
    ledger: SqlitePool,
    /// The one connection batches are appended through. SQLite has one writer anyway; keeping
    /// appends on one connection keeps its page cache warm (a connection drops its whole cache
    /// when another connection wrote since its last transaction, and pooled connections take
    /// turns). Not a pool: a pool hands a connection back only after a task of its own has
    /// pinged it, a wait every append would pay when there is one connection.
    appender: Appender,
    keys: SqlitePool,
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;
    /// Cached multi-row statements cost SQLite megabytes each (measured: +40 MB at 1M entries).
    pub(super) const CACHE_FULL_CHUNKS: bool = false;
    const ANALYZE_CONTENT: &'static str = "PRAGMA optimize";
    /// A statement storing data keys holds the write lock already.
    const LOCK_KEYSTORE_HEADER: &'static str = "";

    /// Opens both files, creating and migrating them when missing.
    pub async fn connect(ledger: &DatabaseUrl, keys: &DatabaseUrl) -> Result<Self, StoreError> {
        let ledger_pool = open(ledger).await?;
        let guard = MigrationLock::take(ledger)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&ledger_pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        drop(guard);
        let appender = Appender::new(
            options(ledger)?
                .pragma("cache_size", (-APPENDER_CACHE_KIB).to_string())
                .statement_cache_capacity(APPENDER_STATEMENTS),
        );
        let keys_pool = open(keys).await?;
        let guard = MigrationLock::take(keys)?;
        sqlx::migrate!("./migrations/sqlite_keys")
            .run(&keys_pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        drop(guard);
        Ok(Self {
            ledger: ledger_pool,
            appender,
            keys: keys_pool,
        })
    }

    /// Serialises job claims: SQLite has one writer, so taking the write lock is enough.
    async fn lock_jobs(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM job_runs WHERE 0 = 1")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Folds both WALs back into the main files and truncates them, so no removed value or
    /// destroyed key survives in a WAL frame (`secure_delete` has overwritten the pages).
    async fn scrub_files(&self) -> Result<(), StoreError> {
        for pool in [&self.ledger, &self.keys] {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    async fn leave_checkpoints_to_caller(&self) -> Result<(), StoreError> {
        self.appender.leave_checkpoints().await
    }

    async fn fold_wal_files(&self) -> Result<(), StoreError> {
        for pool in [&self.ledger, &self.keys] {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Folds the WAL back into the main files so it keeps no stale pages.
    async fn before_close(&self) {
        for pool in [&self.ledger, &self.keys] {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await;
        }
        self.appender.close().await;
    }
}

/// Connection settings for a database file (created with owner-only permissions when missing).
fn options(url: &DatabaseUrl) -> Result<SqliteConnectOptions, StoreError> {
    let connect_error = |e: sqlx::Error| StoreError::Connect {
        url: url.to_string(),
        reason: e.to_string(),
    };
    if let Some(path) = url.sqlite_path() {
        create_private(path).map_err(|e| StoreError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    }
    let options = SqliteConnectOptions::from_str(url.expose())
        .map_err(connect_error)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true)
        .pragma("secure_delete", "on");
    Ok(TUNING
        .iter()
        .fold(options, |o, (name, value)| o.pragma(*name, *value)))
}

async fn open(url: &DatabaseUrl) -> Result<SqlitePool, StoreError> {
    SqlitePoolOptions::new()
        .max_connections(4)
        // An in-process file does not go away; a ping before every use would add a round trip
        // through the connection's worker thread to every transaction.
        .test_before_acquire(false)
        .connect_with(options(url)?)
        .await
        .map_err(|e| StoreError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })
}

/// The connection SQLite batches are appended through (see [`SqliteStore`]): opened on first
/// use, and again after an append that failed midway closed it.
pub(super) struct Appender {
    options: std::sync::Mutex<SqliteConnectOptions>,
    conn: Arc<tokio::sync::Mutex<Option<SqliteConnection>>>,
}

impl Appender {
    fn new(options: SqliteConnectOptions) -> Self {
        Self {
            options: std::sync::Mutex::new(options),
            conn: Arc::default(),
        }
    }

    /// Waits for the connection (one append at a time) and hands it out for a transaction.
    pub(super) async fn take(&self) -> Result<RawTransaction, StoreError> {
        let mut conn = self.conn.clone().lock_owned().await;
        if conn.is_none() {
            let options = self.options().clone();
            *conn = Some(options.connect().await?);
        }
        Ok(RawTransaction { conn, ended: false })
    }

    /// Appends leave checkpoints to whoever folds the WAL: SQLite's automatic checkpoint waits
    /// for [`FOLDED_AUTOCHECKPOINT`] pages, on the open connection and any opened later.
    async fn leave_checkpoints(&self) -> Result<(), StoreError> {
        let pragma = format!("PRAGMA wal_autocheckpoint = {FOLDED_AUTOCHECKPOINT}");
        {
            let mut options = self.options();
            *options = options
                .clone()
                .pragma("wal_autocheckpoint", FOLDED_AUTOCHECKPOINT.to_string());
        }
        if let Some(conn) = self.conn.lock().await.as_mut() {
            sqlx::query(&pragma).execute(conn).await?;
        }
        Ok(())
    }

    fn options(&self) -> std::sync::MutexGuard<'_, SqliteConnectOptions> {
        self.options.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = conn.close().await;
        }
    }
}

/// The appending connection inside a transaction begun with a raw `BEGIN` (sent in the same
/// round trip as the append's first statements; its `COMMIT` goes with the writes). Unless it
/// is ended after its `COMMIT` or `ROLLBACK` went through, the connection is closed when this is
/// dropped, and closing rolls the transaction back: an error or a cancelled append never leaves
/// a half-open transaction for the next append.
pub(super) struct RawTransaction {
    conn: tokio::sync::OwnedMutexGuard<Option<SqliteConnection>>,
    ended: bool,
}

impl RawTransaction {
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("an appending connection is open")
    }

    /// The transaction ended cleanly: the connection stays open for the next append.
    pub(super) fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for RawTransaction {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.take();
        }
    }
}

/// An exclusive advisory lock (flock) on `<database>-migrate.lock` while migrations run: sqlx does
/// not serialise SQLite migrations, and two processes starting on a fresh file (`serve` and an
/// `ingest`) would both try to create the tables. A file of its own, because opening and closing
/// the database file itself would drop the POSIX locks SQLite holds on it.
struct MigrationLock(Option<std::fs::File>);

impl MigrationLock {
    fn take(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let Some(path) = url
            .sqlite_path()
            .filter(|p| !p.is_empty() && *p != ":memory:")
        else {
            return Ok(Self(None));
        };
        let lock_path = format!("{path}-migrate.lock");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let locked = options
            .open(&lock_path)
            .and_then(|file| file.lock().map(|()| file));
        locked
            .map(|f| Self(Some(f)))
            .map_err(|e| StoreError::Connect {
                url: url.to_string(),
                reason: format!("cannot take the migration lock {lock_path}: {e}"),
            })
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        if let Some(file) = self.0.take() {
            let _ = file.unlock();
        }
    }
}

/// Creates a missing database file readable by its owner only; SQLite gives its WAL and shared
/// memory files the same mode.
fn create_private(path: &str) -> std::io::Result<()> {
    if path.is_empty() || path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite);

mod retention_impl {
    use super::SqliteStore;
    use crate::domain::SubjectId;
    use crate::store::common::{push_list, IN_CHUNK};
    use crate::store::retention_sql::{impl_retention_sql, ORPHANS};
    use crate::store::{Linker, NewRecord, StoreError};
    use sqlx::QueryBuilder;
    impl_retention_sql!(SqliteStore, sqlx::Sqlite);
}

mod erasure_impl {
    use super::SqliteStore;
    use crate::domain::{Digest, SubjectId};
    use crate::store::common::{push_list, IN_CHUNK};
    use crate::store::erasure_sql::impl_erasure_sql;
    use crate::store::{Linker, NewRecord, StoreError};
    use sqlx::QueryBuilder;
    impl_erasure_sql!(SqliteStore, sqlx::Sqlite);
}

mod keystore_impl {
    use super::SqliteStore;
    use crate::store::keystore_sql::impl_keystore_sql;
    use crate::store::StoreError;
    impl_keystore_sql!(SqliteStore, sqlx::Sqlite);
}

mod report_impl {
    use super::SqliteStore;
    use crate::store::common::push_list;
    use crate::store::report_sql::impl_report_sql;
    use crate::store::StoreError;
    use sqlx::QueryBuilder;
    impl_report_sql!(SqliteStore, sqlx::Sqlite);
}

mod token_impl {
    use super::SqliteStore;
    use crate::store::tokens::impl_token_sql;
    use crate::store::StoreError;
    impl_token_sql!(SqliteStore);
}
