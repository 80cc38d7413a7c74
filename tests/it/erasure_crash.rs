//! Crash safety of erasure and of master key rotation, with the real binary, on every backend.
//! Erasure: 60 requests (filed in waves, so every round has work in flight) are carried out by
//! `erasure run` processes killed with SIGKILL at random moments; after every kill each request is
//! either whole (completed, its ledger entry at its `chain_seq`, no value of its subjects held,
//! their keys destroyed, the count right) or pending (no erasure entry, every value still held),
//! and a last run finishes them all. Rotation: `keys rotate` processes are killed at random
//! moments; after every kill the key file, the `.next` file and the key store agree on one of the
//! states a rotation passes through, the old key either still reads everything or the ledger
//! refuses to open, and the next run finishes the rotation with every value still readable.

use crate::cli::{command, waledger, Run};
use crate::helpers::{backends, TestDb};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::Duration;
use waledger::config::read_key_file;
use waledger::crypto::Wrapper;
use waledger::domain::{PhoneNumber, SubjectId};
use waledger::store::DatabaseUrl;

/// Kills that must land while the process still runs, per test and backend.
const KILLS: usize = 20;
/// Erasure requests, filed in waves of `WAVE` whenever nothing is left pending.
const REQUESTS: usize = 60;
const WAVE: usize = 15;
/// Upper bound on rounds (a slow machine lands many kills before any work begins).
const MAX_ROUNDS: usize = 150;

/// Random kill delays whose upper bound follows the pace of the process under test: lowered when
/// a run finished (or got far) before its kill, raised when kills keep landing before any work
/// began. The delays stay random; only their range is tuned.
struct Delays {
    lo: u64,
    hi: u64,
}

impl Delays {
    fn draw(&self, rng: &mut impl Rng) -> Duration {
        Duration::from_millis(rng.gen_range(self.lo..=self.hi))
    }

    fn too_late(&mut self) {
        self.hi = (self.hi * 3 / 4).max(self.lo + 10);
    }

    fn too_early(&mut self) {
        self.hi = (self.hi + self.hi / 8 + 5).min(2_000);
    }
}

