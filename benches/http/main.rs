//! HTTP throughput of signed status webhooks against the file ingest of the same envelopes, both
//! measured in the same run (these machines are noisy, so only the ratio compares across runs):
//! - floor: the real binary's `waledger ingest FILE` of N webhook envelopes into a fresh
//!   database, in envelopes/s;
//! - measurement: the real binary's `waledger serve --listen 127.0.0.1:0` (fresh database, an app
//!   secret, a policy whose schedules do not fire during the run), and C keep-alive connections on
//!   loopback posting the same N payloads, each signed, as fast as they are answered (bounded by
//!   the count and by a time limit). Webhooks/s counts only 200s; latency is per request, from
//!   sending to the end of the answer's body; ratio = webhooks/s ÷ ingest envelopes/s.
//!
//! Afterwards the ledger must hold one status entry per acknowledged delivery, and the service's
//! own `/metrics` tell how the group commit batched. CPU time of the server, the client (this
//! process) and the whole machine over the run say who was the bottleneck.
//!
//! `cargo bench --bench http -- [--webhooks N] [--concurrency C] [--backend sqlite|postgres]
//! [--seconds LIMIT] [--postgres URL] [--log RUST_LOG] [--diagnose [--sizes 1,8,…]]
//! [--pg-analyze-every SECS]` (defaults: 50,000 webhooks, 64 connections, 120 s, both backends,
//! the service's default logging; PostgreSQL also from WALEDGER_TEST_DATABASE_URL).
//!
//! `--diagnose` adds, per backend and on fresh databases: the handler's CPU work per webhook;
//! `Ledger::record` in-process at transaction sizes from 1 to 1,000 (what a group commit of a
//! given batch size can reach at best, and what it costs); the service's `Committer` in-process
//! (pipelined: the next batch is sealed while the previous one is appended) under C callers,
//! without HTTP; and, on PostgreSQL, how the tables were scanned. `--pg-analyze-every` runs
//! `ANALYZE` on the service's databases during the load (does the planner's view of the growing
//! tables matter?).

#[path = "../support.rs"]
mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use waledger::crypto::WebhookKey;

const SECRET: &str = "bench_app_secret_not_a_real_one";
const TEMPLATE: &str =
    include_str!("../../tests/fixtures/whatsapp/webhook_status_delivered_free_service_pmp.json");
const WEBHOOK: &str = "/webhooks/whatsapp";
/// Per-request timeout of the load generator (a request over it counts as an error).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

struct Options {
    webhooks: usize,
    concurrency: usize,
    limit: Duration,
    log: Option<String>,
    /// Also measure, in-process, the handler's own work, `Ledger::record` at several transaction
    /// sizes and the group commit without HTTP, to explain the ratio.
    diagnose: bool,
    /// PostgreSQL: run `ANALYZE` on the service's databases this often during the load (to test
    /// whether stale planner statistics of the growing tables are the cost).
    analyze_every: Option<Duration>,
}

