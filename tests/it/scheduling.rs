//! The scheduler with time as a parameter, on every backend: the latest due tick runs once, a
//! second look at the same instant runs nothing, downtime over several ticks is caught up once,
//! three instances ticking together run each tick once, and a dead instance's run is taken over
//! after its lease.

use crate::helpers::backends;
use crate::retention::policy;
use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::AtomicBool;
use waledger::crypto::MasterKey;
use waledger::policy::Policies;
use waledger::scheduler::{RunRecord, Scheduler};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[tokio::test]
async fn each_tick_runs_once_and_downtime_is_caught_up_once() {
    for db in backends() {
        let ledger = db.ledger(&MasterKey::generate()).await;
        let store = ledger.into_store();
        let scheduler = Scheduler::new(store.clone(), Policies::new(policy()), "solo".into());
        let stop = AtomicBool::new(false);

        let ticked = scheduler
            .tick(at("2026-11-20T12:00:00Z"), &stop)
            .await
            .unwrap();
        let erasures = of_job(&ticked, "erasures");
        assert_eq!(erasures.len(), 1, "{}", db.name);
        assert_eq!(
            erasures[0].scheduled_for,
            at("2026-11-20T12:00:00Z"),
            "{}: erasures run on their own (15-minute) schedule",
            db.name
        );
        let first = of_job(&ticked, "purge");
        assert_eq!(first.len(), 1, "{}", db.name);
        assert_eq!(
            first[0].scheduled_for,
            at("2026-11-20T03:00:00Z"),
            "{}: the latest 03:00 tick",
            db.name
        );
        assert_eq!(first[0].outcome, "ok");
        assert!(
            scheduler
                .tick(at("2026-11-20T12:00:00Z"), &stop)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            db.name
        );
        assert!(
            of_job(
                &scheduler
                    .tick(at("2026-11-21T02:59:59Z"), &stop)
                    .await
                    .unwrap(),
                "purge"
            )
            .is_empty(),
            "{}",
            db.name
        );

        // Down from the 21st to the 24th: three ticks missed, one run.
        let caught_up = of_job(
            &scheduler
                .tick(at("2026-11-24T09:00:00Z"), &stop)
                .await
                .unwrap(),
            "purge",
        );
        assert_eq!(caught_up.len(), 1, "{}", db.name);
        assert_eq!(
            caught_up[0].scheduled_for,
            at("2026-11-24T03:00:00Z"),
            "{}",
            db.name
        );
        let history = store.runs(Some("purge"), 10).await.unwrap();
        assert_eq!(history.len(), 2, "{}", db.name);
        assert!(history
            .iter()
            .all(|r| r.finished_at.is_some() && r.outcome.as_deref() == Some("ok")));
    }
}

#[tokio::test]
async fn three_instances_run_each_tick_once() {
    for db in backends() {
        let master = MasterKey::generate().dangerously_to_base64();
        let mut instances = Vec::new();
        for name in ["a", "b", "c"] {
            let ledger = db.ledger(&MasterKey::from_base64(&master).unwrap()).await;
            instances.push(Scheduler::new(
                ledger.into_store(),
                Policies::new(policy()),
                name.into(),
            ));
        }
        let mut total = 0;
        for day in 1..=5 {
            let now = at("2026-11-01T12:00:00Z") + Duration::days(day);
            let stop = AtomicBool::new(false);
            let runs = futures_join(&instances, now, &stop).await;
            assert_eq!(runs, 1, "{}: day {day}", db.name);
            total += runs;
        }
        assert_eq!(total, 5);
    }
}

async fn futures_join(instances: &[Scheduler], now: DateTime<Utc>, stop: &AtomicBool) -> usize {
    let (a, b, c) = tokio::join!(
        instances[0].tick(now, stop),
        instances[1].tick(now, stop),
        instances[2].tick(now, stop)
    );
    [a.unwrap(), b.unwrap(), c.unwrap()]
        .iter()
        .map(|runs| of_job(runs, "purge").len())
        .sum()
}

fn of_job(runs: &[RunRecord], job: &str) -> Vec<RunRecord> {
    runs.iter().filter(|r| r.job == job).cloned().collect()
}

#[tokio::test]
async fn a_dead_instances_run_is_taken_over_after_its_lease() {
    for db in backends() {
        let store = db.ledger(&MasterKey::generate()).await.into_store();
        let t = at("2026-11-20T03:00:00Z").timestamp();
        assert!(store
            .claim_run("purge", t, "dead", t, t + 600)
            .await
            .unwrap());
        assert!(
            !store
                .claim_run("purge", t, "alive", t + 300, t + 900)
                .await
                .unwrap(),
            "{}: lease still valid",
            db.name
        );
        assert!(
            store
                .claim_run("purge", t, "alive", t + 601, t + 1200)
                .await
                .unwrap(),
            "{}: lease expired",
            db.name
        );
        store
            .finish_run("purge", t, "alive", t + 700, "ok", "{}")
            .await
            .unwrap();
        assert!(
            !store
                .claim_run("purge", t, "late", t + 5000, t + 6000)
                .await
                .unwrap(),
            "{}: finished runs stay done",
            db.name
        );
        let runs = store.runs(None, 5).await.unwrap();
        assert_eq!(runs[0].instance, "alive");
    }
}
