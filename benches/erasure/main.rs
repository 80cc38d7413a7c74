//! Erasure latency and throughput, each against a floor measured in the same run (these machines
//! are noisy, so only the ratios compare across runs):
//! 1. one data subject erased among N entries (default 10,000,000 on SQLite, 2,000,000 on
//!    PostgreSQL; the target is under 5 ms median): for a sample of subjects (distinct recipient
//!    numbers of the simulated traffic), `Ledger::request_erasure` then `erasure::carry_out`
//!    (key destroyed, values erased, index/envelope/subject rows deleted, erasure entry appended,
//!    request completed), timed alone and with the registration; median, p99 and the entries
//!    erased per subject. Floor: on a copy of the same ledger, for the same subject ids, one
//!    transaction of the raw indexed `UPDATE content SET state='erased', sealed=NULL WHERE
//!    subject_key = $1 AND subject_id = $2` and `DELETE FROM subject_index WHERE subject_id = $1`
//!    (same rows, no chain entry, no key destruction). The two sides alternate subject by subject.
//!    `waledger erase` also scrubs after `carry_out` (SQLite: a WAL checkpoint; PostgreSQL:
//!    `VACUUM data_keys`); that is timed separately and not included in `carry_out`. After each
//!    floor transaction the copy's WAL is checkpointed too (untimed), so both sides start every
//!    erasure from an empty WAL.
//! 2. `erasure run` over R pending requests (default 10,000) for other subjects of the traffic
//!    (filled with never-seen numbers when the traffic has too few, as the output says):
//!    `erasure::run_pending` timed as a whole (its final scrub included), in requests/s and
//!    entries erased/s. Floor: the same raw per-subject transactions for the same subjects on the
//!    copy, one per request (nothing for a never-seen number), in requests/s.
//!
//! On a PostgreSQL server running without autovacuum, the bench ANALYZEs the fresh ledger (and,
//! in part 2, after registering the requests) as autovacuum would, since without statistics the
//! planner scans a whole index for every erasure; `--no-analyze` skips that to show it.
//!
//! `cargo bench --bench erasure -- [--entries N] [--requests R] [--sample S] [--backend sqlite|postgres] [--no-analyze]`
//! (default: both backends, S = 100 subjects after 3 warm-up ones; PostgreSQL from
//! WALEDGER_TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres). Building the
//! 10,000,000-entry SQLite ledger takes minutes; `--entries` makes smaller runs.

#[path = "../support.rs"]
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use waledger::crypto::MasterKey;
use waledger::domain::{ErasureState, PhoneNumber, SubjectId};
use waledger::erasure::{self, NewRequest};
use waledger::ingest::Ingestor;
use waledger::ledger::Ledger;
use waledger::store::{self, DatabaseUrl};

const SQLITE_ENTRIES: u64 = 10_000_000;
const POSTGRES_ENTRIES: u64 = 2_000_000;
const REQUESTS: usize = 10_000;
const SAMPLE: usize = 100;
const WARMUP: usize = 3;

struct Args {
    entries: Option<u64>,
    requests: usize,
    sample: usize,
    only: Option<String>,
    /// `--no-analyze`: leave PostgreSQL's statistics as the bulk load left them.
    no_analyze: bool,
}

