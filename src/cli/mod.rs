//! The command line: argument parsing (clap derive, one file per subcommand), loading settings,
//! printing tables or JSON, and mapping outcomes to exit codes (CONTRACT.md: 0 success, 1 runtime
//! failure, 2 bad input or usage, 3 integrity failure). `anyhow` is allowed here and nowhere in
//! the library.

mod context;
mod erase;
mod export;
mod hold;
mod ingest;
mod init;
mod jobs;
mod keys;
mod output;
mod policy;
mod purge;
mod receipt;
mod report;
mod serve;
mod show;
mod simulate;
mod token;

mod verify;

pub use context::Ctx;
pub use output::{Format, FormatArg};

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// An encrypted, tamper-evident ledger of what your WhatsApp Cloud API traffic sends to and
/// receives from Meta.
#[derive(Debug, Parser)]
#[command(name = "waledger", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command accepts (they win over `waledger.toml` and `WALEDGER_*` variables).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Settings file [default: waledger.toml in the working directory, if present]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Ledger database: sqlite://FILE or postgres://… [env: WALEDGER_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Key store database [default: beside the ledger] [env: WALEDGER_KEYSTORE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub keystore_url: Option<String>,
    /// Master key file [default: waledger.key] [env: WALEDGER_KEY_FILE]
    #[arg(long, global = true, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Policy folder [default: policies] [env: WALEDGER_POLICIES]
    #[arg(long, global = true, value_name = "PATH")]
    pub policies: Option<PathBuf>,
    /// Output format [default: table on a terminal, json otherwise; `report` also takes
    /// markdown, csv and html]
    #[arg(long, global = true, value_enum)]
    pub format: Option<FormatArg>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    Ingest(ingest::IngestArgs),
    Show(show::ShowArgs),
    Export(export::ExportArgs),
    Verify(verify::VerifyArgs),
    Simulate(simulate::SimulateArgs),
    Policy(policy::PolicyArgs),
    Purge(purge::PurgeArgs),
    Hold(hold::HoldArgs),
    Jobs(jobs::JobsArgs),
    Serve(serve::ServeArgs),
    Erase(erase::EraseArgs),
    Erasure(erase::ErasureArgs),
    Receipt(receipt::ReceiptArgs),
    Keys(keys::KeysArgs),
    Report(report::ReportArgs),
    Token(token::TokenArgs),
}

/// How a command ended, beyond success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Runtime = 1,
    BadInput = 2,
    Integrity = 3,
}

/// Bad input or usage: exit code 2. The message is one line: where, what, what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command, writing results to `out`.
pub async fn run(cli: Cli, out: &mut dyn std::io::Write) -> anyhow::Result<Exit> {
    let ctx = Ctx::load(&cli.global, matches!(cli.command, Command::Report(_)))?;
    match &cli.command {
        Command::Init(args) => args.run(&ctx, out).await,
        Command::Ingest(args) => args.run(&ctx, out).await,
        Command::Show(args) => args.run(&ctx, out).await,
        Command::Export(args) => args.run(&ctx, out).await,
        Command::Verify(args) => args.run(&ctx, out).await,
        Command::Simulate(args) => args.run(&ctx, out).await,
        Command::Policy(args) => args.run(&ctx, out).await,
        Command::Purge(args) => args.run(&ctx, out).await,
        Command::Hold(args) => args.run(&ctx, out).await,
        Command::Jobs(args) => args.run(&ctx, out).await,
        Command::Serve(args) => args.run(&ctx, out).await,
        Command::Erase(args) => args.run(&ctx, out).await,
        Command::Erasure(args) => args.run(&ctx, out).await,
        Command::Receipt(args) => args.run(&ctx, out).await,
        Command::Keys(args) => args.run(&ctx, out).await,
        Command::Report(args) => args.run(&ctx, out).await,
        Command::Token(args) => args.run(&ctx, out).await,
    }
}

/// The exit code for an error: 2 for usage errors, 1 for everything else.
pub fn exit_for(error: &anyhow::Error) -> Exit {
    if error.chain().any(|e| e.is::<UsageError>()) {
        Exit::BadInput
    } else {
        Exit::Runtime
    }
}
