//! Compliance report time against a floor measured in the same run (these machines are noisy, so
//! only the ratio compares across runs): a ledger of N simulated entries over 60 days (default
//! 10,000,000 on SQLite, where the target is under 2 s; 2,000,000 on PostgreSQL), purged with a
//! 30-day policy (about half the values become `purged`), a handful of subjects erased and one
//! held, so the report sees every state.
//! - `report::build` for the last 90 days (all the traffic): median and min of 5 runs, and the
//!   report's own `summary.recorded` to show it covered the N entries; then each of the report's
//!   queries timed alone once, to show which dominates.
//! - Floor: the bare `SELECT field, direction, state, count(*) FROM content WHERE occurred_at >= $1
//!   AND occurred_at < $2 GROUP BY field, direction, state` over the same period (5 runs, median),
//!   alternated with the report's runs after one warm-up of each (printed, not in the figures).
//!   Ratio = report median ÷ floor median.
//! - Rendering the built report as JSON (as `waledger report --format json` does) and HTML.
//! - Peak resident memory (VmHWM) of the real binary's `waledger report --format json --from DATE`
//!   on the same database, and its wall time.
//!
//! `cargo bench --bench report -- [--entries N] [--backend sqlite|postgres] [--keep DIR]
//! [--vacuum]` (default: both backends; PostgreSQL from WALEDGER_TEST_DATABASE_URL, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres). `--keep DIR` builds the ledgers in DIR and keeps
//! them (the PostgreSQL one as database `wl_report_keep_N`); a later run with the same DIR and N
//! measures them again without rebuilding. On PostgreSQL the bench prints whether autovacuum is
//! on and whether `content` was ever analyzed (the ledger is measured as ingest and purge left
//! it); `--vacuum` runs `VACUUM (ANALYZE)` on its tables first (untimed). Before measuring, the
//! bench waits (up to 2 minutes) for the 1-minute load average to fall below 1.5, and prints the
//! load it measured under.

#[path = "../support.rs"]
mod support;

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use waledger::crypto::MasterKey;
use waledger::domain::{Direction, FieldKind, PhoneNumber, RecordKind};
use waledger::erasure::{self, NewRequest};
use waledger::ingest::Ingestor;
use waledger::ledger::Ledger;
use waledger::policy::{Policies, RetentionPolicy};
use waledger::report::{self, Period, Report};
use waledger::retention::{self, PurgeOptions};
use waledger::store::{self, DatabaseUrl, Store};

const SQLITE_ENTRIES: u64 = 10_000_000;
const POSTGRES_ENTRIES: u64 = 2_000_000;
const RUNS: usize = 5;
const TRAFFIC_DAYS: u32 = 60;
const PERIOD_DAYS: i64 = 90;
const ERASED: usize = 6;
const POLICY: &str =
    "[windows]\nphone_number = \"30d\"\ntext = \"30d\"\nmedia = \"30d\"\nmetadata = \"30d\"\n";
const FLOOR: &str = "SELECT field, direction, state, count(*) FROM content \
                     WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY field, direction, state";
const QUIET_LOAD: f64 = 1.5;
const SETTLE: Duration = Duration::from_secs(120);

