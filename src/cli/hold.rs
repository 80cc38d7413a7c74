//! `waledger hold add|list|release`: legal holds. A held subject's entries are kept past their
//! windows until the hold ends; each hold and release is ledgered.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::domain::PhoneNumber;
use crate::ingest::envelope::parse_time;
use std::io::Write;
use tabled::Tabled;

/// Legal holds: keep a subject's entries past their retention windows
#[derive(Debug, clap::Args)]
pub struct HoldArgs {
    #[command(subcommand)]
    pub command: HoldCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HoldCommand {
    /// Place a hold on everything held about a phone number (and on its future traffic)
    Add {
        /// The subject's phone number, in any common written form with its country code
        #[arg(long)]
        phone: String,
        /// Why (kept sealed; shown by `hold list`)
        #[arg(long)]
        reason: String,
        /// When the hold ends by itself (RFC 3339 or YYYY-MM-DD) [default: until released]
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Who placed it [default: $USER]
        #[arg(long, value_name = "W")]
        requested_by: Option<String>,
    },
    /// Every hold, active or ended
    List,
    /// End a hold now; the next purge takes what it kept
    Release {
        /// The hold id printed by `hold add`
        id: String,
    },
}

#[derive(Tabled)]
struct Row {
    id: String,
    subject: String,
    reason: String,
    from: String,
    until: String,
    active: bool,
}

impl HoldArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let now = crate::clock::now();
        match &self.command {
            HoldCommand::Add {
                phone,
                reason,
                until,
                requested_by,
            } => {
                let phone =
                    PhoneNumber::parse(phone).map_err(|e| UsageError(format!("--phone: {e}")))?;
                let until = until
                    .as_deref()
                    .map(|t| {
                        parse_time(t).ok_or_else(|| {
                            UsageError("--until: not an RFC 3339 time or YYYY-MM-DD date".into())
                        })
                    })
                    .transpose()?;
                if until.is_some_and(|u| u <= now) {
                    return Err(UsageError(
                        "--until: the hold would already be over; give a time in the future".into(),
                    )
                    .into());
                }
                if reason.trim().is_empty() {
                    return Err(UsageError(
                        "--reason: say why the data must be kept (e.g. a case reference)".into(),
                    )
                    .into());
                }
                let who = requested_by
                    .clone()
                    .or_else(|| std::env::var("USER").ok())
                    .unwrap_or_default();
                let mut ledger = ctx.open_ledger().await?;
                let id = ledger.add_hold(&phone, reason, &who, until, now).await?;
                ledger.store().close().await;
                match ctx.format {
                    Format::Json => output::json(
                        out,
                        &serde_json::json!({"id": id, "from": now, "until": until}),
                    )?,
                    Format::Table => writeln!(out, "hold {id} placed")?,
                }
            }
            HoldCommand::List => {
                let mut ledger = ctx.open_ledger().await?;
                let holds = ledger.list_holds(now).await?;
                ledger.store().close().await;
                match ctx.format {
                    Format::Json => output::json(out, &holds)?,
                    Format::Table => output::table(
                        out,
                        holds.iter().map(|h| Row {
                            id: h.id.clone(),
                            subject: h.subject_id.clone(),
                            reason: h.reason.clone(),
                            from: h.from.to_rfc3339(),
                            until: h.until.map_or("-".into(), |t| t.to_rfc3339()),
                            active: h.active,
                        }),
                    )?,
                }
            }
            HoldCommand::Release { id } => {
                let mut ledger = ctx.open_ledger().await?;
                let released = ledger.release_hold(id, now).await?;
                ledger.store().close().await;
                if !released {
                    return Err(UsageError(format!(
                        "hold {id}: no active hold has this id; see `waledger hold list`"
                    ))
                    .into());
                }
                match ctx.format {
                    Format::Json => {
                        output::json(out, &serde_json::json!({"id": id, "released_at": now}))?
                    }
                    Format::Table => writeln!(out, "hold {id} released")?,
                }
            }
        }
        Ok(Exit::Success)
    }
}
