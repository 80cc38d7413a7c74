//! `waledger verify`: recomputes the whole chain and checks stored checkpoints (exit 3 on any
//! finding). `--checkpoint-out FILE` exports the latest signed checkpoint for an auditor;
//! `--checkpoint FILE` checks that the ledger still extends a checkpoint given out earlier.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::ledger::{BadEntry, CheckpointFile, VerifyReport};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;

/// Check the whole ledger's integrity
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Also check that the ledger still extends this checkpoint (a file from --checkpoint-out)
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Write the latest signed checkpoint to FILE, for an auditor to keep
    #[arg(long, value_name = "FILE")]
    pub checkpoint_out: Option<PathBuf>,
}

impl VerifyArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let given = self.checkpoint.as_ref().map(read_checkpoint).transpose()?;
        let ledger = ctx.open_ledger().await?;
        let head = ledger.store().head().await?;
        let bar = ProgressBar::new(head.seq.max(0) as u64).with_style(
            ProgressStyle::with_template("verify {wide_bar} {pos}/{len} ({per_sec})")
                .expect("valid template"),
        );
        let mut report = ledger.verify(&mut |n| bar.set_position(n)).await?;
        bar.finish_and_clear();
        if let (Some(file), true) = (&given, report.ok) {
            let cp = file
                .to_checkpoint()
                .map_err(|e| UsageError(format!("--checkpoint: {e}")))?;
            if let Err(e) = ledger.check_checkpoint(&cp).await? {
                report.ok = false;
                report.first_bad = Some(BadEntry {
                    seq: cp.seq,
                    reason: format!("given checkpoint: {e}"),
                });
            }
        }
        // Remembered, so reports can state the ledger's integrity without re-reading it.
        ledger
            .store()
            .record_verification(&report.as_run(crate::clock::now().timestamp()))
            .await?;
        if let Some(path) = &self.checkpoint_out {
            export_checkpoint(&ledger, path).await?;
        }
        ledger.store().close().await;
        print_report(ctx.format, &report, out)?;
        if let Some(bad) = &report.first_bad {
            eprintln!(
                "ledger entry {}: {}; restore from a backup and investigate",
                bad.seq, bad.reason
            );
        }
        Ok(if report.ok {
            Exit::Success
        } else {
            Exit::Integrity
        })
    }
}

fn read_checkpoint(path: &PathBuf) -> anyhow::Result<CheckpointFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the checkpoint file", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|_| UsageError(format!("{}: not a waledger checkpoint file; export one with `waledger verify --checkpoint-out FILE`", path.display())).into())
}

async fn export_checkpoint(ledger: &crate::ledger::Ledger, path: &PathBuf) -> anyhow::Result<()> {
    let checkpoint = match ledger.store().latest_checkpoint().await? {
        Some(cp) => cp,
        None => ledger
            .sign_checkpoint(crate::clock::now())
            .await?
            .ok_or_else(|| {
                UsageError("--checkpoint-out: the ledger is empty; ingest traffic first".into())
            })?,
    };
    let text = serde_json::to_string_pretty(&CheckpointFile::from_checkpoint(&checkpoint))?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("{}: cannot write the checkpoint", path.display()))?;
    Ok(())
}

fn print_report(format: Format, report: &VerifyReport, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(out, report),
        Format::Table => output::pairs(
            out,
            &[
                ("ok", report.ok.to_string()),
                ("entries checked", report.entries_checked.to_string()),
                (
                    "head",
                    format!("{} {}", report.head_seq, &report.head_hash[..16]),
                ),
                (
                    "latest checkpoint",
                    report
                        .latest_checkpoint_seq
                        .map_or("-".into(), |s| s.to_string()),
                ),
                (
                    "first bad entry",
                    report
                        .first_bad
                        .as_ref()
                        .map_or("-".into(), |b| format!("{}: {}", b.seq, b.reason)),
                ),
            ],
        ),
    }
}
