//! `waledger erase` and `waledger erasure request|run|list|show|extend|receipt`: data-subject
//! erasure requests (GDPR Art. 17) with their Art. 12(3) deadlines and signed receipts.

use super::{output, Ctx, Exit, Format, UsageError};
use crate::domain::{ErasureState, PhoneNumber};
use crate::erasure::{self, ErasureView, NewRequest, SignedReceipt};
use crate::ingest::envelope::parse_time;
use crate::ledger::Ledger;
use crate::store::ErasureRow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use tabled::Tabled;

/// Who asked, for which number, and when the request arrived.
#[derive(Debug, Clone, clap::Args)]
pub struct RequestArgs {
    /// The data subject's phone number, in any common written form with its country code
    #[arg(long, value_name = "P")]
    pub phone: String,
    /// Your reference for the request (a ticket number); printed on the receipt
    #[arg(long, value_name = "R")]
    pub reference: Option<String>,
    /// Who filed it [default: $USER]
    #[arg(long, value_name = "W")]
    pub requested_by: Option<String>,
    /// When the request was received (RFC 3339 or YYYY-MM-DD, UTC) [default: now]; the
    /// one-month deadline runs from here
    #[arg(long, value_name = "T")]
    pub received_at: Option<String>,
}

/// Register an erasure request and carry it out at once; prints the receipt
#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Write the signed receipt to FILE (for the requester)
    #[arg(long, value_name = "FILE")]
    pub receipt: Option<PathBuf>,
}

