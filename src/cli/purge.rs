//! `waledger purge [--dry-run]`: applies the retention policy now. A dry run prints the plan (per
//! category and field kind: entries due, subjects affected, entries kept by holds, the oldest due
//! entry) and changes nothing. Needs no master key: a purge never decrypts.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::policy::Policies;
use crate::retention::{self, PurgeOutcome, PurgePlan};
use serde::Serialize;
use std::io::Write;
use tabled::Tabled;

/// Apply the retention policy now (or preview it with --dry-run)
#[derive(Debug, clap::Args)]
pub struct PurgeArgs {
    /// Print what would be purged and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct DryRunOutput<'a> {
    #[serde(flatten)]
    outcome: &'a PurgeOutcome,
    plan: &'a PurgePlan,
}

#[derive(Tabled)]
struct PlanRow {
    category: String,
    field: String,
    window: String,
    due: u64,
    subjects: u64,
    #[tabled(rename = "kept by holds")]
    kept: u64,
    #[tabled(rename = "oldest due")]
    oldest: String,
}

impl PurgeArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let policies =
            Policies::load(&ctx.settings.policies).map_err(|e| UsageError(e.to_string()))?;
        let policy = &policies.retention;
        let store = ctx.open_store().await?;
        let now = crate::clock::now();
        if self.dry_run {
            let plan = retention::plan(store.as_ref(), policy, now).await?;
            store.close().await;
            let outcome = plan.outcome();
            return print_plan(ctx.format, &outcome, &plan, out).map(|()| Exit::Success);
        }
        let bar = output::counter("purge");
        let never = std::sync::atomic::AtomicBool::new(false);
        let options = retention::PurgeOptions {
            dry_run: false,
            batch: ctx.settings.purge_batch,
        };
        let outcome = retention::run_once(
            store.as_ref(),
            policy,
            now,
            options,
            &mut output::report_to(&bar),
            &never,
        )
        .await?;
        bar.finish_and_clear();
        store.close().await;
        match ctx.format {
            Format::Json => output::json(out, &outcome)?,
            Format::Table => print_outcome(&outcome, out)?,
        }
        Ok(Exit::Success)
    }
}

fn print_plan(
    format: Format,
    outcome: &PurgeOutcome,
    plan: &PurgePlan,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if format == Format::Json {
        return output::json(out, &DryRunOutput { outcome, plan });
    }
    writeln!(
        out,
        "dry run: {} entries are due; nothing was changed",
        outcome.total
    )?;
    output::table(
        out,
        plan.rows.iter().map(|r| PlanRow {
            category: r.category.to_string(),
            field: r.field.to_string(),
            window: r.window.clone(),
            due: r.due,
            subjects: r.subjects,
            kept: r.kept_by_holds,
            oldest: r.oldest_due.map_or("-".into(), |t| t.to_rfc3339()),
        }),
    )
}

fn print_outcome(outcome: &PurgeOutcome, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut rows: Vec<(&str, String)> = outcome
        .purged
        .iter()
        .map(|(c, n)| (c.as_ref(), n.to_string()))
        .collect();
    rows.push(("total purged", outcome.total.to_string()));
    rows.push(("kept by holds", outcome.kept_by_holds.to_string()));
    rows.push(("subjects forgotten", outcome.subjects_forgotten.to_string()));
    output::pairs(out, &rows)
}