#[tokio::main]
async fn main() {
    let entries: Option<u64> = support::arg("--entries").and_then(|n| n.parse().ok());
    let only = support::arg("--backend");
    let wants = |b: &str| only.as_deref().is_none_or(|o| o == b);
    let temp = tempfile::tempdir().unwrap();
    let keep = support::arg("--keep").map(PathBuf::from);
    let vacuum = std::env::args().any(|a| a == "--vacuum");
    let dir = keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let policies = Policies::new(RetentionPolicy::parse(Path::new("bench.toml"), POLICY).unwrap());
    println!("load at start: {}", load_text());
    let mut summary = Vec::new();

    if wants("sqlite") {
        let n = entries.unwrap_or(SQLITE_ENTRIES);
        let path = dir.join(format!("report-{n}.db"));
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let ready = dir.join(format!("report-{n}.sqlite.ready"));
        let built = if ready.exists() {
            println!("sqlite: reusing the ledger in {}", path.display());
            None
        } else {
            let built = make_ledger("sqlite", &url, &dir, n, &policies).await;
            std::fs::write(&ready, b"").unwrap();
            Some(built)
        };
        let floor = Floor::sqlite(&path).await;
        let bench = Bench {
            name: "sqlite",
            url: &url,
            floor: &floor,
            asked: n,
            defaulted: entries.is_none(),
            built,
            policies: &policies,
            dir: &dir,
            vacuum,
        };
        bench.run(&mut summary).await;
        floor.close().await;
    }
    match std::env::var("WALEDGER_TEST_DATABASE_URL") {
        Ok(admin) if wants("postgres") && !admin.is_empty() => {
            let n = entries.unwrap_or(POSTGRES_ENTRIES);
            let base = support::server_base(&admin);
            let name = if keep.is_some() {
                format!("wl_report_keep_{n}")
            } else {
                format!("wl_report_{}", std::process::id())
            };
            let url = DatabaseUrl::parse(&format!("{base}/{name}")).unwrap();
            let ready = dir.join(format!("report-{n}.postgres.ready"));
            let built = if keep.is_some() && ready.exists() {
                println!("postgres: reusing the ledger in database {name}");
                None
            } else {
                let pool = sqlx::PgPool::connect(&admin).await.unwrap();
                for db in [name.clone(), format!("{name}_keys")] {
                    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                }
                pool.close().await;
                let built = make_ledger("postgres", &url, &dir, n, &policies).await;
                std::fs::write(&ready, b"").unwrap();
                Some(built)
            };
            let floor = Floor::Pg(sqlx::PgPool::connect(url.expose()).await.unwrap());
            let bench = Bench {
                name: "postgres",
                url: &url,
                floor: &floor,
                asked: n,
                defaulted: entries.is_none(),
                built,
                policies: &policies,
                dir: &dir,
                vacuum,
            };
            bench.run(&mut summary).await;
            floor.close().await;
            if keep.is_none() {
                let pool = sqlx::PgPool::connect(&admin).await.unwrap();
                for db in [name.clone(), format!("{name}_keys")] {
                    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                        .execute(&pool)
                        .await;
                }
                pool.close().await;
            }
        }
        _ if wants("postgres") => println!("postgres: skipped (set WALEDGER_TEST_DATABASE_URL)"),
        _ => {}
    }

    println!();
    println!("== report bench summary (ratio: report::build ÷ bare GROUP BY floor, same run) ==");
    for line in &summary {
        println!("{line}");
    }
}

/// The 1-minute load average.
fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The three load averages, as `uptime` prints them.
fn load_text() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Waits (up to [`SETTLE`]) for the 1-minute load to fall below [`QUIET_LOAD`]; returns the
/// load averages measurement starts under.
fn settle(name: &str) -> String {
    let started = Instant::now();
    while load() >= QUIET_LOAD && started.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_secs(5));
    }
    let text = load_text();
    println!(
        "{name}: measuring under load {text} (waited {:.0}s{})",
        started.elapsed().as_secs_f64(),
        if load() >= QUIET_LOAD {
            "; still above 1.5, figures may be distorted"
        } else {
            ""
        }
    );
    text
}

/// Simulated traffic of about `target` entries over [`TRAFFIC_DAYS`] days (calibrated on a sample).
fn simulate(dir: &Path, target: u64) -> PathBuf {
    let path = dir.join(format!("traffic-{target}.jsonl"));
    let messages = support::messages_for(dir, target, 11, TRAFFIC_DAYS);
    let started = Instant::now();
    support::write_traffic(&path, messages, 11, TRAFFIC_DAYS);
    println!(
        "traffic for ~{target} entries: {messages} simulated messages over {TRAFFIC_DAYS} days ({} MB) in {:.0}s",
        std::fs::metadata(&path).unwrap().len() / 1_000_000,
        started.elapsed().as_secs_f64()
    );
    path
}

/// Recipients of `count + 1` sends spread over the traffic (the first send after each of evenly
/// spaced byte offsets), distinct.
fn spread_recipients(traffic: &Path, count: usize) -> Vec<PhoneNumber> {
    let size = std::fs::metadata(traffic).unwrap().len();
    let mut file = std::fs::File::open(traffic).unwrap();
    let mut phones: Vec<PhoneNumber> = Vec::new();
    for i in 1..=count + 1 {
        file.seek(SeekFrom::Start(size * i as u64 / (count as u64 + 2)))
            .unwrap();
        let mut lines = BufReader::new(&mut file).split(b'\n').skip(1);
        let phone = lines.find_map(|line| {
            let line = line.ok()?;
            if !line.starts_with(br#"{"kind":"send""#) {
                return None;
            }
            let envelope: serde_json::Value = serde_json::from_slice(&line).ok()?;
            let phone = PhoneNumber::from_wire(envelope["request"]["to"].as_str()?)?;
            (!phones.contains(&phone)).then_some(phone)
        });
        phones.extend(phone);
    }
    phones
}

