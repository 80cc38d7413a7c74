//! Test harness: a fresh ledger per test on every backend. SQLite always runs (files in a
//! temporary folder); PostgreSQL runs when `WALEDGER_TEST_DATABASE_URL` points at a server
//! (`.ci/run` sets it), with two fresh databases per test that are dropped afterwards. A run
//! without it says loudly, on the real stderr, that PostgreSQL was skipped.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Once};
use waledger::crypto::MasterKey;
use waledger::ledger::Ledger;
use waledger::store::{self, DatabaseUrl, Store};

#[allow(dead_code)] // used by the fixture tests
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/whatsapp");

/// One backend's fresh pair of databases; dropped (PostgreSQL) or deleted (SQLite) on drop.
pub struct TestDb {
    pub name: &'static str,
    pub ledger_url: DatabaseUrl,
    pub keys_url: DatabaseUrl,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn store(&self) -> Arc<dyn Store> {
        store::connect(&self.ledger_url, &self.keys_url)
            .await
            .expect("test store connects")
    }

    pub async fn ledger(&self, master: &MasterKey) -> Ledger {
        Ledger::open(self.store().await, master, now())
            .await
            .expect("ledger opens")
    }

    /// Files of the SQLite backend (ledger, key store and their WAL/SHM files).
    pub fn files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }

    /// The bytes of every file of the SQLite backend. A WAL or shared-memory file that SQLite
    /// removes while the last connection closes (in the background) is skipped: it is gone.
    pub fn file_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.files()
            .into_iter()
            .filter_map(|f| std::fs::read(&f).ok().map(|b| (f, b)))
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop needs its own runtime: the test's runtime may already be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Executor;
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    for db in [name.clone(), format!("{name}_keys")] {
                        let _ = pool
                            .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                            .await;
                    }
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .to_utc()
}

/// A fresh database on every available backend.
pub fn backends() -> Vec<TestDb> {
    let mut all = vec![sqlite()];
    match std::env::var("WALEDGER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => all.push(postgres(&url)),
        _ => warn_postgres_skipped(),
    }
    all
}

fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let keys = format!("sqlite://{}", dir.path().join("ledger.keys.db").display());
    TestDb {
        name: "sqlite",
        ledger_url: DatabaseUrl::parse(&ledger).unwrap(),
        keys_url: DatabaseUrl::parse(&keys).unwrap(),
        dir,
        pg: None,
    }
}

fn postgres(admin: &str) -> TestDb {
    let name = format!("wl_test_{}", uuid::Uuid::new_v4().simple());
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    TestDb {
        name: "postgres",
        ledger_url: DatabaseUrl::parse(&format!("{base}/{name}")).unwrap(),
        keys_url: DatabaseUrl::parse(&format!("{base}/{name}_keys")).unwrap(),
        dir: tempfile::tempdir().expect("temp dir"),
        pg: Some((admin.to_string(), name)),
    }
}

fn warn_postgres_skipped() {
    static WARN: Once = Once::new();
    WARN.call_once(|| {
        // Written straight to stderr so the test harness's capture cannot hide it.
        let _ = std::io::stderr().write_all(
            b"\n*** WARNING: PostgreSQL backend tests SKIPPED: set WALEDGER_TEST_DATABASE_URL \
              (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run them ***\n\n",
        );
    });
}

/// Drops a PostgreSQL database a test made beside its own (by full URL).
pub async fn drop_pg_database(url: &str) {
    let (base, name) = url.rsplit_once('/').unwrap();
    let admin =
        std::env::var("WALEDGER_TEST_DATABASE_URL").unwrap_or_else(|_| format!("{base}/postgres"));
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await;
}

/// Runs SQL straight against the ledger database, bypassing waledger (to tamper with it).
pub async fn raw_sql(db: &TestDb, sql: &str) {
    match db.name {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(db.ledger_url.expose())
                .await
                .unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        _ => {
            let pool = sqlx::PgPool::connect(db.ledger_url.expose()).await.unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// Every row of every table of both databases as text (bytea as hex), for leak scans.
pub async fn dump_text(db: &TestDb) -> String {
    let tables = [
        (
            &db.ledger_url,
            vec![
                "chain",
                "content",
                "subjects",
                "subject_index",
                "envelopes",
                "checkpoints",
                "chain_head",
                "holds",
                "erasure_requests",
                "erasure_lookup",
            ],
        ),
        (&db.keys_url, vec!["data_keys", "keystore_meta"]),
    ];
    let mut out = String::new();
    for (url, names) in tables {
        for table in names {
            let sql = match db.name {
                "sqlite" => format!("SELECT * FROM {table}"),
                _ => format!("SELECT t::text FROM {table} t"),
            };
            out.push_str(&dump_query(db.name, url.expose(), &sql).await);
        }
    }
    out
}

async fn dump_query(backend: &str, url: &str, sql: &str) -> String {
    use sqlx::{Row, ValueRef};
    let mut out = String::new();
    if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for row in sqlx::query(sql).fetch_all(&pool).await.unwrap() {
            for i in 0..row.columns().len() {
                if row.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
                    continue;
                }
                if let Ok(v) = row.try_get::<String, _>(i) {
                    out.push_str(&v);
                } else if let Ok(v) = row.try_get::<Vec<u8>, _>(i) {
                    out.push_str(&String::from_utf8_lossy(&v));
                    out.push_str(&hex::encode(&v));
                } else if let Ok(v) = row.try_get::<i64, _>(i) {
                    out.push_str(&v.to_string());
                }
                out.push(' ');
            }
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for row in sqlx::query(sql).fetch_all(&pool).await.unwrap() {
            out.push_str(&row.get::<String, _>(0));
            out.push(' ');
        }
        pool.close().await;
    }
    out
}

/// Rows of a query against the ledger database, on either backend.
pub async fn query_ledger<T>(db: &TestDb, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    match db.name {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(db.ledger_url.expose())
                .await
                .unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
        _ => {
            let pool = sqlx::PgPool::connect(db.ledger_url.expose()).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows
        }
    }
}

/// Puts sealed values back into content rows as held (as restoring an old backup would).
pub async fn restore_sealed(db: &TestDb, rows: &[(i64, Vec<u8>)]) {
    for (seq, sealed) in rows {
        let hex = hex::encode(sealed);
        let sql = match db.name {
            "sqlite" => {
                format!("UPDATE content SET sealed = X'{hex}', state = 'held' WHERE seq = {seq}")
            }
            _ => {
                format!("UPDATE content SET sealed = '\\x{hex}', state = 'held' WHERE seq = {seq}")
            }
        };
        raw_sql(db, &sql).await;
    }
}
