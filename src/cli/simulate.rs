//! `waledger simulate --messages N [--seed S] [--days D]`: prints realistic synthetic Cloud API
//! traffic as ingest envelopes (JSON Lines), reproducible for the same options.

use super::{Ctx, Exit, UsageError};
use crate::ingest::envelope::parse_time;
use crate::simulate::{generate, SimulateOptions};
use chrono::{DateTime, Utc};
use std::io::Write;

/// Print N messages of realistic synthetic traffic as envelopes (JSON Lines)
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// How many outbound messages (each followed by its status webhooks and, sometimes, replies)
    #[arg(long, value_name = "N")]
    pub messages: u64,
    /// Seed of the random generator: the same options print the same bytes
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Spread the messages over this many days, ending at --until
    #[arg(long, value_name = "D", default_value_t = 30)]
    pub days: u32,
    /// End of the period (RFC 3339 or YYYY-MM-DD) [default: today 00:00 UTC, so runs on one day match]
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
}

impl SimulateArgs {
    pub async fn run(&self, _ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let until = match &self.until {
            Some(text) => parse_time(text).ok_or_else(|| {
                UsageError("--until: not an RFC 3339 time or YYYY-MM-DD date".into())
            })?,
            None => start_of_day(crate::clock::now()),
        };
        if self.days == 0 {
            return Err(UsageError("--days: must be at least 1".into()).into());
        }
        let options = SimulateOptions {
            messages: self.messages,
            seed: self.seed,
            days: self.days,
            until,
        };
        let summary = generate(&options, &mut WriteRef(out))?;
        tracing::info!(
            messages = summary.messages,
            envelopes = summary.envelopes,
            "simulated"
        );
        Ok(Exit::Success)
    }
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(now, |t| t.and_utc())
}

/// Lets a `&mut dyn Write` be passed where `impl Write` is expected.
struct WriteRef<'a>(&'a mut dyn Write);

impl Write for WriteRef<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
