//! `waledger ingest [FILE…]`: records envelopes, one JSON object per line, from files or stdin
//! (`-` or none). Bad lines are refused as `FILE:LINE: reason` on stderr while the others are
//! recorded; the exit code is 2 when any line was refused. A progress bar shows on a terminal.

use super::{output, Ctx, Exit, Format};
use crate::clock;
use crate::ingest::{IngestSummary, Ingestor};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;

/// Record envelopes (JSON Lines) from files or standard input
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Files of envelopes, one JSON object per line; `-` or none reads standard input
    pub files: Vec<PathBuf>,
}

/// Entries after which an ingest refreshes the planner's statistics.
const LARGE_INGEST: u64 = 100_000;

impl IngestArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let mut ledger = ctx.open_ledger().await?;
        let mut ingestor = Ingestor::new(&mut ledger, clock::now());
        let sources: Vec<PathBuf> = if self.files.is_empty() {
            vec![PathBuf::from("-")]
        } else {
            self.files.clone()
        };
        for source in &sources {
            read_source(source, &mut ingestor).await?;
        }
        let summary = ingestor
            .finish()
            .await
            .context("recording the last batch")?;
        if summary.entries >= LARGE_INGEST {
            // Fresh statistics keep reports and erasures on their index plans (PostgreSQL).
            ledger.store().refresh_statistics().await?;
        }
        ledger.store().close().await;
        for r in &summary.rejected {
            eprintln!("{}:{}: {}", r.source, r.line, r.error);
        }
        print_summary(ctx.format, &summary, out)?;
        tracing::info!(
            accepted = summary.accepted,
            rejected = summary.rejected.len(),
            entries = summary.entries,
            duplicates = summary.duplicates,
            "ingest finished"
        );
        Ok(if summary.rejected.is_empty() {
            Exit::Success
        } else {
            Exit::BadInput
        })
    }
}

async fn read_source(source: &PathBuf, ingestor: &mut Ingestor<'_>) -> anyhow::Result<()> {
    let name = source.display().to_string();
    let (reader, size): (Box<dyn Read>, Option<u64>) = if name == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = std::fs::File::open(source)
            .with_context(|| format!("{name}: cannot open; check the path"))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let bar = progress_bar(&name, size);
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("{name}: read failed"))?;
        if read == 0 {
            break;
        }
        line_no += 1;
        bar.inc(read as u64);
        ingestor
            .push_line(&name, line_no, &line, None)
            .await
            .with_context(|| format!("{name}:{line_no}: recording failed"))?;
    }
    bar.finish_and_clear();
    Ok(())
}

fn progress_bar(name: &str, size: Option<u64>) -> ProgressBar {
    let bar = match size {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("the progress template is valid"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{msg} {spinner} {bytes} ({bytes_per_sec})")
                .expect("the progress template is valid"),
        ),
    };
    // indicatif draws only when stderr is a terminal, so pipes and logs stay clean.
    bar.with_message(name.to_string())
}

fn print_summary(
    format: Format,
    summary: &IngestSummary,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => output::json(out, summary),
        Format::Table => output::pairs(
            out,
            &[
                ("accepted envelopes", summary.accepted.to_string()),
                ("rejected lines", summary.rejected.len().to_string()),
                ("entries recorded", summary.entries.to_string()),
                ("duplicates skipped", summary.duplicates.to_string()),
                (
                    "checkpoint at entry",
                    summary.checkpoint_seq.map_or("-".into(), |s| s.to_string()),
                ),
            ],
        ),
    }
}
