//! `waledger serve`: the HTTP service (Meta's webhooks, sends, erasure requests, reports, health,
//! metrics) and the policy's schedules (retention purges, pending erasures, monthly reports) until
//! SIGTERM or Ctrl-C, which stop taking connections, drain requests in flight, finish the batch in
//! flight and stop cleanly. On a fresh checkout it first creates what is missing (key file,
//! databases, default policy folder) and says so in one line.

use super::{Ctx, Exit, UsageError};
use crate::config;
use crate::http::{self, Committer, Metrics, Service};
use crate::policy::Policies;
use crate::scheduler::Scheduler;
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;

/// Serve the HTTP API and run the scheduled jobs (purges, erasures, reports) until stopped
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080] [env: WALEDGER_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

impl ServeArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        // Listen for signals first, so a SIGTERM during start-up still stops cleanly.
        let signal = shutdown_signal()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            signal.await;
            let _ = stop.send(true);
        });
        let when_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let created = initialise_missing(ctx)?;
        let s = &ctx.settings;
        let policies = Policies::load(&s.policies).map_err(|e| UsageError(e.to_string()))?;
        let ledger = ctx.open_ledger().await?;
        if !created.is_empty() {
            writeln!(out, "waledger: initialised {}", created.join(", "))?;
        }
        let address = self.listen.clone().unwrap_or_else(|| s.listen.clone());
        let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
            UsageError(format!(
                "--listen {address}: cannot listen there ({e}); give a free host:port"
            ))
        })?;
        let bound = listener.local_addr()?;
        let instance = format!(
            "{}-{}",
            hostname(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let store = ledger.store_arc();
        let metrics = Arc::new(Metrics::default());
        let master = config::load_master_key(s, &|k| std::env::var(k).ok())?;
        let now = crate::clock::now();
        let writer = crate::ledger::Ledger::open(store.clone(), &master, now).await?;
        let requests = crate::ledger::Ledger::open(store.clone(), &master, now).await?;
        drop(master);
        let (committer, writer_task) = Committer::start(writer, metrics.clone());
        let service = Service::new(
            store.clone(),
            policies.clone(),
            committer,
            requests,
            s.app_secret.as_ref(),
            s.verify_token
                .as_ref()
                .map(|t| config::Secret::new(t.expose_secret().to_string())),
            metrics,
        );
        if s.app_secret.is_none() {
            tracing::warn!("no app secret is configured (WALEDGER_APP_SECRET): Meta's webhooks will be refused");
        }
        let schedule = &policies.retention.schedule;
        let (next, next_erasures) = (
            schedule.purge.next_after(now),
            schedule.erasures.next_after(now),
        );
        tracing::info!(%instance, %bound, next_purge = ?next, next_erasures = ?next_erasures, "serving");
        let show =
            |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".into(), |t| t.to_rfc3339());
        writeln!(
            out,
            "waledger: serving as {instance} on http://{bound}; next purge {}, next erasure run {}",
            show(next),
            show(next_erasures)
        )?;
        out.flush()?;
        let scheduler = Scheduler::new(store.clone(), policies, instance)
            .with_batch(s.purge_batch)
            .with_reports(s.reports.clone(), Some(ledger));
        let (served, scheduled, ()) = tokio::join!(
            http::serve(listener, service, when_stopped()),
            scheduler.run(when_stopped()),
            fold_wal_until(store.clone(), when_stopped())
        );
        // Requests are drained; the writer commits what is queued, then ends.
        let _ = writer_task.await;
        store.close().await;
        served.context("serving HTTP")?;
        scheduled?;
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

/// How often `serve` folds SQLite's write-ahead logs into the database files. Under a webhook
/// load a second adds up to about 30,000 pages (measured at 5,000 webhooks/s), below the
/// appending connection's backstop; pages written again within the second (index leaves, the
/// chain's last pages) are copied once, and the database file is synced once a second rather
/// than ten times (http bench: about a fifth more webhooks/s than folding every 100 ms).
const FOLD_WAL_EVERY: std::time::Duration = std::time::Duration::from_millis(1_000);

/// Folds the write-ahead logs until `stopped`, so webhook commits rarely pay for a checkpoint
/// themselves (SQLite's automatic one stays as the backstop). Nothing to do on PostgreSQL.
async fn fold_wal_until(
    store: Arc<dyn crate::store::Store>,
    stopped: impl std::future::Future<Output = ()>,
) {
    if store.backend() != crate::store::Backend::Sqlite {
        return;
    }
    if let Err(e) = store.take_over_wal_folding().await {
        tracing::warn!(error.message = %e, "could not leave checkpoints to the WAL folding; appends keep running SQLite's own");
    }
    tokio::pin!(stopped);
    let mut every = tokio::time::interval(FOLD_WAL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = every.tick() => {
                if let Err(e) = store.fold_wal().await {
                    tracing::debug!(error.message = %e, "folding the write-ahead log failed; SQLite's own checkpoint remains");
                }
            }
        }
    }
}
