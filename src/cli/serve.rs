//! `waledger serve`: runs the policy's schedules (retention purges, pending erasures, reports
//! into the report folder) until SIGTERM or Ctrl-C, which finish the batch
//! in flight and stop cleanly. On a fresh checkout it first creates what is missing (key file,
//! databases, default policy folder) and says so in one line.

use super::{Ctx, Exit, UsageError};
use crate::config;
use crate::policy::Policies;
use crate::scheduler::Scheduler;
use anyhow::Context;
use std::io::Write;

/// Run the scheduled jobs (retention purges, pending erasures, reports) until stopped
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

impl ServeArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        // Listen for signals first, so a SIGTERM during start-up still stops cleanly.
        let shutdown = shutdown_signal()?;
        let created = initialise_missing(ctx)?;
        let policies =
            Policies::load(&ctx.settings.policies).map_err(|e| UsageError(e.to_string()))?;
        let ledger = ctx.open_ledger().await?;
        if !created.is_empty() {
            writeln!(out, "waledger: initialised {}", created.join(", "))?;
        }
        let instance = format!(
            "{}-{}",
            hostname(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let schedule = &policies.retention.schedule;
        let now = crate::clock::now();
        let (next, next_erasures) = (
            schedule.purge.next_after(now),
            schedule.erasures.next_after(now),
        );
        tracing::info!(%instance, next_purge = ?next, next_erasures = ?next_erasures, "serving");
        let show =
            |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".into(), |t| t.to_rfc3339());
        writeln!(
            out,
            "waledger: serving as {instance}; next purge {}, next erasure run {}",
            show(next),
            show(next_erasures)
        )?;
        out.flush()?;
        let store = ledger.store_arc();
        Scheduler::new(store.clone(), policies, instance)
            .with_batch(ctx.settings.purge_batch)
            .with_reports(ctx.settings.reports.clone(), Some(ledger))
            .run(shutdown)
            .await?;
        store.close().await;
        Ok(Exit::Success)
    }
}

/// Creates the key file and the default policy folder when missing; names what it created.
fn initialise_missing(ctx: &Ctx) -> anyhow::Result<Vec<String>> {
    let s = &ctx.settings;
    let mut created = Vec::new();
    if std::env::var_os("WALEDGER_MASTER_KEY").is_none()
        && config::create_key_file(&s.key_file)
            .with_context(|| format!("creating {}", s.key_file.display()))?
    {
        created.push(format!(
            "{} (master key, mode 0600: back it up)",
            s.key_file.display()
        ));
    }
    created.extend(super::init::write_default_policies(&s.policies)?);
    Ok(created)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "waledger".into())
}

/// Registers for Ctrl-C and SIGTERM now; the returned future completes on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    Ok(async move {
        #[cfg(unix)]
        let term = term.recv();
        #[cfg(not(unix))]
        let term = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        tracing::info!("shutdown requested; finishing the batch in flight");
    })
}
