//! `waledger receipt verify FILE`: checks an erasure receipt's signature and, when this ledger is
//! at hand, that its erasure entry is in the chain at that position with that hash. Exit 3 on
//! any change to the receipt.

use super::{output, Ctx, Exit, Format};
use crate::erasure::SignedReceipt;
use std::io::Write;
use std::path::PathBuf;

/// Erasure receipts
#[derive(Debug, clap::Args)]
pub struct ReceiptArgs {
    #[command(subcommand)]
    pub command: ReceiptCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt's signature and, with the ledger at hand, its ledger entry
    Verify { file: PathBuf },
}

impl ReceiptArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let ReceiptCommand::Verify { file } = &self.command;
        let bytes = std::fs::read(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}; check the path", file.display()))?;
        let mut outcome = SignedReceipt::verify(&bytes);
        let ledger_checked = match &outcome {
            Ok(receipt) if ctx.ledger_at_hand() => {
                let store = ctx.open_store().await?;
                let checked = receipt.check_ledger(store.as_ref()).await;
                store.close().await;
                if let Err(e) = checked {
                    outcome = Err(e);
                }
                true
            }
            _ => false,
        };
        match outcome {
            Ok(receipt) => {
                match ctx.format {
                    Format::Json => output::json(
                        out,
                        &serde_json::json!({
                            "valid": true, "ledger_checked": ledger_checked, "receipt": receipt.body,
                        }),
                    )?,
                    Format::Table => {
                        output::pairs(
                            out,
                            &[
                                ("request", receipt.body.request.clone()),
                                ("completed at", receipt.body.completed_at.to_rfc3339()),
                                ("entries erased", receipt.body.entries_erased.to_string()),
                                ("ledger entry", receipt.body.ledger_seq.to_string()),
                                ("signed by key", receipt.body.key_id.clone()),
                            ],
                        )?;
                        let where_ = if ledger_checked {
                            "and its entry is in this ledger"
                        } else {
                            "(no ledger at hand: its entry was not checked)"
                        };
                        writeln!(out, "the receipt is valid {where_}")?;
                    }
                }
                Ok(Exit::Success)
            }
            Err(e) => {
                if ctx.format == Format::Json {
                    output::json(
                        out,
                        &serde_json::json!({"valid": false, "error": e.to_string()}),
                    )?;
                }
                eprintln!("{}: {e}", file.display());
                Ok(Exit::Integrity)
            }
        }
    }
}
