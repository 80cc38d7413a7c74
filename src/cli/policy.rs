//! `waledger policy check [PATH]`: validates the policy files (retention policy, terms and
//! data-flow catalogues) and prints the policy in force (each field kind's effective window, the
//! next three runs of each schedule, the documented flows).
//! `waledger policy default`: prints the shipped, commented retention policy.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::domain::{Category, FieldKind};
use crate::policy::{Policies, DEFAULT_RETENTION};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use strum::IntoEnumIterator;
use tabled::Tabled;

/// Validate and show retention policies
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy folder (or one file) and print the policy in force
    Check {
        /// Policy folder or retention file [default: the configured policy folder]
        path: Option<PathBuf>,
    },
    /// Print the shipped, commented retention policy (a starting point for policies/retention.toml)
    Default,
}

#[derive(Serialize, Tabled)]
struct FieldWindow {
    field: FieldKind,
    category: Category,
    window: String,
    #[tabled(rename = "set by")]
    set_by: &'static str,
}

#[derive(Serialize)]
struct ScheduleRow {
    job: &'static str,
    cron: String,
    next: Vec<DateTime<Utc>>,
}

#[derive(Serialize)]
struct CheckOutput<'a> {
    file: String,
    digest: &'a str,
    fields: Vec<FieldWindow>,
    schedules: Vec<ScheduleRow>,
    catalogues: CatalogueSummary,
}

/// What `policy check` says of the terms and data-flow catalogues.
#[derive(Serialize)]
struct CatalogueSummary {
    digest: String,
    documents: usize,
    flows: Vec<FlowRow>,
    /// Catalogue files missing from the folder: the shipped ones are in force for them.
    shipped_defaults: Vec<String>,
}

#[derive(Serialize, Tabled)]
struct FlowRow {
    flow: String,
    direction: String,
    fields: String,
    terms: usize,
}

impl PolicyArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let path = match &self.command {
            PolicyCommand::Default => {
                out.write_all(DEFAULT_RETENTION.as_bytes())?;
                return Ok(Exit::Success);
            }
            PolicyCommand::Check { path } => path
                .clone()
                .unwrap_or_else(|| ctx.settings.policies.clone()),
        };
        let policies = Policies::load(&path).map_err(|e| UsageError(e.to_string()))?;
        let r = &policies.retention;
        let fields = FieldKind::iter()
            .map(|kind| FieldWindow {
                field: kind,
                category: kind.category(),
                window: r.window_for(kind).to_string(),
                set_by: if r.is_overridden(kind) {
                    "[fields]"
                } else {
                    "[windows]"
                },
            })
            .collect();
        let now = crate::clock::now();
        let schedules = [
            ("purge", &r.schedule.purge),
            ("erasures", &r.schedule.erasures),
            ("report", &r.schedule.report),
        ]
        .into_iter()
        .map(|(job, cron)| ScheduleRow {
            job,
            cron: cron.text.clone(),
            next: cron.upcoming(now, 3),
        })
        .collect();
        let c = &policies.catalogue;
        let catalogues = CatalogueSummary {
            digest: c.digest.clone(),
            documents: c.documents.len(),
            flows: c
                .flows
                .iter()
                .map(|f| FlowRow {
                    flow: f.name.clone(),
                    direction: f.direction.to_string(),
                    fields: f
                        .fields
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    terms: f.terms.len(),
                })
                .collect(),
            shipped_defaults: policies
                .shipped_catalogues
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        let report = CheckOutput {
            file: r.file.display().to_string(),
            digest: &r.digest,
            fields,
            schedules,
            catalogues,
        };
        match ctx.format {
            Format::Json => output::json(out, &report)?,
            Format::Table => print_table(out, report)?,
        }
        Ok(Exit::Success)
    }
}

fn print_table(out: &mut dyn Write, report: CheckOutput<'_>) -> anyhow::Result<()> {
    writeln!(
        out,
        "{}: valid (sha256 {})",
        report.file,
        &report.digest[..16]
    )?;
    output::table(out, report.fields)?;
    #[derive(Tabled)]
    struct Row {
        job: &'static str,
        cron: String,
        #[tabled(rename = "next runs (UTC)")]
        next: String,
    }
    let c = &report.catalogues;
    writeln!(
        out,
        "catalogues: valid (sha256 {}): {} governing documents, {} documented flows{}",
        &c.digest[..16],
        c.documents,
        c.flows.len(),
        if c.shipped_defaults.is_empty() {
            String::new()
        } else {
            format!(
                " (shipped defaults in force for missing {})",
                c.shipped_defaults.join(", ")
            )
        }
    )?;
    output::table(out, report.catalogues.flows)?;
    output::table(
        out,
        report.schedules.into_iter().map(|s| Row {
            job: s.job,
            cron: s.cron,
            next: s
                .next
                .iter()
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    )
}
