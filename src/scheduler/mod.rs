//! The scheduler decides *when*; each job is a plain function that decides *what*. At every wake-up
//! it tries to claim the latest fire time of each job's cron schedule that is not in the future:
//! a claim is unique per `(job, scheduled_for)` (and serialised by an advisory lock on
//! PostgreSQL), so each tick runs once across instances, and after downtime only the latest missed
//! tick runs: a missed run is caught up once, not once per missed tick. A run whose instance died
//! is taken over when its lease expires. Stopping finishes the batch in flight.

use crate::clock;
use crate::erasure;
use crate::ledger::Ledger;
use crate::policy::{Policies, Schedules};
use crate::report;
use crate::retention;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// How often to look for due or abandoned runs when no tick is nearer.
pub const POLL: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a claim is held before another instance may take the run over.
pub const LEASE: Duration = Duration::minutes(15);
/// How far back to look for a missed tick.
const HORIZON: Duration = Duration::days(400);

/// Jobs that run on a schedule.
const JOBS: [&str; 3] = ["purge", "erasures", "report"];

/// Why a job run failed. Messages carry no personal data.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Output(String),
}

/// What one tick did for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub job: &'static str,
    pub scheduled_for: DateTime<Utc>,
    pub outcome: String,
    pub counts: String,
}

pub struct Scheduler {
    store: Arc<dyn Store>,
    policies: Policies,
    instance: String,
    batch: i64,
    /// Where scheduled reports go; `None`: the report job is not run.
    reports: Option<PathBuf>,
    /// Verifies the ledger before each scheduled report (needs the master key).
    ledger: Option<Ledger>,
}