/// Spawns `waledger ARGS` without output, sleeps `delay`, SIGKILLs it and reaps it. Returns
/// whether the kill landed (`false`: the process had exited by itself, successfully).
fn run_and_kill(db: &TestDb, args: &[&str], delay: Duration) -> bool {
    let mut child: Child = command(db, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    std::thread::sleep(delay);
    // Killing a process that already exited (not yet reaped) is harmless; the status tells.
    let _ = child.kill();
    let status = child.wait().unwrap();
    if status.code().is_some() {
        assert!(
            status.success(),
            "{}: `waledger {}` failed on its own ({status})",
            db.name,
            args.join(" ")
        );
    }
    status.code().is_none()
}

/// Waits until the killed process's PostgreSQL sessions have ended. The server finishes the
/// statement a session was running when its client died (a COMMIT sent just before the kill still
/// lands, a few milliseconds later), so the state is checked only once no session of the killed
/// process is left. Nothing to wait for on SQLite: a dead process writes nothing more.
async fn wait_for_killed_sessions(db: &TestDb) {
    if db.name == "sqlite" {
        return;
    }
    let name = |url: &DatabaseUrl| {
        let path = url.expose().split('?').next().unwrap_or("").to_string();
        path.rsplit('/').next().unwrap_or("").to_string()
    };
    let (ledger, keys) = (name(&db.ledger_url), name(&db.keys_url));
    let pool = sqlx::PgPool::connect(db.ledger_url.expose()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (others,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE datname IN ($1, $2) \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
        .bind(&ledger)
        .bind(&keys)
        .fetch_one(&pool)
        .await
        .unwrap();
        if others == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}: sessions of a killed process still open after 30 s",
            db.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.close().await;
}

/// A connection pool to either backend's database (the ledger or the key store).
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Pool {
    async fn open(db: &TestDb, url: &DatabaseUrl) -> Self {
        match db.name {
            "sqlite" => Self::Sqlite(sqlx::SqlitePool::connect(url.expose()).await.unwrap()),
            _ => Self::Postgres(sqlx::PgPool::connect(url.expose()).await.unwrap()),
        }
    }

    async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
            Self::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        self.rows::<(i64,)>(sql).await[0].0
    }

    async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// A count from the key store (`crate::retention::count` reads the ledger).
async fn key_store_count(db: &TestDb, sql: &str) -> i64 {
    let pool = Pool::open(db, &db.keys_url).await;
    let n = pool.count(sql).await;
    pool.close().await;
    n
}

/// `'a', 'b'` for an SQL `IN` list of ids (UUID text, checked).
fn sql_list<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = ids
        .into_iter()
        .inspect(|id| {
            assert!(id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        })
        .map(|id| format!("'{id}'"))
        .collect();
    if quoted.is_empty() {
        "NULL".into()
    } else {
        quoted.join(", ")
    }
}

/// The `content` rows of `subjects` in state `held` (through the subject-key index).
fn held_clause(subjects: &BTreeSet<String>) -> String {
    let keys: Vec<String> = subjects
        .iter()
        .map(|s| SubjectId::from_stored(s.clone()).index_key().to_string())
        .collect();
    let keys = if keys.is_empty() {
        "NULL".into()
    } else {
        keys.join(", ")
    };
    format!(
        "state = 'held' AND subject_key IN ({keys}) AND subject_id IN ({})",
        sql_list(subjects.iter().map(String::as_str))
    )
}

/// The first `n` recipients of the simulated sends (E.164), no two the same person under
/// different aliases (Brazil's ninth digit, Mexico's `1`).
fn distinct_recipients(traffic: &str, n: usize) -> Vec<String> {
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    for line in traffic.lines() {
        let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
        if envelope["kind"] != "send" {
            continue;
        }
        let Some(Ok(phone)) = envelope["request"]["to"].as_str().map(PhoneNumber::parse) else {
            continue;
        };
        let aliases: Vec<String> = phone
            .aliases()
            .iter()
            .map(|p| p.expose_e164().to_string())
            .collect();
        if aliases.iter().any(|a| taken.contains(a)) {
            continue;
        }
        taken.extend(aliases);
        out.push(phone.expose_e164().to_string());
        if out.len() == n {
            break;
        }
    }
    out
}

/// `f` over `items` on a few threads (each command that parses a number takes a while to start
/// in a debug build), results in order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn json(db: &TestDb, what: &str, run: &Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}: {what}: {}", db.name, run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{}: {what}: not JSON ({e}): {}", db.name, run.stdout))
}

/// Inits, simulates and ingests; returns the simulated traffic.
fn ledger_with_traffic(db: &TestDb, messages: &str, seed: &str, days: &str) -> String {
    assert_eq!(waledger(db, &["init"], None).code, 0, "{}", db.name);
    let sim = waledger(
        db,
        &[
            "simulate",
            "--messages",
            messages,
            "--seed",
            seed,
            "--days",
            days,
        ],
        None,
    );
    assert_eq!(sim.code, 0, "{}: {}", db.name, sim.stderr);
    let ingest = waledger(db, &["ingest", "-", "--format", "json"], Some(&sim.stdout));
    json(db, "ingest", &ingest);
    sim.stdout
}

/// One filed erasure request, with what its subjects held before any run could touch them.
struct Request {
    phone: String,
    id: String,
    subjects: BTreeSet<String>,
    held: BTreeSet<i64>,
}

/// Files one request per number and records, before any run, the subjects each names (through
/// the blind index) and the `seq` of every value they hold.
async fn file_wave(db: &TestDb, phones: &[String], requests: &mut Vec<Request>) {
    let ids = in_parallel(phones, |phone| {
        let run = waledger(
            db,
            &["erasure", "request", "--phone", phone, "--format", "json"],
            None,
        );
        let view = json(db, "erasure request", &run);
        assert_eq!(view["state"], "pending", "{}: {view}", db.name);
        view["id"].as_str().unwrap().to_string()
    });
    let ledger = Pool::open(db, &db.ledger_url).await;
    let links: Vec<(String, String)> = ledger
        .rows(&format!(
            "SELECT DISTINCT el.request_id, si.subject_id FROM erasure_lookup el \
             JOIN subject_index si ON si.digest = el.digest WHERE el.request_id IN ({})",
            sql_list(ids.iter().map(String::as_str))
        ))
        .await;
    let named: BTreeSet<String> = links.iter().map(|(_, s)| s.clone()).collect();
    let held: Vec<(String, i64)> = ledger
        .rows(&format!(
            "SELECT subject_id, seq FROM content WHERE {}",
            held_clause(&named)
        ))
        .await;
    ledger.close().await;
    let already: HashSet<String> = requests.iter().flat_map(|r| r.subjects.clone()).collect();
    for (phone, id) in phones.iter().zip(ids) {
        let subjects: BTreeSet<String> = links
            .iter()
            .filter(|(r, _)| *r == id)
            .map(|(_, s)| s.clone())
            .collect();
        assert!(
            !subjects.is_empty() && subjects.iter().all(|s| !already.contains(s)),
            "{}: every request must name its own subjects",
            db.name
        );
        let held: BTreeSet<i64> = held
            .iter()
            .filter(|(s, _)| subjects.contains(s))
            .map(|(_, seq)| *seq)
            .collect();
        assert!(
            !held.is_empty(),
            "{}: a simulated recipient holds values",
            db.name
        );
        requests.push(Request {
            phone: phone.clone(),
            id,
            subjects,
            held,
        });
    }
}

/// A request as stored: id, state, chain_seq, entries_erased, subjects (JSON).
type RequestRow = (String, String, Option<i64>, i64, Option<String>);

/// What a check after a kill saw.
struct Progress {
    pending: usize,
    /// Pending requests whose keys are already destroyed (killed between the two steps).
    shredded: BTreeSet<String>,
}

/// The invariant, straight from the databases: every request is whole or pending, never in
/// between.
async fn check_whole_or_pending(db: &TestDb, requests: &[Request], round: usize) -> Progress {
    let at = format!("{} (after round {round})", db.name);
    let ledger = Pool::open(db, &db.ledger_url).await;
    let rows: Vec<RequestRow> = ledger
        .rows("SELECT id, state, chain_seq, entries_erased, subjects FROM erasure_requests")
        .await;
    let rows: HashMap<String, _> = rows.into_iter().map(|r| (r.0.clone(), r)).collect();
    assert_eq!(rows.len(), requests.len(), "{at}: requests");
    let chain: Vec<(i64, Option<String>)> = ledger
        .rows("SELECT seq, detail FROM chain WHERE kind = 'erasure'")
        .await;
    let mut logged: HashMap<String, Vec<i64>> = HashMap::new();
    let mut totals: HashMap<i64, u64> = HashMap::new();
    for (seq, detail) in chain {
        let detail: serde_json::Value =
            serde_json::from_str(detail.as_deref().unwrap_or("null")).unwrap();
        let id = detail["request"]
            .as_str()
            .expect("an erasure entry names its request");
        logged.entry(id.to_string()).or_default().push(seq);
        totals.insert(seq, detail["total"].as_u64().unwrap_or(u64::MAX));
    }
    let subjects: BTreeSet<String> = requests.iter().flat_map(|r| r.subjects.clone()).collect();
    let held: HashMap<String, i64> = ledger
        .rows::<(String, i64)>(&format!(
            "SELECT subject_id, count(*) FROM content WHERE {} GROUP BY subject_id",
            held_clause(&subjects)
        ))
        .await
        .into_iter()
        .collect();
    ledger.close().await;
    let keys = Pool::open(db, &db.keys_url).await;
    let keyed: HashSet<String> = keys
        .rows::<(String,)>(&format!(
            "SELECT owner FROM data_keys WHERE owner IN ({})",
            sql_list(subjects.iter().map(String::as_str))
        ))
        .await
        .into_iter()
        .map(|(o,)| o)
        .collect();
    keys.close().await;

    let mut progress = Progress {
        pending: 0,
        shredded: BTreeSet::new(),
    };
    for r in requests {
        let (_, state, chain_seq, entries_erased, named) = &rows[&r.id];
        let entries = logged.get(&r.id).map_or(&[][..], Vec::as_slice);
        let held_now: i64 = r.subjects.iter().map(|s| held.get(s).unwrap_or(&0)).sum();
        let keys_left = r.subjects.iter().filter(|s| keyed.contains(*s)).count();
        match state.as_str() {
            "completed" => {
                let seq = chain_seq.unwrap_or_else(|| panic!("{at}: {} has no chain_seq", r.id));
                assert_eq!(
                    entries,
                    [seq],
                    "{at}: completed request {} needs its one erasure entry, at its chain_seq",
                    r.id
                );
                assert_eq!(
                    held_now, 0,
                    "{at}: completed request {} left values held",
                    r.id
                );
                assert_eq!(
                    keys_left, 0,
                    "{at}: completed request {} left a data key",
                    r.id
                );
                assert!(
                    *entries_erased as usize == r.held.len() && totals[&seq] == r.held.len() as u64,
                    "{at}: request {} and its ledger entry must count the {} values erased",
                    r.id,
                    r.held.len()
                );
                let named: BTreeSet<String> =
                    serde_json::from_str(named.as_deref().expect("a completed request names"))
                        .unwrap();
                assert_eq!(
                    named, r.subjects,
                    "{at}: request {} names its subjects",
                    r.id
                );
            }
            "pending" => {
                assert!(
                    entries.is_empty() && chain_seq.is_none(),
                    "{at}: pending request {} already has an erasure entry {entries:?}",
                    r.id
                );
                assert_eq!(
                    held_now as usize,
                    r.held.len(),
                    "{at}: pending request {} has values erased already",
                    r.id
                );
                // Crypto-shredding comes first: a kill right after it leaves the keys gone.
                if keys_left == 0 {
                    progress.shredded.insert(r.id.clone());
                } else {
                    assert_eq!(keys_left, r.subjects.len(), "{at}: {}", r.id);
                }
                progress.pending += 1;
            }
            other => panic!("{at}: request {} is {other}", r.id),
        }
    }
    progress
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_runs_killed_at_random_moments_leave_each_request_whole_or_pending() {
    for db in backends() {
        let traffic = ledger_with_traffic(&db, "3000", "11", "30");
        let phones = distinct_recipients(&traffic, REQUESTS);
        assert_eq!(phones.len(), REQUESTS, "{}", db.name);
        let mut waves = phones.chunks(WAVE);
        let mut requests = Vec::new();
        file_wave(&db, waves.next().unwrap(), &mut requests).await;

        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        let mut delays = Delays { lo: 5, hi: 100 };
        let (mut kills, mut mid_run, mut between_steps) = (0, 0, 0);
        let mut pending = requests.len();
        let mut shredded = BTreeSet::new();
        for round in 0..MAX_ROUNDS {
            if pending == 0 {
                let Some(wave) = waves.next() else { break };
                file_wave(&db, wave, &mut requests).await;
                pending = wave.len();
            }
            let killed = run_and_kill(
                &db,
                &["erasure", "run", "--format", "json"],
                delays.draw(&mut rng),
            );
            wait_for_killed_sessions(&db).await;
            let after = check_whole_or_pending(&db, &requests, round).await;
            let done = pending - after.pending;
            let newly_shredded = after.shredded.difference(&shredded).count();
            if killed && after.pending > 0 {
                kills += 1;
                if done > 0 || newly_shredded > 0 {
                    mid_run += 1;
                }
                if newly_shredded > 0 {
                    between_steps += 1;
                }
            }
            if !killed || after.pending == 0 || done > 2 {
                delays.too_late();
            } else if done == 0 && newly_shredded == 0 {
                delays.too_early();
            }
            pending = after.pending;
            shredded = after.shredded;
        }
        assert_eq!(requests.len(), REQUESTS, "{}: rounds ran out", db.name);
        eprintln!(
            "{}: {kills} erasure runs killed with work pending, {mid_run} of them while carrying \
             requests out, {between_steps} between destroying a key and erasing the values",
            db.name
        );
        assert!(
            kills >= KILLS,
            "{}: only {kills} runs were killed with work pending",
            db.name
        );
        assert!(
            mid_run >= KILLS / 2,
            "{}: only {mid_run} kills landed while requests were carried out",
            db.name
        );

        let last = waledger(&db, &["erasure", "run", "--format", "json"], None);
        let outcome = json(&db, "erasure run", &last);
        assert_eq!(outcome["completed"], pending as u64, "{}", db.name);
        let after = check_whole_or_pending(&db, &requests, MAX_ROUNDS).await;
        assert_eq!(after.pending, 0, "{}", db.name);

        let list = waledger(&db, &["erasure", "list", "--format", "json"], None);
        let list = json(&db, "erasure list", &list);
        let listed: HashMap<&str, &serde_json::Value> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["id"].as_str().unwrap(), v))
            .collect();
        assert_eq!(listed.len(), requests.len(), "{}", db.name);
        for r in &requests {
            let view = listed[r.id.as_str()];
            assert_eq!(view["state"], "completed", "{}: {view}", db.name);
            assert_eq!(
                view["entries_erased"],
                r.held.len() as u64,
                "{}: {view}",
                db.name
            );
        }
        let exports = in_parallel(&requests, |r| {
            let run = waledger(
                &db,
                &["export", "--phone", &r.phone, "--format", "json"],
                None,
            );
            json(&db, "export", &run)
        });
        for (r, export) in requests.iter().zip(exports) {
            let entries = export["entries"].as_array().unwrap();
            assert!(
                entries.iter().all(|e| e["state"] != "held"),
                "{}: {} still holds values",
                db.name,
                r.id
            );
            let erased: BTreeSet<i64> = entries
                .iter()
                .filter(|e| e["state"] == "erased" && e["value"].is_null())
                .map(|e| e["seq"].as_i64().unwrap())
                .collect();
            assert_eq!(
                erased, r.held,
                "{}: the export of {} must read every value held before as erased",
                db.name, r.id
            );
        }
        let verify = waledger(&db, &["verify", "--format", "json"], None);
        assert_eq!(json(&db, "verify", &verify)["ok"], true, "{}", db.name);
    }
}

