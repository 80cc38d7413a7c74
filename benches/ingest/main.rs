//! Ingest and verify throughput, each against a floor measured in the same run (these machines
//! are noisy, so only ratios compare across runs):
//! - ingest entries/s ÷ raw sqlx multi-row INSERT rows/s (rows of the same size, same settings);
//! - verify entries/s ÷ a raw `SELECT` of the same rows;
//! - peak resident memory of the real binary's `ingest` and `verify` at two input sizes (flat?).
//!
//! `cargo bench --bench ingest -- [--entries N] [--postgres URL] [--backend sqlite|postgres]` (default 1,000,000 entries;
//! PostgreSQL also from WALEDGER_TEST_DATABASE_URL).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;
use waledger::crypto::MasterKey;
use waledger::ingest::Ingestor;
use waledger::ledger::Ledger;
use waledger::store::{self, DatabaseUrl};

#[path = "../support.rs"]
mod support;

mod floor;

#[tokio::main]
async fn main() {
    let target: u64 = support::arg("--entries")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let pg = support::arg("--postgres")
        .or_else(|| std::env::var("WALEDGER_TEST_DATABASE_URL").ok())
        .filter(|u| !u.is_empty());

    let dir = tempfile::tempdir().expect("temp dir");
    let traffic = dir.path().join("traffic.jsonl");
    let messages = simulate_until(&traffic, target);
    println!(
        "input: {messages} simulated messages ({} MB of envelopes)",
        std::fs::metadata(&traffic).unwrap().len() / 1_000_000
    );

    let started = Instant::now();
    let entries = support::count_entries(&traffic);
    println!(
        "parse + extract alone: {:.0} entries/s",
        entries as f64 / started.elapsed().as_secs_f64()
    );

    let only = support::arg("--backend");
    let sqlite = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .unwrap();
    let sqlite_keys = store::default_keystore_url(&sqlite);
    if only.as_deref().is_none_or(|b| b == "sqlite") {
        run_backend("sqlite", &sqlite, &sqlite_keys, &traffic, dir.path()).await;
    }
    if let Some(admin) = pg.filter(|_| only.as_deref().is_none_or(|b| b == "postgres")) {
        let base = support::server_base(&admin);
        let name = format!("wl_bench_{}", std::process::id());
        let url = DatabaseUrl::parse(&format!("{base}/{name}")).unwrap();
        run_backend(
            "postgres",
            &url,
            &store::default_keystore_url(&url),
            &traffic,
            dir.path(),
        )
        .await;
        floor::drop_pg(&admin, &name).await;
    } else {
        println!("postgres: skipped (set WALEDGER_TEST_DATABASE_URL or pass --postgres URL)");
    }
    if only.is_none() {
        peak_memory(&traffic, dir.path(), messages);
    }
}

/// Writes simulated traffic, sized so that it yields about `target` entries.
fn simulate_until(path: &Path, target: u64) -> u64 {
    let dir = path.parent().expect("the traffic file is in a folder");
    let messages = support::messages_for(dir, target, 42, 30);
    support::write_traffic(path, messages, 42, 30);
    messages
}

async fn run_backend(
    name: &str,
    url: &DatabaseUrl,
    keys: &DatabaseUrl,
    traffic: &Path,
    dir: &Path,
) {
    let master = MasterKey::generate();
    let store = store::connect(url, keys).await.expect("bench store");
    let mut ledger = Ledger::open(store, &master, waledger::clock::now())
        .await
        .unwrap();

    let started = Instant::now();
    let mut ingestor = Ingestor::new(&mut ledger, waledger::clock::now());
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(traffic).unwrap());
    for (i, line) in reader.split(b'\n').enumerate() {
        ingestor
            .push_line("bench", i as u64 + 1, &line.unwrap(), None)
            .await
            .unwrap();
    }
    let summary = ingestor.finish().await.unwrap();
    let ingest_secs = started.elapsed().as_secs_f64();
    let entries = summary.entries;
    let ingest_rate = entries as f64 / ingest_secs;

    let started = Instant::now();
    let report = ledger.verify(&mut |_| {}).await.unwrap();
    let verify_rate = report.entries_checked as f64 / started.elapsed().as_secs_f64();
    assert!(report.ok, "the bench ledger must verify");
    ledger.store().close().await;

    let insert_floor = floor::insert_rows_per_sec(name, url, dir, entries, false).await;
    let indexed_floor = floor::insert_rows_per_sec(name, url, dir, entries, true).await;
    let scan_floor = floor::scan_rows_per_sec(name, url, dir).await;
    println!(
        "{name}: ingest {entries} entries in {ingest_secs:.1}s = {ingest_rate:.0} entries/s; \
         raw multi-row INSERT floor {insert_floor:.0} rows/s: ratio {:.2}; \
         with the two lookup indexes {indexed_floor:.0} rows/s: ratio {:.2}",
        ingest_rate / insert_floor,
        ingest_rate / indexed_floor
    );
    println!(
        "{name}: verify {} entries = {verify_rate:.0} entries/s; raw SELECT floor {scan_floor:.0} rows/s; ratio {:.2}",
        report.entries_checked,
        verify_rate / scan_floor
    );
}

/// Peak resident memory of the real binary's ingest and verify, at a tenth and at the full size.
fn peak_memory(traffic: &Path, dir: &Path, messages: u64) {
    let small = dir.join("small.jsonl");
    support::write_traffic(&small, (messages / 10).max(1), 42, 30);
    for (label, input) in [("1/10 size", small), ("full size", traffic.to_path_buf())] {
        let work = tempfile::tempdir_in(dir).unwrap();
        support::peak_kb(work.path(), &["init"]);
        let ingest_kb = support::peak_kb(work.path(), &["ingest", input.to_str().unwrap()]);
        let verify_kb = support::peak_kb(work.path(), &["verify"]);
        println!(
            "peak memory ({label}): ingest {} MB, verify {} MB",
            ingest_kb / 1024,
            verify_kb / 1024
        );
    }
}
