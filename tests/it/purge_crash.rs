//! Crash safety of the purge, with the real binary, on every backend: a ledger of 100,000+
//! entries is purged by processes killed with SIGKILL at random moments (20 kills; before each
//! round the DPO tightens the windows a little, so every round has work in flight), then by one
//! that finishes. In the end every due value is gone, no value that was never due is lost, each
//! tombstone counts exactly what was removed, and the chain verifies.

use crate::cli::{command, waledger};
use crate::helpers::{backends, TestDb};
use crate::retention::count;
use rand::{Rng, SeedableRng};
use std::process::Stdio;
use std::time::Duration;
use waledger::domain::FieldKind;
use waledger::policy::Policies;

const ROUNDS: usize = 20;

fn purge_process(db: &TestDb) -> std::process::Child {
    command(db, &["purge", "--format", "json"])
        // Small batches: many transactions, so a kill lands mid-purge, between or inside them.
        .env("WALEDGER_PURGE_BATCH", "25")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs")
}

/// Values of each field kind at or before the kind's cutoff at `now`, in `state` (or not in it).
async fn count_by_cutoff(
    db: &TestDb,
    policies: &Policies,
    now: i64,
    state_clause: &str,
    before: bool,
) -> i64 {
    let mut total = 0;
    for kind in <FieldKind as strum::IntoEnumIterator>::iter() {
        let cutoff = policies.retention.cutoff(kind, now);
        let op = if before { "<=" } else { ">" };
        let sql = format!("SELECT count(*) FROM content WHERE field = '{kind}' AND {state_clause} AND occurred_at {op} {cutoff}");
        total += count(db, &sql).await;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_killed_at_random_moments_lose_nothing_and_leave_nothing_due() {
    for db in backends() {
        assert_eq!(waledger(&db, &["init"], None).code, 0);
        let sim = waledger(
            &db,
            &[
                "simulate",
                "--messages",
                "4400",
                "--seed",
                "9",
                "--days",
                "120",
            ],
            None,
        );
        std::fs::write(db.dir.path().join("traffic.jsonl"), &sim.stdout).unwrap();
        let ingest = waledger(&db, &["ingest", "traffic.jsonl", "--format", "json"], None);
        assert_eq!(ingest.code, 0, "{}: {}", db.name, ingest.stderr);
        let entries: serde_json::Value = serde_json::from_str(&ingest.stdout).unwrap();
        assert!(
            entries["entries"].as_u64().unwrap() >= 100_000,
            "{}: {entries}",
            db.name
        );
        std::fs::create_dir_all(db.dir.path().join("policies")).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20);
        let mut killed = 0;
        let mut policies = write_policy(&db, 118);
        // Until 20 purges were killed in flight (a fast machine may finish some rounds first).
        for round in 0..3 * ROUNDS {
            if killed == ROUNDS {
                break;
            }
            policies = write_policy(&db, 118u32.saturating_sub(2 * round as u32).max(10));
            let mut child = purge_process(&db);
            std::thread::sleep(Duration::from_millis(rng.gen_range(20..300)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
            child.wait().unwrap();
        }
        let before_final = waledger::clock::now().timestamp();
        let last = waledger(&db, &["purge", "--format", "json"], None);
        assert_eq!(last.code, 0, "{}: {}", db.name, last.stderr);
        let after_final = waledger::clock::now().timestamp();

        assert!(
            killed >= ROUNDS,
            "{}: only {killed} purges were killed mid-run (wanted {ROUNDS})",
            db.name
        );
        let still_due = count_by_cutoff(&db, &policies, before_final, "state = 'held'", true).await;
        assert_eq!(still_due, 0, "{}: due values survived", db.name);
        let lost = count_by_cutoff(&db, &policies, after_final, "state <> 'held'", false).await;
        assert_eq!(
            lost, 0,
            "{}: values that were never due were removed",
            db.name
        );
        let purged = count(&db, "SELECT count(*) FROM content WHERE state = 'purged'").await;
        let tombstoned = tombstone_total(&db).await;
        assert_eq!(
            tombstoned, purged,
            "{}: tombstones must count each removal once",
            db.name
        );
        let verify = waledger(&db, &["verify", "--format", "json"], None);
        assert_eq!(verify.code, 0, "{}: {}", db.name, verify.stdout);
    }
}

/// Writes a retention policy with one window (in days) for every category; returns it loaded.
fn write_policy(db: &TestDb, days: u32) -> Policies {
    let text = format!(
        "[windows]\nphone_number = \"{days}d\"\ntext = \"{days}d\"\nmedia = \"{days}d\"\nmetadata = \"{days}d\"\n"
    );
    let dir = db.dir.path().join("policies");
    std::fs::write(dir.join("retention.toml"), text).unwrap();
    Policies::load(&dir).unwrap()
}

async fn tombstone_total(db: &TestDb) -> i64 {
    let details: Vec<String> = match db.name {
        "sqlite" => {
            let pool = sqlx::SqlitePool::connect(db.ledger_url.expose())
                .await
                .unwrap();
            sqlx::query_scalar("SELECT detail FROM chain WHERE kind = 'purge'")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
        _ => {
            let pool = sqlx::PgPool::connect(db.ledger_url.expose()).await.unwrap();
            sqlx::query_scalar("SELECT detail FROM chain WHERE kind = 'purge'")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    details
        .iter()
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["count"]
                .as_i64()
                .unwrap()
        })
        .sum()
}
