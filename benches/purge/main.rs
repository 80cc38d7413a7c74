//! Purge throughput against a floor measured in the same run: a ledger of ~2,000,000 simulated
//! entries, about half of them due, is copied; the purge runs on one copy, a raw chunked DELETE of
//! the same due rows (5,000 per transaction, no tombstones, no hold check) on the other. Also the
//! dry run's time over the whole ledger, and the peak memory of the real binary's purge.
//!
//! `cargo bench --bench purge -- [--entries N] [--backend sqlite|postgres]` (PostgreSQL from
//! WALEDGER_TEST_DATABASE_URL).

#[path = "../support.rs"]
mod support;

use std::io::{BufRead, BufReader, BufWriter};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use waledger::crypto::MasterKey;
use waledger::ingest::Ingestor;
use waledger::ledger::Ledger;
use waledger::policy::RetentionPolicy;
use waledger::retention::{self, PurgeOptions};
use waledger::simulate::{generate, SimulateOptions};
use waledger::store::{self, DatabaseUrl};

const POLICY: &str =
    "[windows]\nphone_number = \"30d\"\ntext = \"30d\"\nmedia = \"30d\"\nmetadata = \"30d\"\n";
const FLOOR_BATCH: usize = 5_000;

#[tokio::main]
async fn main() {
    let target: u64 = support::arg("--entries")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000);
    let only = support::arg("--backend");
    let policy = RetentionPolicy::parse(Path::new("bench.toml"), POLICY).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let traffic = dir.path().join("traffic.jsonl");
    // About 23 entries per simulated message; 60 days of traffic, a 30-day window: half is due.
    let options = SimulateOptions {
        messages: target / 23,
        seed: 3,
        days: 60,
        until: waledger::clock::now(),
    };
    generate(
        &options,
        &mut BufWriter::new(std::fs::File::create(&traffic).unwrap()),
    )
    .unwrap();

    if only.as_deref().is_none_or(|b| b == "sqlite") {
        let ledger =
            DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("a.db").display())).unwrap();
        let entries = build(&ledger, &traffic).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::copy(
                dir.path().join(format!("a.db{suffix}")),
                dir.path().join(format!("b.db{suffix}")),
            );
        }
        let copy =
            DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("b.db").display())).unwrap();
        measure("sqlite", &ledger, &copy, &policy, entries).await;
        peak_memory(dir.path());
    }
    if let Some(admin) = std::env::var("WALEDGER_TEST_DATABASE_URL")
        .ok()
        .filter(|_| only.as_deref().is_none_or(|b| b == "postgres"))
    {
        let base = support::server_base(&admin);
        let (a, b) = (
            format!("wl_purge_a_{}", std::process::id()),
            format!("wl_purge_b_{}", std::process::id()),
        );
        let ledger = DatabaseUrl::parse(&format!("{base}/{a}")).unwrap();
        let entries = build(&ledger, &traffic).await;
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {b} TEMPLATE {a}"))
            .execute(&pool)
            .await
            .unwrap();
        let copy = DatabaseUrl::parse(&format!("{base}/{b}")).unwrap();
        measure("postgres", &ledger, &copy, &policy, entries).await;
        for db in [a.clone(), format!("{a}_keys"), b] {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&pool)
                .await;
        }
    }
}

async fn build(url: &DatabaseUrl, traffic: &Path) -> u64 {
    let store = store::connect(url, &store::default_keystore_url(url))
        .await
        .unwrap();
    let mut ledger = Ledger::open(store, &MasterKey::generate(), waledger::clock::now())
        .await
        .unwrap();
    let mut ingestor = Ingestor::new(&mut ledger, waledger::clock::now());
    for (i, line) in BufReader::new(std::fs::File::open(traffic).unwrap())
        .split(b'\n')
        .enumerate()
    {
        ingestor
            .push_line("bench", i as u64 + 1, &line.unwrap(), None)
            .await
            .unwrap();
    }
    let entries = ingestor.finish().await.unwrap().entries;
    ledger.store().close().await;
    entries
}