/// Data-subject erasure requests
#[derive(Debug, clap::Args)]
pub struct ErasureArgs {
    #[command(subcommand)]
    pub command: ErasureCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ErasureCommand {
    /// Register a request for the scheduler (or `erasure run`) to carry out
    Request(RequestArgs),
    /// Carry out every pending request now
    Run,
    /// Requests with their state, received, due and completed times
    List {
        /// Only pending requests past their deadline, oldest first
        #[arg(long)]
        overdue: bool,
    },
    /// One request
    Show { id: String },
    /// Extend a pending request's deadline by two further months (once, Art. 12(3))
    Extend {
        id: String,
        /// Why (recorded sealed; the requester must be told within the first month)
        #[arg(long, value_name = "R")]
        reason: String,
    },
    /// The signed receipt of a completed request
    Receipt {
        id: String,
        /// Write it to FILE instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Tabled)]
struct Row {
    id: String,
    state: String,
    received_at: String,
    due_at: String,
    completed_at: String,
    entries_erased: u64,
    note: String,
}

impl From<&ErasureView> for Row {
    fn from(v: &ErasureView) -> Self {
        let note = match (v.state, v.overdue, &v.refused_by) {
            (ErasureState::Refused, _, Some(hold)) => format!("legal hold {hold}"),
            (ErasureState::Pending, true, _) => "OVERDUE".into(),
            (_, _, _) if v.extended => "extended".into(),
            _ => String::new(),
        };
        Self {
            id: v.id.clone(),
            state: v.state.to_string(),
            received_at: v.received_at.to_rfc3339(),
            due_at: v.due_at.to_rfc3339(),
            completed_at: v.completed_at.map_or("-".into(), |t| t.to_rfc3339()),
            entries_erased: v.entries_erased,
            note,
        }
    }
}

impl RequestArgs {
    fn parse(
        &self,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(PhoneNumber, DateTime<Utc>, Option<String>)> {
        let phone =
            PhoneNumber::parse(&self.phone).map_err(|e| UsageError(format!("--phone: {e}")))?;
        let received_at = match self.received_at.as_deref() {
            None => now,
            Some(text) => parse_time(text).ok_or_else(|| {
                UsageError("--received-at: not an RFC 3339 time or YYYY-MM-DD date".into())
            })?,
        };
        if received_at > now {
            return Err(UsageError(
                "--received-at: the time is in the future; give when the request arrived".into(),
            )
            .into());
        }
        let who = self
            .requested_by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .filter(|w| !w.trim().is_empty());
        Ok((phone, received_at, who))
    }

    async fn register(&self, ledger: &mut Ledger, now: DateTime<Utc>) -> anyhow::Result<String> {
        let (phone, received_at, who) = self.parse(now)?;
        let request = NewRequest {
            phone: &phone,
            reference: self.reference.as_deref(),
            requested_by: who.as_deref(),
            received_at,
        };
        Ok(ledger.request_erasure(request, now).await?)
    }
}

/// One request, stored and as printed, by id.
async fn find(
    ledger: &mut Ledger,
    id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(ErasureRow, ErasureView)> {
    let row = ledger.store().erasure_request(id).await?.ok_or_else(|| {
        UsageError(format!(
            "erasure request {id}: no such request; see `waledger erasure list`"
        ))
    })?;
    let view = ledger
        .erasure_views(std::slice::from_ref(&row), now)
        .await?
        .remove(0);
    Ok((row, view))
}

async fn view_of(ledger: &mut Ledger, id: &str, now: DateTime<Utc>) -> anyhow::Result<ErasureView> {
    Ok(find(ledger, id, now).await?.1)
}

async fn receipt_of(
    ledger: &mut Ledger,
    id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<SignedReceipt> {
    let (row, view) = find(ledger, id, now).await?;
    ledger
        .sign_receipt(&row, &view, now)?
        .map_err(|e| UsageError(format!("erasure request {id}: {e}")).into())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| {
        anyhow::anyhow!(
            "cannot write {}: {e}; check the folder exists and is writable",
            path.display()
        )
    })
}

fn warn_refused(view: &ErasureView) {
    if view.state == ErasureState::Refused {
        eprintln!(
            "erasure request {}: refused, legal hold {} covers this subject; tell the requester why (Art. 12(4)): {}",
            view.id,
            view.refused_by.as_deref().unwrap_or("?"),
            view.refusal_reason.as_deref().unwrap_or("(no reason recorded)")
        );
    }
}

#[derive(Serialize)]
struct EraseOutput<'a> {
    #[serde(flatten)]
    request: &'a ErasureView,
    receipt: Option<serde_json::Value>,
}

impl EraseArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let now = crate::clock::now();
        self.request.parse(now)?;
        let mut ledger = ctx.open_ledger().await?;
        let id = self.request.register(&mut ledger, now).await?;
        erasure::carry_out(ledger.store(), &id, now).await?;
        ledger.store().scrub().await?;
        let view = view_of(&mut ledger, &id, now).await?;
        let receipt = match view.state {
            ErasureState::Completed => Some(receipt_of(&mut ledger, &id, now).await?),
            _ => None,
        };
        ledger.store().close().await;
        if let (Some(path), Some(receipt)) = (&self.receipt, &receipt) {
            write_private(path, &receipt.to_file())?;
        }
        warn_refused(&view);
        match ctx.format {
            Format::Json => output::json(
                out,
                &EraseOutput {
                    request: &view,
                    receipt: receipt
                        .as_ref()
                        .map(|r| serde_json::to_value(&r.body).expect("a receipt serialises")),
                },
            )?,
            Format::Table => print_view(out, &view)?,
        }
        Ok(Exit::Success)
    }
}

fn print_view(out: &mut dyn Write, v: &ErasureView) -> anyhow::Result<()> {
    let time = |t: Option<DateTime<Utc>>| t.map_or("-".to_string(), |t| t.to_rfc3339());
    let mut rows = vec![
        ("request", v.id.clone()),
        ("state", v.state.to_string()),
        (
            "reference",
            v.reference.clone().unwrap_or_else(|| "-".into()),
        ),
        ("received at", v.received_at.to_rfc3339()),
        ("due at", v.due_at.to_rfc3339()),
        ("completed at", time(v.completed_at)),
        ("entries erased", v.entries_erased.to_string()),
    ];
    for (category, n) in &v.erased {
        rows.push((category.as_ref(), n.to_string()));
    }
    if let Some(seq) = v.ledger_seq {
        rows.push(("ledger entry", seq.to_string()));
    }
    if let Some(reason) = &v.extension_reason {
        rows.push(("extended because", reason.clone()));
    }
    output::pairs(out, &rows)?;
    if v.state == ErasureState::Completed && v.entries_erased == 0 {
        writeln!(
            out,
            "nothing was held about this number; the request is completed with zero entries"
        )?;
    }
    Ok(())
}

impl ErasureArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let now = crate::clock::now();
        match &self.command {
            ErasureCommand::Request(args) => {
                args.parse(now)?;
                let mut ledger = ctx.open_ledger().await?;
                let id = args.register(&mut ledger, now).await?;
                let view = view_of(&mut ledger, &id, now).await?;
                ledger.store().close().await;
                match ctx.format {
                    Format::Json => output::json(out, &view)?,
                    Format::Table => print_view(out, &view)?,
                }
            }
            ErasureCommand::Run => {
                let store = ctx.open_store().await?;
                let bar = output::counter("erasures");
                let never = std::sync::atomic::AtomicBool::new(false);
                let outcome =
                    erasure::run_pending(store.as_ref(), now, &mut output::report_to(&bar), &never)
                        .await?;
                bar.finish_and_clear();
                store.close().await;
                match ctx.format {
                    Format::Json => output::json(out, &outcome)?,
                    Format::Table => output::pairs(
                        out,
                        &[
                            ("completed", outcome.completed.to_string()),
                            ("refused (legal hold)", outcome.refused.to_string()),
                            ("entries erased", outcome.entries_erased.to_string()),
                            ("were overdue", outcome.overdue.to_string()),
                        ],
                    )?,
                }
                if outcome.refused > 0 {
                    eprintln!("{} request(s) refused under a legal hold; see `waledger erasure list` for the reasons to give", outcome.refused);
                }
            }
            ErasureCommand::List { overdue } => {
                let mut ledger = ctx.open_ledger().await?;
                let mut rows = ledger.store().erasure_requests(*overdue).await?;
                if *overdue {
                    rows.retain(|r| erasure::is_overdue(r, now));
                    rows.sort_by_key(|r| (r.due_at, r.received_at));
                }
                let views = ledger.erasure_views(&rows, now).await?;
                ledger.store().close().await;
                match ctx.format {
                    Format::Json => output::json(out, &views)?,
                    Format::Table if views.is_empty() => writeln!(
                        out,
                        "no erasure requests{}",
                        if *overdue { " are overdue" } else { "" }
                    )?,
                    Format::Table => output::table(out, views.iter().map(Row::from))?,
                }
            }
            ErasureCommand::Show { id } => {
                let mut ledger = ctx.open_ledger().await?;
                let view = view_of(&mut ledger, id, now).await?;
                ledger.store().close().await;
                match ctx.format {
                    Format::Json => output::json(out, &view)?,
                    Format::Table => print_view(out, &view)?,
                }
            }
            ErasureCommand::Extend { id, reason } => {
                if reason.trim().is_empty() {
                    return Err(
                        UsageError("--reason: say why the request needs more time".into()).into(),
                    );
                }
                let mut ledger = ctx.open_ledger().await?;
                if let Err(e) = ledger.extend_erasure(id, reason, now).await? {
                    ledger.store().close().await;
                    return Err(UsageError(format!("erasure request {id}: {e}")).into());
                }
                let view = view_of(&mut ledger, id, now).await?;
                ledger.store().close().await;
                match ctx.format {
                    Format::Json => output::json(out, &view)?,
                    Format::Table => print_view(out, &view)?,
                }
            }
            ErasureCommand::Receipt { id, out: path } => {
                let mut ledger = ctx.open_ledger().await?;
                let receipt = receipt_of(&mut ledger, id, now).await?;
                ledger.store().close().await;
                match path {
                    Some(path) => write_private(path, &receipt.to_file())?,
                    None => out.write_all(receipt.to_file().as_bytes())?,
                }
            }
        }
        Ok(Exit::Success)
    }
}
