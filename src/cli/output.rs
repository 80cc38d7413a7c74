//! Output: `table` (tabled) for people, `json` (one document on stdout) for scripts.

use clap::ValueEnum;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// What `--format` accepts: `table` and `json` everywhere; `markdown`, `csv` and `html` for
/// `report` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Markdown,
    Csv,
    Html,
}

impl FormatArg {
    /// The format of a command that prints `table` or `json`; `None` for report-only formats.
    pub fn plain(self) -> Option<Format> {
        match self {
            FormatArg::Table => Some(Format::Table),
            FormatArg::Json => Some(Format::Json),
            _ => None,
        }
    }
}

impl Format {
    /// `table` on a terminal, `json` when piped.
    pub fn default_for_stdout() -> Self {
        if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        }
    }
}

/// Writes one JSON document and a newline.
pub fn json(out: &mut dyn Write, value: &impl Serialize) -> anyhow::Result<()> {
    // Serialise first, then write: an io::Error (a closed pipe) then reaches main unwrapped.
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes rows as a table.
pub fn table<T: Tabled>(
    out: &mut dyn Write,
    rows: impl IntoIterator<Item = T>,
) -> anyhow::Result<()> {
    let mut table = Table::new(rows);
    table.with(Style::rounded());
    writeln!(out, "{table}")?;
    Ok(())
}

/// A two-column key/value table.
pub fn pairs(out: &mut dyn Write, pairs: &[(&str, String)]) -> anyhow::Result<()> {
    #[derive(Tabled)]
    struct Pair<'a> {
        #[tabled(rename = "")]
        key: &'a str,
        #[tabled(rename = "")]
        value: &'a str,
    }
    let mut table = Table::new(pairs.iter().map(|(k, v)| Pair { key: k, value: v }));
    table.with(Style::rounded());
    writeln!(out, "{table}")?;
    Ok(())
}

/// A progress bar of `done/total` for a job whose total it learns as it goes (hidden off a
/// terminal) and the callback the job reports through.
pub fn counter(label: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{label} {{wide_bar}} {{pos}}/{{len}} ({{per_sec}}, {{eta}})"
        ))
        .expect("valid template"),
    )
}

/// Reports `(done, total)` to a bar from [`counter`].
pub fn report_to(bar: &indicatif::ProgressBar) -> impl FnMut(u64, u64) + Send + '_ {
    move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}
