//! Tracing setup: human-readable logs on a terminal, JSON lines otherwise, filtered by
//! `RUST_LOG` (default `info`). Logs carry ids, counts and kinds, never personal data.

use std::io::IsTerminal;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber, writing to stderr.
pub fn init_subscriber(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.compact().try_init()
    } else {
        builder.json().try_init()
    };
}
