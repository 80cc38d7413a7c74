//! The floors: what the database does with no ledger logic at all. Rows of the same size as a
//! ledger entry (chain record plus sealed content), written with multi-row INSERTs through sqlx
//! in transactions of the same size as ingest's, and read back with one plain SELECT. A second
//! insert floor adds the two lookup indexes the ledger needs (by message, by subject: random
//! 8-byte keys), to show how much of the gap is the schema rather than the ledger's code.

use sqlx::QueryBuilder;
use std::path::Path;
use std::time::Instant;
use waledger::store::DatabaseUrl;

const ROWS_PER_STATEMENT: usize = 1_000;
const ROWS_PER_TRANSACTION: u64 = 20_000;
const CREATE: &str = "CREATE TABLE {T} (seq BIGINT PRIMARY KEY, entry_id {B}, kind TEXT, message_digest {B}, \
    message_key BIGINT, direction TEXT, field TEXT, category TEXT, occurred_at BIGINT, recorded_at BIGINT, \
    content_digest {B}, prev_hash {B}, hash {B}, subject_id TEXT, subject_key BIGINT, state TEXT, sealed {B})";
const INDEXES: &str =
    "CREATE INDEX {T}_m ON {T} (message_key); CREATE INDEX {T}_s ON {T} (subject_key)";

fn row(seq: i64) -> (i64, Vec<u8>, Vec<u8>, String, Vec<u8>) {
    let filler = |n: usize| {
        (0..n)
            .map(|i| (seq as usize + i) as u8)
            .collect::<Vec<u8>>()
    };
    (
        seq,
        filler(16),
        filler(32),
        uuid::Uuid::now_v7().to_string(),
        filler(70),
    )
}

/// A well-mixed 64-bit key per row, like an HMAC prefix (seven entries share a message).
fn random_key(seq: i64, salt: u64) -> i64 {
    let mut x = (seq as u64 / 7) ^ salt;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) as i64
}

macro_rules! insert_floor {
    ($db:ty, $pool:expr, $table:expr, $rows:expr) => {{
        let pool = $pool;
        let started = Instant::now();
        let mut seq = 0i64;
        while (seq as u64) < $rows {
            let mut tx = pool.begin().await.unwrap();
            let end = ((seq as u64) + ROWS_PER_TRANSACTION).min($rows) as i64;
            while seq < end {
                let batch: Vec<_> = (seq..end.min(seq + ROWS_PER_STATEMENT as i64)).map(row).collect();
                seq += batch.len() as i64;
                let mut qb = QueryBuilder::<$db>::new(format!(
                    "INSERT INTO {} (seq, entry_id, kind, message_digest, message_key, direction, field, category, \
                     occurred_at, recorded_at, content_digest, prev_hash, hash, subject_id, subject_key, state, sealed) ",
                    $table
                ));
                qb.push_values(&batch, |mut b, (s, id, digest, subject, sealed)| {
                    b.push_bind(*s).push_bind(id.as_slice()).push_bind("field").push_bind(digest.as_slice())
                        .push_bind(random_key(*s, 1)).push_bind("outbound").push_bind("message_text").push_bind("text").push_bind(*s).push_bind(*s)
                        .push_bind(digest.as_slice()).push_bind(digest.as_slice()).push_bind(digest.as_slice())
                        .push_bind(subject.as_str()).push_bind(random_key(*s, 2)).push_bind("held").push_bind(sealed.as_slice());
                });
                qb.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        $rows as f64 / started.elapsed().as_secs_f64()
    }};
}

/// Rows/s of plain multi-row INSERTs into table `table`, with the lookup indexes when `indexed`.
pub async fn insert_rows_per_sec(
    backend: &str,
    url: &DatabaseUrl,
    dir: &Path,
    rows: u64,
    indexed: bool,
) -> f64 {
    let table = if indexed { "floor_indexed" } else { "floor" };
    let mut ddl = CREATE.replace("{T}", table);
    if indexed {
        ddl = format!("{ddl}; {}", INDEXES.replace("{T}", table));
    }
    if backend == "sqlite" {
        let pool = sqlite_pool(dir).await;
        sqlx::raw_sql(&ddl.replace("{B}", "BLOB"))
            .execute(&pool)
            .await
            .unwrap();
        insert_floor!(sqlx::Sqlite, &pool, table, rows)
    } else {
        let pool = sqlx::PgPool::connect(url.expose()).await.unwrap();
        sqlx::raw_sql(&ddl.replace("{B}", "BYTEA"))
            .execute(&pool)
            .await
            .unwrap();
        insert_floor!(sqlx::Postgres, &pool, table, rows)
    }
}

pub async fn scan_rows_per_sec(backend: &str, url: &DatabaseUrl, dir: &Path) -> f64 {
    const SCAN: &str = "SELECT * FROM floor ORDER BY seq";
    let started = Instant::now();
    let rows = if backend == "sqlite" {
        let pool = sqlite_pool(dir).await;
        sqlx::query(SCAN).fetch_all(&pool).await.unwrap().len()
    } else {
        let pool = sqlx::PgPool::connect(url.expose()).await.unwrap();
        sqlx::query(SCAN).fetch_all(&pool).await.unwrap().len()
    };
    rows as f64 / started.elapsed().as_secs_f64()
}

async fn sqlite_pool(dir: &Path) -> sqlx::SqlitePool {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let options = SqliteConnectOptions::new()
        .filename(dir.join("floor.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let options = waledger::store::SQLITE_TUNING
        .iter()
        .fold(options, |o, (name, value)| o.pragma(*name, *value));
    sqlx::SqlitePool::connect_with(options).await.unwrap()
}

pub async fn drop_pg(admin: &str, name: &str) {
    let pool = sqlx::PgPool::connect(admin).await.unwrap();
    for db in [name.to_string(), format!("{name}_keys")] {
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&pool)
            .await;
    }
}