#[tokio::main]
async fn main() {
    let options = Options {
        webhooks: support::arg("--webhooks")
            .and_then(|n| n.parse().ok())
            .unwrap_or(50_000),
        concurrency: support::arg("--concurrency")
            .and_then(|n| n.parse().ok())
            .unwrap_or(64),
        limit: Duration::from_secs(
            support::arg("--seconds")
                .and_then(|n| n.parse().ok())
                .unwrap_or(120),
        ),
        log: support::arg("--log"),
        diagnose: std::env::args().any(|a| a == "--diagnose"),
        analyze_every: support::arg("--pg-analyze-every")
            .and_then(|n| n.parse().ok())
            .map(Duration::from_secs_f64),
    };
    let only = support::arg("--backend");
    let pg = support::arg("--postgres")
        .or_else(|| std::env::var("WALEDGER_TEST_DATABASE_URL").ok())
        .filter(|u| !u.is_empty());

    let dir = tempfile::tempdir().expect("temp dir");
    let payloads = payloads(options.webhooks);
    let envelopes = dir.path().join("webhooks.jsonl");
    write_envelopes(&envelopes, &payloads);
    let first = std::fs::read_to_string(&envelopes).unwrap();
    let first = first.lines().next().unwrap();
    let per_webhook = waledger::ingest::run::prepare(first, None)
        .expect("the bench envelope is valid")
        .extracted
        .fields
        .len();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    println!(
        "input: {} status webhooks ({} bytes each on average, {per_webhook} entries each), \
         {} connections, time limit {} s",
        payloads.len(),
        bytes / payloads.len().max(1),
        options.concurrency,
        options.limit.as_secs()
    );

    let mut results = Vec::new();
    if only.as_deref().is_none_or(|b| b == "sqlite") {
        let sqlite = |name: &str| Db {
            url: format!(
                "sqlite://{}",
                dir.path().join(name).join("ledger.db").display()
            ),
            pg: None,
        };
        results.push(
            run_backend(
                "sqlite",
                &sqlite("ingest"),
                &sqlite("serve"),
                dir.path(),
                &envelopes,
                &payloads,
                &options,
            )
            .await,
        );
        if options.diagnose {
            let db = |name: String| Db {
                url: format!(
                    "sqlite://{}",
                    dir.path().join(name).join("ledger.db").display()
                ),
                pg: None,
            };
            diagnose("sqlite", &envelopes, &payloads, options.concurrency, &db).await;
        }
    }
    match pg.filter(|_| only.as_deref().is_none_or(|b| b == "postgres")) {
        Some(admin) => {
            let base = support::server_base(&admin);
            let postgres = |what: &str| {
                let name = format!("wl_http_{what}_{}", std::process::id());
                Db {
                    url: format!("{base}/{name}"),
                    pg: Some((admin.clone(), name)),
                }
            };
            let (ingest, serve) = (postgres("ingest"), postgres("serve"));
            results.push(
                run_backend(
                    "postgres",
                    &ingest,
                    &serve,
                    dir.path(),
                    &envelopes,
                    &payloads,
                    &options,
                )
                .await,
            );
            if options.diagnose || options.analyze_every.is_some() {
                for (what, db) in [("floor", &ingest), ("serve", &serve)] {
                    for line in db.table_scans().await {
                        println!("postgres: diagnose: {what} database: {line}");
                    }
                }
            }
            ingest.drop_pg().await;
            serve.drop_pg().await;
            if options.diagnose {
                let db = |name: String| postgres(&name);
                diagnose("postgres", &envelopes, &payloads, options.concurrency, &db).await;
            }
        }
        None if only.as_deref() == Some("postgres") || only.is_none() => {
            println!("postgres: skipped (set WALEDGER_TEST_DATABASE_URL or pass --postgres URL)")
        }
        None => {}
    }
    summary(&options, &results);
}

// ---------------------------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------------------------

/// `n` distinct status webhooks in the Cloud API's shape: each its own wamid, one of n/4
/// recipients (a recipient gets about four statuses, as a conversation does), timestamps one
/// second apart ending a minute ago.
fn payloads(n: usize) -> Vec<Vec<u8>> {
    let template: Value = serde_json::from_str(TEMPLATE).expect("the fixture is JSON");
    let recipients = (n / 4).max(1);
    let last = waledger::clock::now().timestamp() - 60;
    (0..n)
        .map(|i| {
            let mut payload = template.clone();
            let status = &mut payload["entry"][0]["changes"][0]["value"]["statuses"][0];
            status["id"] = json!(format!("wamid.HBgLQkVOQ0hIVFRQFQIAERgS{i:012}"));
            status["recipient_id"] = json!(format!("1650{:07}", i % recipients));
            status["timestamp"] = json!((last - (n - 1 - i) as i64).to_string());
            serde_json::to_vec(&payload).unwrap()
        })
        .collect()
}