/// What building the ledger did.
struct Built {
    entries: u64,
    build_secs: f64,
    purged: u64,
    purge_secs: f64,
    erased: u64,
}

/// Simulates and ingests about `n` entries, purges with the 30-day policy, erases [`ERASED`]
/// subjects and places one hold.
async fn make_ledger(
    name: &str,
    url: &DatabaseUrl,
    dir: &Path,
    n: u64,
    policies: &Policies,
) -> Built {
    let traffic = simulate(dir, n);
    let master = MasterKey::generate();
    let started = Instant::now();
    let store = store::connect(url, &store::default_keystore_url(url))
        .await
        .unwrap();
    let mut ledger = Ledger::open(store, &master, waledger::clock::now())
        .await
        .unwrap();
    let mut ingestor = Ingestor::new(&mut ledger, waledger::clock::now());
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(&traffic).unwrap());
    for (i, line) in reader.split(b'\n').enumerate() {
        ingestor
            .push_line("bench", i as u64 + 1, &line.unwrap(), None)
            .await
            .unwrap();
    }
    let entries = ingestor.finish().await.unwrap().entries;
    let build_secs = started.elapsed().as_secs_f64();
    println!(
        "{name}: built a ledger of {entries} entries in {build_secs:.0}s ({:.0} entries/s)",
        entries as f64 / build_secs
    );

    let now = waledger::clock::now();
    let started = Instant::now();
    let purge = retention::run_once(
        ledger.store(),
        &policies.retention,
        now,
        PurgeOptions::RUN,
        &mut |_, _| {},
        &AtomicBool::new(false),
    )
    .await
    .unwrap();
    let purge_secs = started.elapsed().as_secs_f64();
    println!(
        "{name}: purged {} values due under the 30-day policy in {purge_secs:.0}s",
        purge.total
    );

    let mut phones = spread_recipients(&traffic, ERASED);
    let held = phones.pop();
    let mut erased = 0;
    for phone in &phones {
        let now = waledger::clock::now();
        let request = NewRequest {
            phone,
            reference: Some("bench"),
            requested_by: Some("bench"),
            received_at: now,
        };
        let id = ledger.request_erasure(request, now).await.unwrap();
        let row = erasure::carry_out(ledger.store(), &id, now)
            .await
            .unwrap()
            .unwrap();
        erased += row.entries_erased as u64;
    }
    ledger.store().scrub().await.unwrap();
    if let Some(phone) = &held {
        let now = waledger::clock::now();
        ledger
            .add_hold(phone, "bench", "bench", None, now)
            .await
            .unwrap();
    }
    println!(
        "{name}: erased {} subjects ({erased} entries), placed {} hold",
        phones.len(),
        usize::from(held.is_some())
    );
    ledger.store().close().await;
    let _ = std::fs::remove_file(&traffic);
    Built {
        entries,
        build_secs,
        purged: purge.total,
        purge_secs,
        erased,
    }
}

/// The bare aggregate, on its own connection pool with the ledger's settings.
enum Floor {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Floor {
    async fn sqlite(path: &Path) -> Self {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let options = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("secure_delete", "on");
        let options = waledger::store::SQLITE_TUNING
            .iter()
            .fold(options, |o, (k, v)| o.pragma(*k, *v));
        Self::Sqlite(sqlx::SqlitePool::connect_with(options).await.unwrap())
    }

    /// Runs the floor query; returns (seconds, groups, rows counted).
    async fn run(&self, from: i64, to: i64) -> (f64, usize, u64) {
        let started = Instant::now();
        let rows: Vec<(String, String, String, i64)> = match self {
            Self::Sqlite(pool) => sqlx::query_as(FLOOR)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
                .unwrap(),
            Self::Pg(pool) => sqlx::query_as(FLOOR)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
                .unwrap(),
        };
        let secs = started.elapsed().as_secs_f64();
        (secs, rows.len(), rows.iter().map(|r| r.3 as u64).sum())
    }

