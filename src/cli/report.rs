//! `waledger report [--from] [--to] [--out] [--format] [--sign] [--verify]`: the compliance
//! report for a period, from metadata alone (no master key needed unless it is signed or the
//! ledger verified first). `waledger report verify FILE`: checks a signed report (exit 3 on any
//! change).

use super::{output, Ctx, Exit, Format, FormatArg, UsageError};
use crate::policy::Policies;
use crate::report::{self, Report, ReportSignature};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The compliance report: every observed flow mapped to the Dotdigital and Meta terms
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// Start of the period (RFC 3339 or YYYY-MM-DD, UTC) [default: 30 days before --to]
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// End of the period (a date includes that whole day) [default: now]
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Write the report to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Sign the report with the ledger's key into FILE.sig (needs --out and the master key)
    #[arg(long)]
    pub sign: bool,
    /// Verify the whole ledger first, so the integrity section is current (needs the master key)
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Check a signed report against its signature (FILE.sig unless --signature)
    Verify {
        file: PathBuf,
        #[arg(long, value_name = "SIG")]
        signature: Option<PathBuf>,
    },
}

fn time_arg(
    flag: &str,
    text: Option<&str>,
) -> anyhow::Result<Option<(chrono::DateTime<chrono::Utc>, bool)>> {
    text.map(|t| {
        report::parse_bound(t).ok_or_else(|| {
            UsageError(format!("--{flag}: not an RFC 3339 time or YYYY-MM-DD date")).into()
        })
    })
    .transpose()
}

/// The report in `format`.
pub fn render(report: &Report, format: FormatArg) -> anyhow::Result<String> {
    Ok(match format {
        FormatArg::Table => report::table(report),
        FormatArg::Json => serde_json::to_string_pretty(report)? + "\n",
        FormatArg::Markdown => report::markdown(report),
        FormatArg::Csv => report::csv(report)?,
        FormatArg::Html => report::html::render(report)?,
    })
}

/// `sig` beside `file`: `report.html.sig`.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

impl ReportArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        if let Some(ReportCommand::Verify { file, signature }) = &self.command {
            return verify(ctx, file, signature.as_deref(), out).await;
        }
        let now = crate::clock::now();
        let period = report::period(
            time_arg("from", self.from.as_deref())?,
            time_arg("to", self.to.as_deref())?,
            now,
        );
        if period.from >= period.to {
            return Err(UsageError(
                "--from: the period is empty; give a --from before --to".into(),
            )
            .into());
        }
        if self.sign && self.out.is_none() {
            return Err(UsageError(
                "--sign: give --out FILE; the signature is written to FILE.sig".into(),
            )
            .into());
        }
        let policies =
            Policies::load(&ctx.settings.policies).map_err(|e| UsageError(e.to_string()))?;
        let format = ctx.format_arg.unwrap_or(match ctx.format {
            Format::Table => FormatArg::Table,
            Format::Json => FormatArg::Json,
        });
        let (store, ledger) = if self.sign || self.verify {
            let ledger = ctx.open_ledger().await?;
            (ledger.store_arc(), Some(ledger))
        } else {
            (ctx.open_store().await?, None)
        };
        if let (true, Some(ledger)) = (self.verify, &ledger) {
            let verified = ledger.verify(&mut |_| {}).await?;
            store
                .record_verification(&verified.as_run(now.timestamp()))
                .await?;
        }
        let report = report::build(store.as_ref(), &policies, period, now).await?;
        let text = render(&report, format)?;
        match &self.out {
            Some(path) => {
                std::fs::write(path, &text).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot write {}: {e}; check the folder exists and is writable",
                        path.display()
                    )
                })?;
                if let (true, Some(ledger)) = (self.sign, &ledger) {
                    let signature = ledger.sign_report(text.as_bytes(), now);
                    let sig_path = signature_path(path);
                    std::fs::write(&sig_path, serde_json::to_string_pretty(&signature)? + "\n")?;
                    eprintln!("signed: {}", sig_path.display());
                }
            }
            None => out.write_all(text.as_bytes())?,
        }
        store.close().await;
        Ok(Exit::Success)
    }
}

async fn verify(
    ctx: &Ctx,
    file: &Path,
    signature: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let sig_path = signature.map_or_else(|| signature_path(file), Path::to_path_buf);
    let read = |p: &Path| {
        std::fs::read(p)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}; check the path", p.display()))
    };
    let (bytes, sig_bytes) = (read(file)?, read(&sig_path)?);
    let mut checked =
        ReportSignature::parse(&sig_bytes).and_then(|sig| sig.check(&bytes).map(|c| (sig, c)));
    let mut ledger_checked = false;
    if let Ok((sig, _)) = &checked {
        if ctx.ledger_at_hand() {
            let store = ctx.open_store().await?;
            if let Err(e) = sig.check_key(store.as_ref()).await {
                checked = Err(e);
            }
            store.close().await;
            ledger_checked = true;
        }
    }
    match checked {
        Ok((_, check)) => {
            match ctx.format {
                Format::Json => output::json(
                    out,
                    &serde_json::json!({"valid": true, "ledger_checked": ledger_checked, "sha256": check.sha256, "signed_at": check.signed_at, "key_id": check.key_id}),
                )?,
                Format::Table => writeln!(
                    out,
                    "the report is unaltered: signed {} by key {}{}",
                    check.signed_at,
                    check.key_id,
                    if ledger_checked {
                        ", this ledger's key"
                    } else {
                        " (no ledger at hand to compare the key with)"
                    }
                )?,
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
