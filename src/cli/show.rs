//! `waledger show --message WAMID`: every ledger entry of one message, decrypted where the value
//! is still held.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::domain::MessageId;
use crate::ledger::EntryView;
use serde::Serialize;
use std::io::Write;

/// Every entry of one message, decrypted where still held
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The message id (`wamid.…`)
    #[arg(long, value_name = "WAMID")]
    pub message: String,
}

#[derive(Serialize)]
struct ShowOutput<'a> {
    message_id: &'a str,
    entries: &'a [EntryView],
}

impl ShowArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let id = MessageId::parse(&self.message).ok_or_else(|| {
            UsageError("--message: empty or longer than 256 characters; give the wamid".into())
        })?;
        let mut ledger = ctx.open_ledger().await?;
        let entries = ledger.show_message(&id).await?;
        ledger.store().close().await;
        match ctx.format {
            Format::Json => output::json(
                out,
                &ShowOutput {
                    message_id: id.expose(),
                    entries: &entries,
                },
            )?,
            Format::Table if entries.is_empty() => {
                writeln!(out, "no entries recorded for this message id")?
            }
            Format::Table => output::table(out, entries.iter().map(super::export::EntryRow::from))?,
        }
        Ok(Exit::Success)
    }
}