fn cron_of<'a>(schedules: &'a Schedules, job: &str) -> &'a crate::policy::Cron {
    match job {
        "erasures" => &schedules.erasures,
        "report" => &schedules.report,
        _ => &schedules.purge,
    }
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>, policies: Policies, instance: String) -> Self {
        Self {
            store,
            policies,
            instance,
            batch: retention::BATCH,
            reports: None,
            ledger: None,
        }
    }

    /// Writes scheduled reports into `folder`, verifying the ledger first when `ledger` is given.
    pub fn with_reports(mut self, folder: PathBuf, ledger: Option<Ledger>) -> Self {
        self.reports = Some(folder);
        self.ledger = ledger;
        self
    }

    /// Values removed per purge transaction.
    pub fn with_batch(mut self, batch: i64) -> Self {
        self.batch = batch;
        self
    }

    /// Claims and runs every job whose latest tick at or before `now` has not run.
    pub async fn tick(
        &self,
        now: DateTime<Utc>,
        stop: &AtomicBool,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut done = Vec::new();
        for job in JOBS {
            if job == "report" && self.reports.is_none() {
                continue;
            }
            let Some(due) =
                cron_of(&self.policies.retention.schedule, job).last_at_or_before(now, HORIZON)
            else {
                continue;
            };
            let claimed = self
                .store
                .claim_run(
                    job,
                    due.timestamp(),
                    &self.instance,
                    now.timestamp(),
                    (now + LEASE).timestamp(),
                )
                .await?;
            if !claimed {
                continue;
            }
            tracing::info!(job, scheduled_for = %due, instance = %self.instance, "run claimed");
            let (outcome, counts) = self.run_job(job, due, now, stop).await;
            self.store
                .finish_run(
                    job,
                    due.timestamp(),
                    &self.instance,
                    clock::now().timestamp(),
                    &outcome,
                    &counts,
                )
                .await?;
            tracing::info!(job, scheduled_for = %due, outcome = %outcome, counts = %counts, "run finished");
            done.push(RunRecord {
                job,
                scheduled_for: due,
                outcome,
                counts,
            });
        }
        Ok(done)
    }

    async fn run_job(
        &self,
        job: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        stop: &AtomicBool,
    ) -> (String, String) {
        let result = match job {
            "erasures" => self.run_erasures(now, stop).await,
            "report" => self.run_report(due, now).await,
            _ => self.run_purge(now, stop).await,
        };
        match result {
            Ok((stopped, counts)) => {
                let outcome = if stopped { "stopped" } else { "ok" };
                (outcome.to_string(), counts.to_string())
            }
            Err(e) => {
                tracing::error!(error.message = %e, error.cause_chain = ?e, job, "run failed");
                (
                    "failed".to_string(),
                    serde_json::json!({"error": e.to_string()}).to_string(),
                )
            }
        }
    }

    async fn run_purge(
        &self,
        now: DateTime<Utc>,
        stop: &AtomicBool,
    ) -> Result<(bool, serde_json::Value), JobError> {
        let options = retention::PurgeOptions {
            dry_run: false,
            batch: self.batch,
        };
        let o = retention::run_once(
            self.store.as_ref(),
            &self.policies.retention,
            now,
            options,
            &mut |_, _| {},
            stop,
        )
        .await?;
        let counts = serde_json::json!({"purged": o.purged, "total": o.total, "subjects_forgotten": o.subjects_forgotten});
        Ok((o.stopped, counts))
    }

    /// Writes the report of the whole days since the previous tick (for the monthly default: the
    /// previous calendar month) into the report folder as JSON and HTML, named by period.
    async fn run_report(
        &self,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(bool, serde_json::Value), JobError> {
        let cron = &self.policies.retention.schedule.report;
        let from = cron
            .last_at_or_before(due - Duration::seconds(1), HORIZON)
            .unwrap_or(due - Duration::days(report::DEFAULT_DAYS));
        // Whole UTC days: the monthly default reports exactly the previous calendar month.
        let midnight = |t: DateTime<Utc>| {
            t.date_naive()
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc()
        };
        let period = report::Period {
            from: midnight(from),
            to: midnight(due),
        };
        if period.from >= period.to {
            return Ok((
                false,
                serde_json::json!({"skipped": "the period since the last report is empty"}),
            ));
        }
        if let Some(ledger) = &self.ledger {
            match ledger.verify(&mut |_| {}).await {
                Ok(verified) => {
                    self.store
                        .record_verification(&verified.as_run(now.timestamp()))
                        .await?
                }
                Err(e) => {
                    tracing::error!(error.message = %e, "verification before the report failed")
                }
            }
        }
        let built = report::build(self.store.as_ref(), &self.policies, period.clone(), now).await?;
        let folder = self
            .reports
            .as_ref()
            .expect("the report job runs with a folder");
        let stem = report::file_stem(&period);
        let write = |name: String, text: String| -> Result<String, JobError> {
            std::fs::create_dir_all(folder)
                .and_then(|()| std::fs::write(folder.join(&name), text))
                .map_err(|e| JobError::Output(format!("cannot write {}: {e}; check the report folder (WALEDGER_REPORTS) is writable", folder.join(&name).display())))?;
            Ok(name)
        };
        let json = serde_json::to_string_pretty(&built).expect("a report serialises") + "\n";
        let html = report::html::render(&built)
            .map_err(|e| JobError::Output(format!("the HTML report failed to render: {e}")))?;
        let files = [
            write(format!("{stem}.json"), json)?,
            write(format!("{stem}.html"), html)?,
        ];
        if !built.summary.compliant {
            tracing::warn!(
                non_compliant_flows = built.summary.non_compliant_flows,
                overdue_erasures = built.erasures.overdue,
                "the scheduled report is not compliant"
            );
        }
        let counts = serde_json::json!({
            "from": period.from, "to": period.to, "files": files,
            "flows": built.summary.flows, "compliant": built.summary.compliant,
        });
        Ok((false, counts))
    }

    /// Carries out pending erasure requests; overdue ones are logged as warnings (by id).
    async fn run_erasures(
        &self,
        now: DateTime<Utc>,
        stop: &AtomicBool,
    ) -> Result<(bool, serde_json::Value), JobError> {
        let o = erasure::run_pending(self.store.as_ref(), now, &mut |_, _| {}, stop).await?;
        if o.overdue > 0 {
            tracing::warn!(
                overdue = o.overdue,
                "erasure requests were past their deadline"
            );
        }
        let counts = serde_json::to_value(&o).expect("counts serialise");
        Ok((o.stopped, counts))
    }

    /// The next instant something may be due: the nearest tick, or the poll interval.
    fn next_wake(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let poll = now + Duration::from_std(POLL).expect("the poll interval fits");
        JOBS.iter()
            .filter_map(|job| cron_of(&self.policies.retention.schedule, job).next_after(now))
            .chain([poll])
            .min()
            .unwrap_or(poll)
    }

    /// Runs until `shutdown` completes; a run in progress finishes its batch and stops.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        let woken = Arc::new(Notify::new());
        {
            let (stop, woken) = (stop.clone(), woken.clone());
            tokio::spawn(async move {
                shutdown.await;
                stop.store(true, Ordering::SeqCst);
                woken.notify_one();
            });
        }
        while !stop.load(Ordering::SeqCst) {
            if let Err(e) = self.tick(clock::now(), &stop).await {
                tracing::error!(error.message = %e, error.cause_chain = ?e, "scheduler tick failed; retrying at the next wake-up");
            }
            let wait = (self.next_wake(clock::now()) - clock::now())
                .to_std()
                .unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = woken.notified() => {}
            }
        }
        tracing::info!(instance = %self.instance, "scheduler stopped");
        Ok(())
    }
}