#[tokio::main]
async fn main() {
    let args = Args {
        entries: support::arg("--entries").and_then(|n| n.parse().ok()),
        requests: support::arg("--requests")
            .and_then(|n| n.parse().ok())
            .unwrap_or(REQUESTS),
        sample: support::arg("--sample")
            .and_then(|n| n.parse().ok())
            .unwrap_or(SAMPLE)
            .max(1),
        only: support::arg("--backend"),
        no_analyze: std::env::args().any(|a| a == "--no-analyze"),
    };
    let wants = |b: &str| args.only.as_deref().is_none_or(|o| o == b);
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate();
    let mut summary = Vec::new();

    if wants("sqlite") {
        let n = args.entries.unwrap_or(SQLITE_ENTRIES);
        let numbers = simulate(dir.path(), n);
        let url = sqlite_url(&dir.path().join("a.db"));
        let built = build("sqlite", &url, &master, &dir.path().join(traffic_name(n))).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::copy(
                dir.path().join(format!("a.db{suffix}")),
                dir.path().join(format!("b.db{suffix}")),
            );
        }
        let floor = Floor::sqlite(&dir.path().join("b.db")).await;
        let bench = Bench {
            name: "sqlite",
            url: &url,
            master: &master,
            floor: &floor,
            target: n,
            built,
            analyze: false,
        };
        bench.run(&numbers, &args, &mut summary).await;
        floor.close().await;
    }
    match std::env::var("WALEDGER_TEST_DATABASE_URL") {
        Ok(admin) if wants("postgres") && !admin.is_empty() => {
            let n = args.entries.unwrap_or(POSTGRES_ENTRIES);
            let numbers = simulate(dir.path(), n);
            let base = support::server_base(&admin);
            let (a, b) = (
                format!("wl_erasure_a_{}", std::process::id()),
                format!("wl_erasure_b_{}", std::process::id()),
            );
            let url = DatabaseUrl::parse(&format!("{base}/{a}")).unwrap();
            let built = build("postgres", &url, &master, &dir.path().join(traffic_name(n))).await;
            // Statistics first, so the copy (a file-level clone) has the same ones.
            let analyze = !args.no_analyze && analyze_if_no_autovacuum("postgres", &url).await;
            let pool = sqlx::PgPool::connect(&admin).await.unwrap();
            sqlx::raw_sql(&format!("CREATE DATABASE {b} TEMPLATE {a}"))
                .execute(&pool)
                .await
                .unwrap();
            let floor = Floor::Pg(sqlx::PgPool::connect(&format!("{base}/{b}")).await.unwrap());
            let bench = Bench {
                name: "postgres",
                url: &url,
                master: &master,
                floor: &floor,
                target: n,
                built,
                analyze,
            };
            bench.run(&numbers, &args, &mut summary).await;
            floor.close().await;
            for db in [a.clone(), format!("{a}_keys"), b] {
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .execute(&pool)
                    .await;
            }
        }
        _ if wants("postgres") => {
            println!("postgres: skipped (set WALEDGER_TEST_DATABASE_URL)");
        }
        _ => {}
    }

    println!();
    println!("== erasure bench summary (ratios: waledger ÷ raw SQL floor, same run) ==");
    for line in &summary {
        println!("{line}");
    }
}

fn sqlite_url(path: &Path) -> DatabaseUrl {
    DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap()
}

fn traffic_name(entries: u64) -> String {
    format!("traffic-{entries}.jsonl")
}

/// Writes simulated traffic of about `target` entries into `dir` (once per size) and returns its
/// distinct recipient numbers, one per person (aliases folded), in a fixed order.
fn simulate(dir: &Path, target: u64) -> Vec<PhoneNumber> {
    let path = dir.join(traffic_name(target));
    if !path.exists() {
        let messages = support::messages_for(dir, target, 17, 30);
        let started = Instant::now();
        support::write_traffic(&path, messages, 17, 30);
        println!(
            "traffic for ~{target} entries: {messages} simulated messages ({} MB) in {:.0}s",
            std::fs::metadata(&path).unwrap().len() / 1_000_000,
            started.elapsed().as_secs_f64()
        );
    }
    recipients(&path)
}

/// The `to` of every send, normalised, one number per person (keyed by its smallest alias).
fn recipients(traffic: &Path) -> Vec<PhoneNumber> {
    let mut people: BTreeMap<String, PhoneNumber> = BTreeMap::new();
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(traffic).unwrap());
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        if !line.starts_with(br#"{"kind":"send""#) {
            continue;
        }
        let envelope: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let Some(phone) = envelope["request"]["to"]
            .as_str()
            .and_then(PhoneNumber::from_wire)
        else {
            continue;
        };
        let key = phone
            .aliases()
            .iter()
            .map(|p| p.expose_e164().to_string())
            .min()
            .unwrap();
        people.entry(key).or_insert(phone);
    }
    people.into_values().collect()
}

