//! `waledger jobs`: the history of scheduled runs (job, scheduled time, instance, start, end,
//! outcome, counts), newest first.

use super::{output, Ctx, Exit, Format};
use chrono::DateTime;
use serde::Serialize;
use std::io::Write;
use tabled::Tabled;

/// The history of scheduled job runs, newest first
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Only this job (purge, erasures, report)
    #[arg(long)]
    pub job: Option<String>,
    /// How many runs to show
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
}

#[derive(Serialize, Tabled)]
struct Run {
    job: String,
    scheduled_for: String,
    instance: String,
    started_at: String,
    finished_at: String,
    outcome: String,
    counts: String,
}

fn time(t: Option<i64>) -> String {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
        .map_or("-".into(), |t| t.to_rfc3339())
}

impl JobsArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let store = ctx.open_store().await?;
        let runs = store.runs(self.job.as_deref(), self.limit.max(1)).await?;
        store.close().await;
        let rows: Vec<Run> = runs
            .into_iter()
            .map(|r| Run {
                job: r.job,
                scheduled_for: time(Some(r.scheduled_for)),
                instance: r.instance,
                started_at: time(Some(r.started_at)),
                finished_at: time(r.finished_at),
                outcome: r.outcome.unwrap_or_else(|| "running".into()),
                counts: r.counts.unwrap_or_default(),
            })
            .collect();
        match ctx.format {
            Format::Json => output::json(out, &rows)?,
            Format::Table if rows.is_empty() => {
                writeln!(out, "no scheduled run yet; start `waledger serve`")?
            }
            Format::Table => output::table(out, rows)?,
        }
        Ok(Exit::Success)
    }
}
