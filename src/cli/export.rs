//! `waledger export --phone P`: every ledger entry held about one data subject, under every
//! alias of their number, decrypted (a subject access export, GDPR Art. 15).

use super::{output, Ctx, Exit, Format, UsageError};
use crate::domain::PhoneNumber;
use crate::ledger::EntryView;
use serde::Serialize;
use std::io::Write;
use tabled::Tabled;

/// Every entry held about one data subject, decrypted (subject access export)
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The subject's phone number, in any common written form with its country code
    #[arg(long, value_name = "P")]
    pub phone: String,
}

#[derive(Serialize)]
struct ExportOutput<'a> {
    subject: &'a str,
    entries: &'a [EntryView],
    erasure_requests: &'a [crate::erasure::ErasureView],
    holds: &'a [crate::retention::HoldView],
}

/// One entry as a table row.
#[derive(Tabled)]
pub(super) struct EntryRow {
    seq: i64,
    field: String,
    category: String,
    direction: String,
    state: String,
    value: String,
    occurred_at: String,
}

impl From<&EntryView> for EntryRow {
    fn from(e: &EntryView) -> Self {
        Self {
            seq: e.seq,
            field: e.field.to_string(),
            category: e.category.to_string(),
            direction: e.direction.to_string(),
            state: e.state.to_string(),
            value: e.value.as_deref().map_or_else(|| "-".to_string(), shorten),
            occurred_at: e.occurred_at.to_rfc3339(),
        }
    }
}

fn shorten(value: &str) -> String {
    const MAX: usize = 60;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    }
}

impl ExportArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let phone =
            PhoneNumber::parse(&self.phone).map_err(|e| UsageError(format!("--phone: {e}")))?;
        let mut ledger = ctx.open_ledger().await?;
        let access = ledger.subject_access(&phone, crate::clock::now()).await?;
        ledger.store().close().await;
        let entries = &access.entries;
        match ctx.format {
            Format::Json => output::json(
                out,
                &ExportOutput {
                    subject: phone.expose_e164(),
                    entries,
                    erasure_requests: &access.erasure_requests,
                    holds: &access.holds,
                },
            )?,
            Format::Table if entries.is_empty() => {
                writeln!(out, "nothing is held about this number")?
            }
            Format::Table => output::table(out, entries.iter().map(EntryRow::from))?,
        }
        if ctx.format == Format::Table {
            for request in &access.erasure_requests {
                writeln!(
                    out,
                    "erasure request {}: {} (received {}, due {})",
                    request.id, request.state, request.received_at, request.due_at
                )?;
            }
            for hold in &access.holds {
                let state = if hold.active { "active" } else { "ended" };
                writeln!(out, "legal hold {}: {state}, since {}", hold.id, hold.from)?;
            }
        }
        Ok(Exit::Success)
    }
}