async fn measure(
    name: &str,
    url: &DatabaseUrl,
    copy: &DatabaseUrl,
    policy: &RetentionPolicy,
    entries: u64,
) {
    let store = store::connect(url, &store::default_keystore_url(url))
        .await
        .unwrap();
    let now = waledger::clock::now();
    let started = Instant::now();
    let plan = retention::plan(store.as_ref(), policy, now).await.unwrap();
    let dry_secs = started.elapsed().as_secs_f64();
    let due = plan.total();

    let started = Instant::now();
    let outcome = retention::run_once(
        store.as_ref(),
        policy,
        now,
        PurgeOptions::RUN,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .await
    .unwrap();
    let purge_secs = started.elapsed().as_secs_f64();
    assert_eq!(outcome.total, due);
    store.close().await;

    let floor_secs = floor_delete(name, copy, policy, now.timestamp()).await;
    let (rate, floor) = (due as f64 / purge_secs, due as f64 / floor_secs);
    println!("{name}: ledger of {entries} entries, {due} due; dry run {dry_secs:.2}s");
    println!("{name}: purge {rate:.0} entries/s ({purge_secs:.1}s); raw chunked DELETE floor {floor:.0} rows/s; ratio {:.2}", rate / floor);
}

/// Deletes the same due rows with nothing but chunked DELETEs, 5,000 per transaction.
async fn floor_delete(name: &str, copy: &DatabaseUrl, policy: &RetentionPolicy, now: i64) -> f64 {
    macro_rules! run {
        ($pool:expr, $db:ty) => {{
            let pool = $pool;
            let cutoff = policy.cutoff(waledger::domain::FieldKind::MessageText, now);
            let seqs: Vec<i64> = sqlx::query_scalar(
                "SELECT seq FROM content WHERE state = 'held' AND occurred_at <= $1",
            )
            .bind(cutoff)
            .fetch_all(&pool)
            .await
            .unwrap();
            let started = Instant::now();
            for chunk in seqs.chunks(FLOOR_BATCH) {
                let mut tx = pool.begin().await.unwrap();
                for part in chunk.chunks(500) {
                    let mut qb =
                        sqlx::QueryBuilder::<$db>::new("DELETE FROM content WHERE seq IN (");
                    let mut list = qb.separated(", ");
                    for seq in part {
                        list.push_bind(*seq);
                    }
                    qb.push(")");
                    qb.build().execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            pool.close().await;
            secs
        }};
    }
    if name == "sqlite" {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(copy.sqlite_path().unwrap())
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .pragma("secure_delete", "on");
        let options = waledger::store::SQLITE_TUNING
            .iter()
            .fold(options, |o, (k, v)| o.pragma(*k, *v));
        run!(
            sqlx::SqlitePool::connect_with(options).await.unwrap(),
            sqlx::Sqlite
        )
    } else {
        run!(
            sqlx::PgPool::connect(copy.expose()).await.unwrap(),
            sqlx::Postgres
        )
    }
}

/// Peak RSS of `waledger purge --dry-run` and of a real purge by the release binary, on a fresh
/// copy of the ledger (there is nothing left to purge in the measured ones).
fn peak_memory(dir: &Path) {
    let work = tempfile::tempdir_in(dir).unwrap();
    std::fs::create_dir_all(work.path().join("policies")).unwrap();
    std::fs::write(
        work.path().join("policies/retention.toml"),
        POLICY.replace("30d", "20d"),
    )
    .unwrap();
    for suffix in ["", "-wal", "-shm"] {
        for (from, to) in [("b.db", "waledger.db"), ("b.keys.db", "waledger.keys.db")] {
            let _ = std::fs::copy(
                dir.join(format!("{from}{suffix}")),
                work.path().join(format!("{to}{suffix}")),
            );
        }
    }
    for args in [&["purge", "--dry-run"][..], &["purge"][..]] {
        let kb = support::peak_kb(work.path(), args);
        println!(
            "peak memory of `waledger {}`: {} MB",
            args.join(" "),
            kb / 1024
        );
    }
}