/// The key store's header: key check, check of the key a rotation moves to, generation.
async fn keystore_header(db: &TestDb) -> (Vec<u8>, Option<Vec<u8>>, i64) {
    let keys = Pool::open(db, &db.keys_url).await;
    let header = keys
        .rows("SELECT key_check, next_check, generation FROM keystore_meta WHERE id = 1")
        .await
        .remove(0);
    keys.close().await;
    header
}

fn key_check(path: &std::path::Path) -> Vec<u8> {
    let key = read_key_file(path)
        .unwrap_or_else(|e| panic!("{} must hold a whole key: {e}", path.display()));
    Wrapper::of(&key).key_check().to_vec()
}

fn export(db: &TestDb, phone: &str) -> Run {
    waledger(db, &["export", "--phone", phone, "--format", "json"], None)
}

/// Where a killed rotation stopped, as the key file, the `.next` file and the key store's header
/// show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stopped {
    /// The key store is under the key file's key and no rotation is marked (a `.next` key may
    /// wait for the next run).
    NotBegun,
    /// The key store marks the rotation to the `.next` key; `partly`: some keys re-wrapped, not
    /// all (killed between two re-wrap transactions).
    InProgress { partly: bool },
    /// The key store is under the `.next` key; the key file was not replaced yet.
    Switched,
    /// The new key replaced the key file.
    Finished,
}