    /// PostgreSQL only: whether autovacuum is on and the content table's dead tuples and
    /// statistics (never analyzed: the planner guesses), after `VACUUM (ANALYZE)` when asked.
    async fn maintenance(&self, vacuum: bool) -> Option<String> {
        let Self::Pg(pool) = self else {
            return None;
        };
        if vacuum {
            for table in ["content", "chain", "flow_days"] {
                sqlx::raw_sql(&format!("VACUUM (ANALYZE) {table}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
        let autovacuum: String = sqlx::query_scalar("SHOW autovacuum")
            .fetch_one(pool)
            .await
            .unwrap();
        let (dead, analyzed): (i64, bool) = sqlx::query_as(
            "SELECT n_dead_tup, last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL \
             FROM pg_stat_user_tables WHERE relname = 'content'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        Some(format!(
            "autovacuum {autovacuum}; content: {dead} dead tuples, {}{}",
            if analyzed {
                "analyzed"
            } else {
                "never analyzed"
            },
            if vacuum {
                " (VACUUM (ANALYZE) by --vacuum)"
            } else {
                ""
            }
        ))
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Pg(pool) => pool.close().await,
        }
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

struct Bench<'a> {
    name: &'a str,
    url: &'a DatabaseUrl,
    floor: &'a Floor,
    /// Entries asked for, and whether that is the backend's default.
    asked: u64,
    defaulted: bool,
    /// `None` when a kept ledger is measured again.
    built: Option<Built>,
    policies: &'a Policies,
    dir: &'a Path,
    /// `--vacuum`: VACUUM (ANALYZE) the PostgreSQL tables before measuring.
    vacuum: bool,
}

impl Bench<'_> {
    async fn run(&self, summary: &mut Vec<String>) {
        let name = self.name;
        let store = store::connect(self.url, &store::default_keystore_url(self.url))
            .await
            .unwrap();
        let maintenance = self.floor.maintenance(self.vacuum).await;
        let load = settle(name);
        // Periods are half-open in whole seconds: what was recorded in the second of `now` (the
        // erasures just made, when there was no wait) would fall outside `[from, now)`.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let now = waledger::clock::now();
        let period = Period {
            from: now - chrono::Duration::days(PERIOD_DAYS),
            to: now,
        };
        let (from, to) = (period.from.timestamp(), period.to.timestamp());

        // One warm-up of each (not in the figures), then the two alternate.
        let (warm, mut built) = self.build(store.as_ref(), &period, now).await;
        let (warm_floor, groups, floor_rows) = self.floor.run(from, to).await;
        let (mut times, mut floors) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (secs, report) = self.build(store.as_ref(), &period, now).await;
            times.push(secs);
            built = report;
            floors.push(self.floor.run(from, to).await.0);
        }
        let (med, fastest, floor_med) = (median(&times), min(&times), median(&floors));
        let s = &built.summary;
        let n = self.built.as_ref().map_or(s.recorded, |b| b.entries);
        println!(
            "{name}: report::build warm-up {warm:.3}, then {} runs: {}",
            RUNS,
            times
                .iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!(
            "{name}: floor warm-up {warm_floor:.3}, then {} runs: {}",
            RUNS,
            floors
                .iter()
                .map(|t| format!("{t:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let breakdown = self.breakdown(store.as_ref(), from, to, now).await;
        store.close().await;

        let (json_ms, json_kb) = render_ms(&built, |r| serde_json::to_string_pretty(r).unwrap());
        let (html_ms, html_kb) = render_ms(&built, |r| report::html::render(r).unwrap());
        let (rss_kb, cli_secs) = self.peak_rss(&period);

        let head = format!("{name:<8} N={n:<9}");
        let mut lines = vec![format!(
            "{head} backend {name}, N = {n} entries ({}{}), load {load}",
            if self.defaulted {
                format!("default for {name}: {}", self.asked)
            } else {
                format!("--entries {}", self.asked)
            },
            self.built
                .as_ref()
                .map_or(String::from("; ledger reused"), |b| format!(
                    "; built in {:.0}s, {} purged in {:.0}s, {} erased",
                    b.build_secs, b.purged, b.purge_secs, b.erased
                )),
        )];
        lines.extend(maintenance.map(|m| format!("{head} {m}")));
        lines.extend([
            format!(
                "{head} report over the last {PERIOD_DAYS} days: recorded {}, held {}, purged {}, erased {}; {} flows, {} days, {} erasures, {} holds",
                s.recorded,
                s.held,
                s.purged,
                s.erased,
                s.flows,
                built.daily.len(),
                built.erasures.completed,
                built.holds.in_force,
            ),
            format!(
                "{head} report::build                median {med:>7.3} s  min {fastest:>7.3} s  ({RUNS} runs{})",
                if name == "sqlite" { "; target < 2 s at 10M" } else { "" }
            ),
            format!(
                "{head} floor: bare GROUP BY          median {floor_med:>7.3} s  min {:>7.3} s  ({RUNS} runs; {groups} groups, {floor_rows} rows{})",
                min(&floors),
                if floor_rows == s.recorded { ", = recorded" } else { ", ≠ recorded!" }
            ),
            format!("{head} ratio report / floor          {:>7.2}x (medians)", med / floor_med),
            format!("{head} of which (each alone, once):  {breakdown}"),
            format!(
                "{head} render JSON                   median {json_ms:>7.2} ms ({json_kb} kB); HTML median {html_ms:.2} ms ({html_kb} kB)"
            ),
            format!(
                "{head} `waledger report --format json --from {}`: peak RSS {} MB, wall {cli_secs:.2} s",
                period.from.format("%Y-%m-%d"),
                rss_kb / 1024
            ),
        ]);
        for line in lines {
            println!("{line}");
            summary.push(line);
        }
    }

    async fn build(
        &self,
        store: &dyn Store,
        period: &Period,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (f64, Report) {
        let started = Instant::now();
        let report = report::build(store, self.policies, period.clone(), now)
            .await
            .unwrap();
        (started.elapsed().as_secs_f64(), report)
    }

    /// Each of the report's queries alone, once, as `report::build` calls them.
    async fn breakdown(
        &self,
        store: &dyn Store,
        from: i64,
        to: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let started = Instant::now();
        let counts = store.flow_counts(from, to).await.unwrap();
        let flow_counts = started.elapsed().as_secs_f64();
        let mut fields: Vec<FieldKind> = counts.iter().map(|c| c.field).collect();
        fields.sort();
        fields.dedup();
        let mut flows: Vec<(FieldKind, Direction)> =
            counts.iter().map(|c| (c.field, c.direction)).collect();
        flows.sort();
        flows.dedup();
        let started = Instant::now();
        for field in &fields {
            let cutoff = self.policies.retention.cutoff(*field, now.timestamp());
            store
                .held_past_window(*field, cutoff, now.timestamp())
                .await
                .unwrap();
        }
        let past = started.elapsed().as_secs_f64();
        let started = Instant::now();
        for (field, direction) in &flows {
            store.oldest_held(*field, *direction).await.unwrap();
        }
        let oldest = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let days = store.flow_days(to).await.unwrap().len();
        let flow_days = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let events = store
            .chain_events(&[RecordKind::Purge, RecordKind::Erasure], to)
            .await
            .unwrap()
            .len();
        let chain_events = started.elapsed().as_secs_f64();
        format!(
            "flow_counts {flow_counts:.3} s; held_past_window ×{} {past:.3} s; oldest_held ×{} {oldest:.3} s; \
             flow_days {flow_days:.3} s ({days} rows); chain_events {chain_events:.3} s ({events} records)",
            fields.len(),
            flows.len()
        )
    }

    /// Peak RSS (kB) and wall time of the release binary's report on the same database.
    fn peak_rss(&self, period: &Period) -> (u64, f64) {
        let work = tempfile::tempdir_in(self.dir).unwrap();
        std::fs::create_dir_all(work.path().join("policies")).unwrap();
        std::fs::write(work.path().join("policies/retention.toml"), POLICY).unwrap();
        let from = period.from.format("%Y-%m-%d").to_string();
        let started = Instant::now();
        let kb = support::peak_kb(
            work.path(),
            &[
                "report",
                "--from",
                &from,
                "--database-url",
                self.url.expose(),
                "--policies",
                "policies",
            ],
        );
        (kb, started.elapsed().as_secs_f64())
    }
}

/// Median milliseconds of rendering `report` [`RUNS`] times, and the output's size in kB.
fn render_ms(report: &Report, render: impl Fn(&Report) -> String) -> (f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        size = render(report).len();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    (median(&times), size / 1024)
}
