//! The `waledger` binary: parses the command line, sets up logging, runs the command and maps its
//! outcome to an exit code. Everything else lives in the library.

use clap::Parser;
use std::process::ExitCode;
use waledger::cli::{self, Cli, Exit};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The long-running job logs what it does; one-shot commands only warn.
    let level = if matches!(cli.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    waledger::telemetry::init_subscriber(level);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let exit = match cli::run(cli, &mut out).await {
        Ok(exit) => exit,
        Err(error) if is_broken_pipe(&error) => Exit::Success,
        Err(error) => {
            eprintln!("error: {error:#}");
            cli::exit_for(&error)
        }
    };
    ExitCode::from(exit as u8)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