/// Ingests the traffic into a new ledger; returns (entries, seconds).
async fn build(name: &str, url: &DatabaseUrl, master: &MasterKey, traffic: &Path) -> (u64, f64) {
    let started = Instant::now();
    let store = store::connect(url, &store::default_keystore_url(url))
        .await
        .unwrap();
    let mut ledger = Ledger::open(store, master, waledger::clock::now())
        .await
        .unwrap();
    let mut ingestor = Ingestor::new(&mut ledger, waledger::clock::now());
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(traffic).unwrap());
    for (i, line) in reader.split(b'\n').enumerate() {
        ingestor
            .push_line("bench", i as u64 + 1, &line.unwrap(), None)
            .await
            .unwrap();
    }
    let entries = ingestor.finish().await.unwrap().entries;
    ledger.store().close().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name}: built a ledger of {entries} entries in {secs:.0}s ({:.0} entries/s)",
        entries as f64 / secs
    );
    (entries, secs)
}

/// A fresh PostgreSQL ledger has no planner statistics until autovacuum analyzes it; on a server
/// that runs without autovacuum (test servers often do), this ANALYZEs the ledger as autovacuum
/// would. Without statistics the planner takes the wrong index for erasure's `state = 'held'
/// AND subject_key IN (…)` queries (`--no-analyze` shows it). `true` when it did.
async fn analyze_if_no_autovacuum(name: &str, url: &DatabaseUrl) -> bool {
    let pool = sqlx::PgPool::connect(url.expose()).await.unwrap();
    let autovacuum: String = sqlx::query_scalar("SHOW autovacuum")
        .fetch_one(&pool)
        .await
        .unwrap();
    let off = autovacuum == "off";
    if off {
        let started = Instant::now();
        sqlx::query("ANALYZE").execute(&pool).await.unwrap();
        println!(
            "{name}: autovacuum is off on this server; ran ANALYZE on the ledger as autovacuum would ({:.1}s, untimed)",
            started.elapsed().as_secs_f64()
        );
    }
    pool.close().await;
    off
}