/// The same payloads as ingest envelopes, received a second after their status time.
fn write_envelopes(path: &Path, payloads: &[Vec<u8>]) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for payload in payloads {
        let payload: Value = serde_json::from_slice(payload).unwrap();
        let at: i64 = payload["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap();
        let received_at = chrono::DateTime::from_timestamp(at + 1, 0)
            .unwrap()
            .to_rfc3339();
        let envelope = json!({"kind": "webhook", "received_at": received_at, "payload": payload});
        serde_json::to_writer(&mut out, &envelope).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

// ---------------------------------------------------------------------------------------------
// One backend
// ---------------------------------------------------------------------------------------------

/// A fresh ledger database (its key store beside it, by the default naming).
struct Db {
    url: String,
    /// PostgreSQL: the admin URL and the database's name, to drop it afterwards.
    pg: Option<(String, String)>,
}

impl Db {
    async fn count(&self, sql: &str) -> i64 {
        if self.pg.is_some() {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    }

    /// A ledger on this database, under a new master key.
    async fn ledger(&self) -> waledger::ledger::Ledger {
        if let Some(path) = self.url.strip_prefix("sqlite://") {
            std::fs::create_dir_all(Path::new(path).parent().unwrap()).unwrap();
        }
        let url = waledger::store::DatabaseUrl::parse(&self.url).unwrap();
        let keys = waledger::store::default_keystore_url(&url);
        let store = waledger::store::connect(&url, &keys).await.unwrap();
        let master = waledger::crypto::MasterKey::generate();
        waledger::ledger::Ledger::open(store, &master, waledger::clock::now())
            .await
            .unwrap()
    }

    /// PostgreSQL's counters of how the ledger's and the key store's tables were read and
    /// written (`pg_stat_user_tables`), busiest first.
    async fn table_scans(&self) -> Vec<String> {
        let Some((_, name)) = &self.pg else {
            return Vec::new();
        };
        let base = self.url.rsplit_once('/').map_or("", |(b, _)| b);
        let mut lines = Vec::new();
        for db in [name.clone(), format!("{name}_keys")] {
            let pool = sqlx::PgPool::connect(&format!("{base}/{db}"))
                .await
                .unwrap();
            let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
                "SELECT relname::text, seq_scan, seq_tup_read, COALESCE(idx_scan, 0), n_tup_ins, \
                 n_tup_upd, n_dead_tup FROM pg_stat_user_tables \
                 ORDER BY seq_tup_read + n_tup_ins + n_tup_upd DESC LIMIT 8",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            pool.close().await;
            for (table, seq, seq_read, idx, ins, upd, dead) in rows {
                lines.push(format!(
                    "{db}.{table}: {seq} seq scans reading {seq_read} rows, {idx} index scans, \
                     {ins} inserted, {upd} updated, {dead} dead"
                ));
            }
        }
        lines
    }

    /// The PostgreSQL database's name (`None`: SQLite).
    fn pg_name(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, name)| name.as_str())
    }

    async fn drop_pg(&self) {
        let Some((admin, name)) = &self.pg else {
            return;
        };
        let pool = sqlx::PgPool::connect(admin).await.unwrap();
        for db in [name.clone(), format!("{name}_keys")] {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&pool)
                .await;
        }
        pool.close().await;
    }
}

/// What one backend measured.
struct Outcome {
    backend: &'static str,
    load: String,
    ingest_rate: f64,
    ingest_secs: f64,
    /// CPU seconds other processes used while the floor ran.
    floor_others: f64,
    run: Run,
    statuses: i64,
    envelopes: i64,
    batches: Batches,
    cpu: Cpu,
}