/// Classifies the state after a kill, asserting it is one a rotation passes through and that
/// the next run can finish it: both key files hold whole keys, and the key the key store moves
/// to (or moved to) is the one in the `.next` file.
async fn stopped_at(db: &TestDb, key_before: &[u8], keys: i64, at: &str) -> Stopped {
    let key_file = db.dir.path().join("waledger.key");
    let next_file = db.dir.path().join("waledger.key.next");
    let file_check = key_check(&key_file);
    let next_file_check = next_file.exists().then(|| key_check(&next_file));
    let (check, marked, generation) = keystore_header(db).await;
    if std::fs::read(&key_file).unwrap() != key_before {
        assert!(
            next_file_check.is_none(),
            "{at}: the .next file outlived the key file's replacement"
        );
        assert!(
            check == file_check && marked.is_none(),
            "{at}: the key file was replaced before the key store finished"
        );
        return Stopped::Finished;
    }
    match marked {
        None if check == file_check => Stopped::NotBegun,
        None => {
            assert_eq!(
                Some(check),
                next_file_check,
                "{at}: the key store is under a key that no file holds"
            );
            Stopped::Switched
        }
        Some(target) => {
            assert_eq!(
                check, file_check,
                "{at}: the key store left the key file's key"
            );
            assert_eq!(
                Some(target),
                next_file_check,
                "{at}: the rotation in progress moves to a key the .next file does not hold"
            );
            let moved = key_store_count(
                db,
                &format!(
                    "SELECT count(*) FROM data_keys WHERE generation = {}",
                    generation + 1
                ),
            )
            .await;
            Stopped::InProgress {
                partly: moved > 0 && moved < keys,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotations_killed_at_random_moments_finish_on_the_next_run() {
    for db in backends() {
        // 5,500 messages: about 1,100 subjects, so the re-wrap takes two transactions (4,000
        // make fewer than 800 keys, one transaction).
        let traffic = ledger_with_traffic(&db, "5500", "12", "10");
        let keys = key_store_count(&db, "SELECT count(*) FROM data_keys").await;
        assert!(keys > 1_000, "{}: only {keys} data keys", db.name);
        let key_file = db.dir.path().join("waledger.key");
        let next_file = db.dir.path().join("waledger.key.next");
        let old = std::fs::read(&key_file).unwrap();
        std::fs::write(db.dir.path().join("old.key"), &old).unwrap();
        let saved: Vec<(String, serde_json::Value)> = distinct_recipients(&traffic, 3)
            .into_iter()
            .map(|phone| {
                let entries = json(&db, "export", &export(&db, &phone))["entries"].clone();
                assert!(!entries.as_array().unwrap().is_empty(), "{}", db.name);
                (phone, entries)
            })
            .collect();

        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(22);
        let mut delays = Delays { lo: 0, hi: 60 };
        let mut seen: BTreeMap<Stopped, usize> = BTreeMap::new();
        let mut kills = 0;
        let mut round_key = old.clone();
        for round in 0..MAX_ROUNDS {
            if kills >= KILLS {
                break;
            }
            let at = format!("{} (after round {round})", db.name);
            let delay = delays.draw(&mut rng);
            let killed = run_and_kill(&db, &["keys", "rotate", "--format", "json"], delay);
            wait_for_killed_sessions(&db).await;
            kills += usize::from(killed);
            let stopped = stopped_at(&db, &round_key, keys, &at).await;
            // One number a round (each export takes a while to start in a debug build).
            let (phone, entries) = &saved[round % saved.len()];
            let run = export(&db, phone);
            match stopped {
                Stopped::NotBegun | Stopped::Finished => assert_eq!(
                    &json(&db, "export", &run)["entries"],
                    entries,
                    "{at}: values read differently ({stopped:?})"
                ),
                Stopped::InProgress { .. } | Stopped::Switched => {
                    assert_eq!(run.code, 1, "{at}: export when {stopped:?}: {}", run.stdout);
                    assert_eq!(run.stderr.trim().lines().count(), 1, "{at}: {}", run.stderr);
                    // (When `Switched`, the ledger refuses the old key as a wrong key, without
                    // pointing to `keys rotate`; the next run finishes the rotation all the same.)
                    if stopped != Stopped::Switched {
                        assert!(
                            run.stderr.contains("keys rotate"),
                            "{at}: the error must say how to finish the rotation: {}",
                            run.stderr
                        );
                    }
                }
            }
            *seen.entry(stopped).or_default() += 1;
            // Lower the bound when rotations finish, raise it otherwise: the kills wander over
            // the whole rotation, from before it begins to after the key file is replaced.
            match stopped {
                Stopped::Finished => delays.too_late(),
                _ if killed => delays.too_early(),
                _ => {}
            }
            round_key = std::fs::read(&key_file).unwrap();
        }
        eprintln!(
            "{}: {kills} rotations killed; where the rounds stopped: {seen:?}",
            db.name
        );
        assert!(kills >= KILLS, "{}: only {kills} kills landed", db.name);
        let inside: usize = seen
            .iter()
            .filter(|(s, _)| matches!(s, Stopped::InProgress { .. } | Stopped::Switched))
            .map(|(_, n)| n)
            .sum();
        assert!(
            inside >= KILLS / 4,
            "{}: only {inside} kills landed inside a rotation",
            db.name
        );

        let finished = (0..3).any(|_| {
            let run = waledger(&db, &["keys", "rotate", "--format", "json"], None);
            assert!(
                run.code == 0 || run.code == 1,
                "{}: {}",
                db.name,
                run.stderr
            );
            run.code == 0
        });
        assert!(finished, "{}: the rotation could not be finished", db.name);
        assert_ne!(std::fs::read(&key_file).unwrap(), old, "{}", db.name);
        assert!(!next_file.exists(), "{}: the .next file is left", db.name);
        let (check, next_check, _) = keystore_header(&db).await;
        assert_eq!(check, key_check(&key_file), "{}", db.name);
        assert_eq!(next_check, None, "{}", db.name);
        for (phone, entries) in &saved {
            assert_eq!(
                &json(&db, "export", &export(&db, phone))["entries"],
                entries,
                "{}: values read differently after the rotation",
                db.name
            );
        }
        let with_old = waledger(
            &db,
            &[
                "export",
                "--phone",
                &saved[0].0,
                "--format",
                "json",
                "--key-file",
                "old.key",
            ],
            None,
        );
        assert_eq!(
            with_old.code, 1,
            "{}: the old key still opens the ledger",
            db.name
        );
        assert_eq!(with_old.stderr.trim().lines().count(), 1, "{}", db.name);
        let verify = waledger(&db, &["verify", "--format", "json"], None);
        assert_eq!(json(&db, "verify", &verify)["ok"], true, "{}", db.name);
        let rotations = crate::retention::count(
            &db,
            "SELECT count(*) FROM chain WHERE kind = 'key_rotation'",
        )
        .await;
        assert!(rotations >= 1, "{}: no key_rotation entry", db.name);
    }
}