/// The raw SQL floor, on a copy of the ledger.
enum Floor {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

const FLOOR_UPDATE: &str =
    "UPDATE content SET state = 'erased', sealed = NULL WHERE subject_key = $1 AND subject_id = $2";
const FLOOR_DELETE: &str = "DELETE FROM subject_index WHERE subject_id = $1";

macro_rules! erase_raw {
    ($pool:expr, $subjects:expr) => {{
        let mut tx = $pool.begin().await.unwrap();
        let mut rows = 0;
        for subject in $subjects {
            let key = SubjectId::from_stored(subject.clone()).index_key();
            rows += sqlx::query(FLOOR_UPDATE)
                .bind(key)
                .bind(subject.as_str())
                .execute(&mut *tx)
                .await
                .unwrap()
                .rows_affected();
            sqlx::query(FLOOR_DELETE)
                .bind(subject.as_str())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        rows
    }};
}

impl Floor {
    /// The ledger's own connection settings (WAL, synchronous=FULL, secure_delete, tuning).
    async fn sqlite(path: &Path) -> Self {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("secure_delete", "on");
        let options = waledger::store::SQLITE_TUNING
            .iter()
            .fold(options, |o, (k, v)| o.pragma(*k, *v));
        Self::Sqlite(sqlx::SqlitePool::connect_with(options).await.unwrap())
    }

    /// Erases these subjects in one transaction; the content rows updated.
    async fn erase(&self, subjects: &[String]) -> u64 {
        if subjects.is_empty() {
            return 0;
        }
        match self {
            Self::Sqlite(pool) => erase_raw!(pool, subjects),
            Self::Pg(pool) => erase_raw!(pool, subjects),
        }
    }

    /// Empties the copy's WAL (SQLite), as `waledger erase` does after each erasure.
    async fn checkpoint(&self) {
        if let Self::Sqlite(pool) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .unwrap();
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Pg(pool) => pool.close().await,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn subjects_of(row: &waledger::store::ErasureRow) -> Vec<String> {
    row.subjects
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

fn request(phone: &PhoneNumber, now: chrono::DateTime<chrono::Utc>) -> NewRequest<'_> {
    NewRequest {
        phone,
        reference: Some("bench"),
        requested_by: Some("bench"),
        received_at: now,
    }
}

struct Bench<'a> {
    name: &'a str,
    url: &'a DatabaseUrl,
    master: &'a MasterKey,
    floor: &'a Floor,
    /// Entries asked for (`--entries` or the backend's default).
    target: u64,
    /// Entries in the ledger and seconds it took to build.
    built: (u64, f64),
    /// PostgreSQL without autovacuum: ANALYZE after each bulk change, as autovacuum would.
    analyze: bool,
}

impl Bench<'_> {
    async fn run(&self, numbers: &[PhoneNumber], args: &Args, summary: &mut Vec<String>) {
        let (entries, build_secs) = self.built;
        println!(
            "{}: N = {entries} entries (asked for ~{}), built in {build_secs:.0}s; {} distinct subjects in the traffic",
            self.name,
            self.target,
            numbers.len()
        );
        // The sample (warm-up first), spread evenly over the numbers; the rest for `erasure run`.
        let wanted = (args.sample + WARMUP).min(numbers.len() / 2).max(1);
        let picked: HashSet<usize> = (0..wanted).map(|i| i * numbers.len() / wanted).collect();
        let sample: Vec<&PhoneNumber> = (0..numbers.len())
            .filter(|i| picked.contains(i))
            .map(|i| &numbers[i])
            .collect();
        let rest: Vec<&PhoneNumber> = (0..numbers.len())
            .filter(|i| !picked.contains(i))
            .map(|i| &numbers[i])
            .collect();
        let store = store::connect(self.url, &store::default_keystore_url(self.url))
            .await
            .unwrap();
        let mut ledger = Ledger::open(store, self.master, waledger::clock::now())
            .await
            .unwrap();
        self.one_subject(&mut ledger, &sample, entries, summary)
            .await;
        self.pending_run(&mut ledger, &rest, args.requests, entries, summary)
            .await;
        ledger.store().close().await;
    }

    /// Part 1: one subject at a time, waledger and floor alternating.
    async fn one_subject(
        &self,
        ledger: &mut Ledger,
        sample: &[&PhoneNumber],
        n: u64,
        summary: &mut Vec<String>,
    ) {
        let name = self.name;
        let warmup = WARMUP.min(sample.len().saturating_sub(1));
        let (mut carry, mut whole, mut scrub, mut floor) = (vec![], vec![], vec![], vec![]);
        let (mut erased, mut floor_rows) = (vec![], 0u64);
        let mut waledger_rows = 0u64;
        for (i, phone) in sample.iter().enumerate() {
            let now = waledger::clock::now();
            let t0 = Instant::now();
            let id = ledger
                .request_erasure(request(phone, now), now)
                .await
                .unwrap();
            let t1 = Instant::now();
            let row = erasure::carry_out(ledger.store(), &id, now)
                .await
                .unwrap()
                .unwrap();
            let t2 = Instant::now();
            ledger.store().scrub().await.unwrap();
            let t3 = Instant::now();
            assert_eq!(row.state, ErasureState::Completed);
            let subjects = subjects_of(&row);
            let f0 = Instant::now();
            let rows = self.floor.erase(&subjects).await;
            let f1 = Instant::now();
            self.floor.checkpoint().await;
            if i < warmup {
                continue;
            }
            carry.push((t2 - t1).as_secs_f64() * 1e3);
            whole.push((t2 - t0).as_secs_f64() * 1e3);
            scrub.push((t3 - t2).as_secs_f64() * 1e3);
            floor.push((f1 - f0).as_secs_f64() * 1e3);
            erased.push(row.entries_erased as f64);
            waledger_rows += row.entries_erased as u64;
            floor_rows += rows;
        }
        let s = carry.len();
        let (carry, whole, scrub, floor, erased) = (
            sorted(carry),
            sorted(whole),
            sorted(scrub),
            sorted(floor),
            sorted(erased),
        );
        if floor_rows != waledger_rows {
            println!("{name}: WARNING the floor updated {floor_rows} rows, waledger erased {waledger_rows}");
        }
        let med = |v: &[f64]| percentile(v, 0.5);
        let p99 = |v: &[f64]| percentile(v, 0.99);
        let head = format!("{name:<8} N={n:<9} S={s:<4}");
        let lines = [
            format!(
                "{head} carry_out                     median {:>8.3} ms  p99 {:>8.3} ms  (target: median < 5 ms)",
                med(&carry),
                p99(&carry)
            ),
            format!(
                "{head} request_erasure + carry_out   median {:>8.3} ms  p99 {:>8.3} ms",
                med(&whole),
                p99(&whole)
            ),
            format!(
                "{head} entries erased per subject    median {:>8.0}     min {:.0}, max {:.0}, total {waledger_rows}",
                med(&erased),
                erased[0],
                erased[erased.len() - 1]
            ),
            format!(
                "{head} floor: raw UPDATE+DELETE tx   median {:>8.3} ms  p99 {:>8.3} ms  ({floor_rows} rows)",
                med(&floor),
                p99(&floor)
            ),
            format!(
                "{head} ratio carry_out / floor       median {:>8.2}x    p99 {:>8.2}x",
                med(&carry) / med(&floor),
                p99(&carry) / p99(&floor)
            ),
            format!(
                "{head} scrub after each (not in carry_out; `waledger erase` adds it: {}) median {:.3} ms  p99 {:.3} ms",
                if name == "sqlite" {
                    "WAL checkpoint(TRUNCATE) of ledger and key store"
                } else {
                    "VACUUM data_keys"
                },
                med(&scrub),
                p99(&scrub)
            ),
        ];
        for line in lines {
            println!("{line}");
            summary.push(line);
        }
    }

    /// Part 2: `erasure run` over `r` pending requests, then the floor for the same subjects.
    async fn pending_run(
        &self,
        ledger: &mut Ledger,
        rest: &[&PhoneNumber],
        r: usize,
        n: u64,
        summary: &mut Vec<String>,
    ) {
        let name = self.name;
        let mut phones: Vec<PhoneNumber> = if rest.len() > r {
            (0..r).map(|i| rest[i * rest.len() / r].clone()).collect()
        } else {
            rest.iter().map(|p| (*p).clone()).collect()
        };
        let seen = phones.len();
        // Never-seen numbers: the unassigned country code 999, so no simulated subject has one.
        phones.extend((seen..r).map(|i| PhoneNumber::from_wire(&format!("+999{i:09}")).unwrap()));
        let unseen = r - seen;
        if unseen > 0 {
            println!(
                "{name}: the traffic has only {seen} distinct subjects besides the sample; \
                 {unseen} of the {r} requests are for never-seen numbers"
            );
        }
        let started = Instant::now();
        let mut ids = Vec::with_capacity(r);
        for phone in &phones {
            let now = waledger::clock::now();
            ids.push(
                ledger
                    .request_erasure(request(phone, now), now)
                    .await
                    .unwrap(),
            );
        }
        println!(
            "{name}: registered {r} requests in {:.1}s (not timed below)",
            started.elapsed().as_secs_f64()
        );
        if self.analyze {
            analyze_if_no_autovacuum(name, self.url).await;
        }

        let now = waledger::clock::now();
        let started = Instant::now();
        let outcome =
            erasure::run_pending(ledger.store(), now, &mut |_, _| {}, &AtomicBool::new(false))
                .await
                .unwrap();
        let run_secs = started.elapsed().as_secs_f64();
        assert_eq!(outcome.completed, r as u64, "every request completes");

        let by_id: HashMap<String, Vec<String>> = ledger
            .store()
            .erasure_requests(false)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.id.clone(), subjects_of(row)))
            .collect();
        let started = Instant::now();
        let mut floor_rows = 0;
        for id in &ids {
            floor_rows += self.floor.erase(&by_id[id]).await;
        }
        let floor_secs = started.elapsed().as_secs_f64();
        if floor_rows != outcome.entries_erased {
            println!(
                "{name}: WARNING the floor updated {floor_rows} rows, erasure run erased {}",
                outcome.entries_erased
            );
        }
        let (rate, floor_rate) = (r as f64 / run_secs, r as f64 / floor_secs);
        let head = format!("{name:<8} N={n:<9} R={r:<6}");
        let lines = [
            format!(
                "{head} erasure run (run_pending)     {rate:>9.1} requests/s  {:>10.0} entries erased/s  ({run_secs:.1}s, {} entries; {seen} traffic subjects + {unseen} never-seen)",
                outcome.entries_erased as f64 / run_secs,
                outcome.entries_erased
            ),
            format!(
                "{head} floor: raw UPDATE+DELETE txs  {floor_rate:>9.1} requests/s  {:>10.0} rows/s            ({floor_secs:.1}s, {floor_rows} rows; nothing for never-seen)",
                floor_rows as f64 / floor_secs
            ),
            format!(
                "{head} ratio erasure run / floor     {:>9.3}x (requests/s)",
                rate / floor_rate
            ),
        ];
        for line in lines {
            println!("{line}");
            summary.push(line);
        }
    }
}