#[allow(clippy::too_many_arguments)]
async fn run_backend(
    backend: &'static str,
    ingest_db: &Db,
    serve_db: &Db,
    dir: &Path,
    envelopes: &Path,
    payloads: &[Vec<u8>],
    options: &Options,
) -> Outcome {
    let load = loadavg();
    println!("{backend}: load average at start {load}");

    // The floor: the real binary's file ingest of the same envelopes.
    let work = dir.join("ingest");
    std::fs::create_dir_all(&work).unwrap();
    let init = command(&work, &ingest_db.url, &options.log)
        .args(["init"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{backend}: init: {init:?}");
    let machine_before = Cpu::sample(std::process::id(), None);
    let started = Instant::now();
    let child = command(&work, &ingest_db.url, &options.log)
        .args(["ingest", envelopes.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let waiting = std::thread::spawn(move || child.wait_with_output());
    // CPU of the ingest process and of its PostgreSQL backends, sampled until it ends.
    let (mut ingest_cpu, mut ingest_db_cpu) = (0.0f64, 0.0f64);
    while !waiting.is_finished() {
        ingest_cpu = ingest_cpu.max(cpu_secs(&format!("/proc/{pid}/stat")));
        ingest_db_cpu = ingest_db_cpu.max(pg_backend_secs(ingest_db.pg_name()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let ingest = waiting.join().unwrap().unwrap();
    let ingest_secs = started.elapsed().as_secs_f64();
    let machine = Cpu::sample(std::process::id(), None).since(&machine_before);
    let floor_others = (machine.machine_busy * machine.cores as f64 * ingest_secs
        - ingest_cpu
        - ingest_db_cpu
        - machine.client)
        .max(0.0);
    assert!(ingest.status.success(), "{backend}: ingest: {ingest:?}");
    let summary: Value = serde_json::from_slice(&ingest.stdout).unwrap();
    let accepted = summary["accepted"].as_u64().unwrap();
    assert_eq!(accepted as usize, payloads.len(), "{backend}: {summary}");
    let ingest_rate = accepted as f64 / ingest_secs;
    println!(
        "{backend}: floor: `waledger ingest` of {accepted} envelopes ({} entries) in \
         {ingest_secs:.2}s = {ingest_rate:.0} envelopes/s; CPU: ingest process {ingest_cpu:.1}s, \
         database backends {ingest_db_cpu:.1}s = {:.0} µs per envelope; other processes \
         {floor_others:.1}s",
        summary["entries"],
        1e6 * (ingest_cpu + ingest_db_cpu) / accepted as f64
    );

    // The measurement: the real service under C connections.
    let work = dir.join("serve");
    std::fs::create_dir_all(&work).unwrap();
    let server = Server::start(&work, &serve_db.url, &options.log);
    let analyzing = options
        .analyze_every
        .filter(|_| serve_db.pg.is_some())
        .map(|every| tokio::spawn(analyze_periodically(serve_db.url.clone(), every)));
    let before = Cpu::sample(server.pid(), serve_db.pg_name());
    let run = load_generator(&server.base, payloads, options).await;
    let cpu = Cpu::sample(server.pid(), serve_db.pg_name()).since(&before);
    if let Some(task) = analyzing {
        task.abort();
        println!(
            "{backend}: ANALYZE ran every {:?} on the service's databases during the load",
            options.analyze_every.unwrap()
        );
    }
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let batches = Batches::parse(&metrics);
    let said = server.stop();
    for line in said.lines().take(10) {
        println!("{backend}: serve logged: {line}");
    }

    // Nothing acknowledged is lost: one status entry (and one envelope) per 200.
    let statuses = serve_db
        .count("SELECT COUNT(*) FROM chain WHERE field = 'message_status'")
        .await;
    let envelopes = serve_db.count("SELECT COUNT(*) FROM envelopes").await;
    assert_eq!(
        statuses, run.ok as i64,
        "{backend}: {statuses} status entries in the ledger for {} acknowledged deliveries",
        run.ok
    );
    let rate = run.ok as f64 / run.secs;
    println!(
        "{backend}: serve: {} webhooks answered 200 in {:.2}s = {rate:.0} webhooks/s \
         (ratio to ingest {:.2}); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         {} non-200, {} transport errors, {} duplicates, {} not sent (time limit)",
        run.ok,
        run.secs,
        rate / ingest_rate,
        run.percentile(0.50),
        run.percentile(0.99),
        run.percentile(1.0),
        run.non_200,
        run.errors,
        run.duplicates,
        payloads.len() - run.sent
    );
    println!(
        "{backend}: ledger after the run: {statuses} status entries, {envelopes} envelopes \
         (for {} acknowledged)",
        run.ok
    );
    println!(
        "{backend}: group commit: {} transactions, {:.1} envelopes each on average; \
         transactions by batch size: {}",
        batches.count,
        batches.mean(),
        batches.describe()
    );
    println!(
        "{backend}: CPU over the run: server {:.1}s ({:.0}% of one core; threads: {}), \
         database backends {:.1}s, server + database = {:.0} µs per webhook; client {:.1}s \
         ({:.0}%); whole machine {:.0}% busy of {} cores, of which other processes {:.1}s; \
         server-side mean webhook time {:.2} ms",
        cpu.server,
        100.0 * cpu.server / run.secs,
        cpu.describe_threads(),
        cpu.database,
        1e6 * (cpu.server + cpu.database) / run.ok.max(1) as f64,
        cpu.client,
        100.0 * cpu.client / run.secs,
        100.0 * cpu.machine_busy,
        cpu.cores,
        cpu.others(run.secs),
        server_mean_ms(&metrics)
    );
    Outcome {
        backend,
        load,
        ingest_rate,
        ingest_secs,
        floor_others,
        run,
        statuses,
        envelopes,
        batches,
        cpu,
    }
}

/// `ANALYZE` of the ledger database at `url` and of its key store, every `every`, until aborted.
async fn analyze_periodically(url: String, every: Duration) {
    let ledger = sqlx::PgPool::connect(&url).await.unwrap();
    let keys = sqlx::PgPool::connect(&format!("{url}_keys")).await.unwrap();
    loop {
        tokio::time::sleep(every).await;
        for pool in [&ledger, &keys] {
            let _ = sqlx::raw_sql("ANALYZE").execute(pool).await;
        }
    }
}

/// `waledger ARGS` in `cwd` against `url` (its key store by the default naming), with nothing
/// from the caller's environment that could point it elsewhere.
fn command(cwd: &Path, url: &str, log: &Option<String>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waledger"));
    cmd.current_dir(cwd)
        .env("WALEDGER_DATABASE_URL", url)
        .stdin(Stdio::null());
    for var in [
        "WALEDGER_KEYSTORE_URL",
        "WALEDGER_MASTER_KEY",
        "WALEDGER_KEY_FILE",
        "WALEDGER_POLICIES",
        "WALEDGER_REPORTS",
        "WALEDGER_LISTEN",
        "WALEDGER_APP_SECRET",
        "WALEDGER_VERIFY_TOKEN",
        "WALEDGER_PURGE_BATCH",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    if let Some(log) = log {
        cmd.env("RUST_LOG", log);
    }
    cmd
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// `waledger serve --listen 127.0.0.1:0`; SIGKILLed if still running on drop.
struct Server {
    child: Option<Child>,
    base: String,
    stderr: PathBuf,
}

impl Server {
    fn start(work: &Path, url: &str, log: &Option<String>) -> Self {
        write_quiet_policy(work);
        let stderr = work.join("serve.stderr");
        let mut child = command(work, url, log)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("WALEDGER_APP_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("waledger serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(base) = announced(&line) {
                    let _ = tx.send(base);
                }
            }
        });
        let mut server = Self {
            child: Some(child),
            base: String::new(),
            stderr,
        };
        server.base = rx
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| {
                panic!(
                    "serve did not announce its address: {}",
                    std::fs::read_to_string(&server.stderr).unwrap_or_default()
                )
            });
        // The catch-up runs of the schedules at first start are over before the load begins.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !jobs_settled(work, url) {
            assert!(
                Instant::now() < deadline,
                "the catch-up runs did not finish"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM, then waits (up to 60 s) for the drain; returns the warnings and errors it logged.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let mut bad: String = stderr
            .lines()
            .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
            .map(|l| format!("{l}\n"))
            .collect();
        if !status.success() {
            bad.push_str(&format!("serve ended with {status}\n"));
        }
        bad
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `http://ADDR` from `waledger: serving as … on http://ADDR; …`.
fn announced(line: &str) -> Option<String> {
    let rest = line.strip_prefix("waledger: serving as ")?;
    let (_, rest) = rest.split_once(" on http://")?;
    Some(format!("http://{}", rest.split(';').next()?.trim()))
}

/// The shipped retention policy with every schedule moved to 1 January, 00:00 UTC, so that no
/// scheduled run (beyond the catch-up at first start, waited for) competes with the load.
fn write_quiet_policy(work: &Path) {
    let policy: String = waledger::policy::DEFAULT_RETENTION
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if line.contains('=') && ["purge", "erasures", "report"].contains(&key) {
                format!("{key} = \"0 0 0 1 1 *\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    assert_eq!(policy.matches("\"0 0 0 1 1 *\"").count(), 3, "{policy}");
    std::fs::create_dir_all(work.join("policies")).unwrap();
    std::fs::write(work.join("policies/retention.toml"), policy).unwrap();
}

/// Whether each scheduled job has a finished run and none is running.
fn jobs_settled(work: &Path, url: &str) -> bool {
    let Ok(out) = command(work, url, &Some("error".into()))
        .args(["jobs", "--format", "json"])
        .output()
    else {
        return false;
    };
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let runs = runs.as_array().map(Vec::as_slice).unwrap_or_default();
    ["purge", "erasures", "report"].iter().all(|job| {
        runs.iter()
            .any(|r| r["job"] == *job && r["finished_at"].is_string())
    }) && runs.iter().all(|r| r["finished_at"].is_string())
}

// ---------------------------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------------------------

/// What the connections saw.
#[derive(Default)]
struct Run {
    /// Requests sent (answered or not).
    sent: usize,
    ok: usize,
    non_200: usize,
    errors: usize,
    /// 200s that said `"duplicate":true` (none expected: every payload is distinct).
    duplicates: usize,
    /// Latency of every answered request, µs, sorted.
    latencies: Vec<u64>,
    /// From the first request to the last answer.
    secs: f64,
    /// The first few unexpected answers.
    samples: Vec<String>,
}

impl Run {
    /// The latency at quantile `q` (1.0: the maximum), in ms.
    fn percentile(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1] as f64 / 1000.0
    }
}

/// Posts every payload once, signed, over `concurrency` keep-alive connections, each sending its
/// next request as soon as its previous one is answered, until all are sent or the time is up.
async fn load_generator(base: &str, payloads: &[Vec<u8>], options: &Options) -> Run {
    let key = WebhookKey::new(SECRET);
    let signed: Arc<Vec<(Vec<u8>, String)>> =
        Arc::new(payloads.iter().map(|p| (p.clone(), key.sign(p))).collect());
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(options.concurrency)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let url: Arc<str> = format!("{base}{WEBHOOK}").into();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + options.limit;
    let mut tasks = Vec::new();
    for _ in 0..options.concurrency {
        let (client, url, next, signed) =
            (client.clone(), url.clone(), next.clone(), signed.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = signed.get(i) else {
                    break;
                };
                run.sent += 1;
                let sent = Instant::now();
                let answer = client
                    .post(&*url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature.as_str())
                    .body(body.clone())
                    .send()
                    .await;
                let answer = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        response.text().await.map(|text| (status, text))
                    }
                    Err(e) => Err(e),
                };
                match answer {
                    Ok((status, text)) => {
                        run.latencies.push(sent.elapsed().as_micros() as u64);
                        if status == 200 {
                            run.ok += 1;
                            if !text.contains("\"recorded\":true") {
                                run.duplicates += 1;
                            }
                        } else {
                            run.non_200 += 1;
                            if run.samples.len() < 3 {
                                run.samples.push(format!("{status} {text}"));
                            }
                        }
                    }
                    Err(e) => {
                        run.errors += 1;
                        if run.samples.len() < 3 {
                            run.samples.push(format!("{e}"));
                        }
                    }
                }
            }
            run
        }));
    }
    let mut all = Run::default();
    for task in tasks {
        let run = task.await.unwrap();
        all.sent += run.sent;
        all.ok += run.ok;
        all.non_200 += run.non_200;
        all.errors += run.errors;
        all.duplicates += run.duplicates;
        all.latencies.extend(run.latencies);
        all.samples.extend(run.samples);
    }
    all.secs = started.elapsed().as_secs_f64();
    all.latencies.sort_unstable();
    for sample in all.samples.iter().take(5) {
        println!("  unexpected answer: {sample}");
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Diagnosis
// ---------------------------------------------------------------------------------------------

/// Transaction sizes `--diagnose` records at (`--sizes 1,8,…` to change them).
const SIZES: [usize; 7] = [1, 8, 32, 64, 128, 256, 1000];

/// Explains the ratio, on fresh databases of `backend`:
/// - the handler's own work per webhook (what runs on the request tasks, beside the writer);
/// - the writer's: `Ledger::record` of the same envelopes, one transaction per `size` of them
///   (at most 10 s or all envelopes per size), split into its seal and append halves, with the
///   CPU it cost (this process and the PostgreSQL backends);
/// - the group commit without HTTP: the service's own `Committer`, in this process, with
///   `concurrency` callers each preparing its next envelope and recording it, as handlers do.
async fn diagnose(
    backend: &str,
    envelopes: &Path,
    payloads: &[Vec<u8>],
    concurrency: usize,
    db: &dyn Fn(String) -> Db,
) {
    use waledger::ingest::{prepare_envelope, Envelope};
    let key = WebhookKey::new(SECRET);
    let signatures: Vec<String> = payloads.iter().map(|p| key.sign(p)).collect();
    let started = Instant::now();
    for (body, signature) in payloads.iter().zip(&signatures) {
        assert!(key.verify(body, Some(signature)));
    }
    let verify_us = started.elapsed().as_secs_f64() * 1e6 / payloads.len() as f64;
    let started = Instant::now();
    for body in payloads {
        let payload: Value = serde_json::from_slice(body).unwrap();
        let received_at = waledger::clock::now().to_rfc3339();
        let envelope = json!({"kind": "webhook", "received_at": received_at, "payload": payload});
        let prepared = prepare_envelope(Envelope::from_value(envelope, None).unwrap()).unwrap();
        std::hint::black_box(prepared);
    }
    let prepare_us = started.elapsed().as_secs_f64() * 1e6 / payloads.len() as f64;
    println!(
        "{backend}: diagnose: handler work per webhook, in-process: \
         signature check {verify_us:.1} µs, parse + envelope + extract {prepare_us:.1} µs"
    );

    let text = std::fs::read_to_string(envelopes).unwrap();
    let lines: Arc<Vec<String>> = Arc::new(text.lines().map(str::to_string).collect());
    let prepared: Vec<_> = lines
        .iter()
        .map(|l| waledger::ingest::prepare(l, None).unwrap())
        .collect();
    let sizes: Vec<usize> = support::arg("--sizes").map_or(SIZES.to_vec(), |list| {
        list.split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    });
    for size in sizes {
        let db = db(format!("record{size}"));
        let mut ledger = db.ledger().await;
        let before = (cpu_secs("/proc/self/stat"), pg_backend_secs(db.pg_name()));
        let started = Instant::now();
        let (mut recorded, mut sealing) = (0, Duration::ZERO);
        for chunk in prepared.chunks(size) {
            let seal_started = Instant::now();
            let sealed = ledger.seal(chunk, waledger::clock::now()).await.unwrap();
            sealing += seal_started.elapsed();
            sealed.append().await.unwrap();
            recorded += chunk.len();
            if started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = (
            cpu_secs("/proc/self/stat") - before.0,
            pg_backend_secs(db.pg_name()) - before.1,
        );
        ledger.store().close().await;
        db.drop_pg().await;
        let transactions = recorded.div_ceil(size) as f64;
        let ms = |secs: f64| 1000.0 * secs / transactions;
        println!(
            "{backend}: diagnose: Ledger::record, {size} envelopes per transaction: \
             {:.0} envelopes/s, {:.2} ms per transaction (seal {:.2} + append {:.2}); \
             CPU per envelope {:.0} µs here + {:.0} µs database ({recorded} envelopes)",
            recorded as f64 / secs,
            ms(secs),
            ms(sealing.as_secs_f64()),
            ms(secs - sealing.as_secs_f64()),
            1e6 * cpu.0 / recorded as f64,
            1e6 * cpu.1 / recorded as f64,
        );
    }

    // The group commit alone: no HTTP, no client.
    let committer_db = db("committer".into());
    let ledger = committer_db.ledger().await;
    let store = ledger.store_arc();
    let metrics = Arc::new(waledger::http::Metrics::default());
    let (committer, writer) = waledger::http::Committer::start(ledger, metrics.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (committer, next, lines) = (committer.clone(), next.clone(), lines.clone());
            tokio::spawn(async move {
                let mut recorded = 0usize;
                while let Some(line) = lines.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let envelope = waledger::ingest::prepare(line, None).unwrap();
                    let outcome = committer.record(envelope).await.unwrap();
                    recorded += usize::from(!outcome.duplicate);
                }
                recorded
            })
        })
        .collect();
    drop(committer);
    let mut recorded = 0;
    for caller in callers {
        recorded += caller.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    writer.await.unwrap();
    let rendered = metrics
        .render(store.as_ref(), waledger::clock::now())
        .await
        .unwrap();
    store.close().await;
    committer_db.drop_pg().await;
    let batches = Batches::parse(&rendered);
    println!(
        "{backend}: diagnose: Committer in-process, {concurrency} callers, no HTTP: \
         {:.0} envelopes/s ({recorded} in {secs:.2}s); {} transactions, {:.1} envelopes each \
         on average ({})",
        recorded as f64 / secs,
        batches.count,
        batches.mean(),
        batches.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Evidence: the service's metrics, CPU time, load
// ---------------------------------------------------------------------------------------------

/// `waledger_commit_batch_envelopes`: transactions by the number of envelopes they committed.
#[derive(Default)]
struct Batches {
    count: f64,
    sum: f64,
    /// (upper bound, cumulative count), as exposed.
    buckets: Vec<(String, f64)>,
}

impl Batches {
    fn parse(metrics: &str) -> Self {
        let mut batches = Self::default();
        for line in metrics.lines() {
            let Some(rest) = line.strip_prefix("waledger_commit_batch_envelopes") else {
                continue;
            };
            let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
                continue;
            };
            if rest.starts_with("_count") {
                batches.count = value;
            } else if rest.starts_with("_sum") {
                batches.sum = value;
            } else if let Some(le) = rest.split("le=\"").nth(1) {
                let le = le.split('"').next().unwrap_or("").to_string();
                batches.buckets.push((le, value));
            }
        }
        batches
    }

    fn mean(&self) -> f64 {
        self.sum / self.count.max(1.0)
    }

    /// Transactions per bucket (not cumulative), skipping empty buckets: `≤8: 12, ≤16: 40, …`.
    fn describe(&self) -> String {
        let mut previous = 0.0;
        let mut parts = Vec::new();
        for (le, cumulative) in &self.buckets {
            let n = cumulative - previous;
            previous = *cumulative;
            if n > 0.0 {
                let le = le.trim_end_matches(".0");
                parts.push(format!("≤{le}: {n}"));
            }
        }
        parts.join(", ")
    }
}

/// The service's own mean time per webhook request, ms (its latency histogram).
fn server_mean_ms(metrics: &str) -> f64 {
    let pick = |suffix: &str| {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with(&format!("waledger_http_request_duration_seconds{suffix}"))
                    && l.contains(WEBHOOK)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    1000.0 * pick("_sum") / pick("_count").max(1.0)
}

/// CPU seconds (utime + stime, at 100 ticks/s) of `/proc/.../stat`.
fn cpu_secs(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// CPU seconds of the PostgreSQL backends serving `database` (and its key store), found by the
/// title PostgreSQL gives each backend process (`postgres: … user DATABASE host(port) state`).
fn pg_backend_secs(database: Option<&str>) -> f64 {
    let Some(database) = database else {
        return 0.0;
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                let title = String::from_utf8_lossy(&c);
                title.starts_with("postgres: ")
                    && (title.contains(&format!(" {database} "))
                        || title.contains(&format!(" {database}_keys ")))
            })
        })
        .map(|e| cpu_secs(&e.path().join("stat").to_string_lossy()))
        .sum()
}

/// CPU seconds of a process's threads, by thread name (digits at the end dropped).
fn thread_secs(pid: u32) -> BTreeMap<String, f64> {
    let mut threads = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in dir.filter_map(Result::ok) {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let name = name.trim().trim_end_matches(|c: char| c.is_ascii_digit());
        *threads.entry(name.to_string()).or_insert(0.0) +=
            cpu_secs(&path.join("stat").to_string_lossy());
    }
    threads
}

/// CPU seconds of the server (by thread), its PostgreSQL backends and this process (the client),
/// and how busy the whole machine was.
struct Cpu {
    server: f64,
    threads: BTreeMap<String, f64>,
    database: f64,
    client: f64,
    /// Busy fraction of all cores over the interval (after `since`).
    machine_busy: f64,
    cores: usize,
    /// Raw machine counters (busy, total jiffies) at the sample.
    machine: (u64, u64),
}

impl Cpu {
    fn sample(pid: u32, database: Option<&str>) -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        Self {
            server: cpu_secs(&format!("/proc/{pid}/stat")),
            threads: thread_secs(pid),
            database: pg_backend_secs(database),
            client: cpu_secs("/proc/self/stat"),
            machine_busy: 0.0,
            cores: stat
                .lines()
                .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
                .count(),
            machine: (total - idle, total),
        }
    }

    fn since(self, before: &Self) -> Self {
        let busy = self.machine.0.saturating_sub(before.machine.0) as f64;
        let total = self.machine.1.saturating_sub(before.machine.1).max(1) as f64;
        let threads = self
            .threads
            .iter()
            .map(|(name, secs)| {
                let earlier = before.threads.get(name).copied().unwrap_or(0.0);
                (name.clone(), secs - earlier)
            })
            .collect();
        Self {
            server: self.server - before.server,
            threads,
            database: self.database - before.database,
            client: self.client - before.client,
            machine_busy: busy / total,
            ..self
        }
    }

    /// CPU seconds the rest of the machine used over `secs` (another benchmark, say).
    fn others(&self, secs: f64) -> f64 {
        (self.machine_busy * self.cores as f64 * secs - self.server - self.database - self.client)
            .max(0.0)
    }

    /// `tokio-runtime-w 9.1s, sqlx-sqlite-worker- 3.0s, …` (threads above 0.05 s).
    fn describe_threads(&self) -> String {
        let mut threads: Vec<_> = self.threads.iter().filter(|(_, s)| **s >= 0.05).collect();
        threads.sort_by(|a, b| b.1.total_cmp(a.1));
        threads
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.1}s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn summary(options: &Options, results: &[Outcome]) {
    println!();
    println!(
        "== http bench: {} signed status webhooks, {} connections, limit {} s ==",
        options.webhooks,
        options.concurrency,
        options.limit.as_secs()
    );
    let header = [
        "ingest e/s",
        "ingest s",
        "webhooks/s",
        "ratio",
        "p50 ms",
        "p99 ms",
        "max ms",
        "non-200",
        "errors",
        "statuses",
        "batch avg",
        "srv CPU%",
        "others s",
    ];
    // others s: CPU seconds other processes used during the floor / during the HTTP run.
    let mut line = format!("{:<9}", "backend");
    for h in header {
        line.push_str(&format!(" {h:>10}"));
    }
    println!("{line}  load at start");
    for o in results {
        let secs = o.run.secs;
        let rate = o.run.ok as f64 / secs;
        let cells = [
            format!("{:.0}", o.ingest_rate),
            format!("{:.2}", o.ingest_secs),
            format!("{rate:.0}"),
            format!("{:.2}", rate / o.ingest_rate),
            format!("{:.1}", o.run.percentile(0.50)),
            format!("{:.1}", o.run.percentile(0.99)),
            format!("{:.1}", o.run.percentile(1.0)),
            o.run.non_200.to_string(),
            o.run.errors.to_string(),
            format!("{}/{}", o.statuses, o.envelopes),
            format!("{:.1}", o.batches.mean()),
            format!("{:.0}", 100.0 * o.cpu.server / secs),
            format!("{:.0}/{:.0}", o.floor_others, o.cpu.others(secs)),
        ];
        let mut line = format!("{:<9}", o.backend);
        for c in cells {
            line.push_str(&format!(" {c:>10}"));
        }
        println!("{line}  {}", o.load);
    }
    println!(
        "(ratio = webhooks/s ÷ `waledger ingest` envelopes/s of the same envelopes; target ≥ 0.5)"
    );
}
